"""Sending notifications: validate every recipient, write everything in a few bulk queries, e-mail later."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import date as Date
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from harmony.models import Application
from harmony.roles import Role
from harmony.tasks import enqueue_with_transaction
from notifications.models import (
    DEFAULT_EMAIL_TYPES,
    AbsenceAlert,
    AbsenceAlertSettings,
    Delivery,
    Message,
    Notification,
    Preference,
    Priority,
)
from students.models import ClassGroup, Guardian, Guardianship, Student

if TYPE_CHECKING:
    from harmony.models import User

    Actor = User | Application


@dataclass(frozen=True)
class Audience:
    """Who a message goes to: chosen users, or the guardians of a class group, a year group or the school."""

    kind: str = Message.Audience.INDIVIDUALS
    user_ids: tuple[int, ...] = ()
    class_group: ClassGroup | None = None
    year_group: int | None = None


def can_send(actor: Actor) -> bool:
    return isinstance(actor, Application) or actor.is_school_staff


def check_may_send(actor: Actor | None) -> None:
    if actor is None or not can_send(actor):
        raise PermissionDenied("Only school staff and partner systems send notifications.")


def reachable_users(actor: Actor) -> QuerySet[Any]:
    """Return the people `actor` may message: staff, and the guardians of the students `actor` may see."""
    User = get_user_model()
    guardians_of_visible = Guardianship.objects.filter(student__in=Student.objects.visible_to(actor)).values(
        "guardian__user_id"
    )
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(groups__name__in=["administrator", "office", "teacher", "privacy_officer"])
            | Q(pk__in=guardians_of_visible)
        )
        .distinct()
    )


def audience_users(actor: Actor, audience: Audience) -> QuerySet[Any]:
    """Return the recipients of `audience`; for chosen users, fail if any is unknown or out of reach."""
    reachable = reachable_users(actor)
    if audience.kind == Message.Audience.INDIVIDUALS:
        wanted = set(audience.user_ids)
        found = set(reachable.filter(pk__in=wanted).values_list("pk", flat=True))
        missing = sorted(wanted - found)
        if missing:
            raise ValidationError(
                {"recipientIds": f"Unknown recipients, or ones you may not message: {', '.join(map(str, missing))}."}
            )
        return get_user_model().objects.filter(pk__in=found)
    students = Student.objects.live().filter(status=Student.Status.ACTIVE)
    if audience.kind == Message.Audience.CLASS_GROUP:
        students = students.filter(class_group=audience.class_group)
    elif audience.kind == Message.Audience.YEAR_GROUP:
        students = students.filter(class_group__year_group=audience.year_group)
    # An audience is all or nothing: a teacher asking for a year group they teach only part of is refused,
    # rather than reaching the part they teach while believing they reached the year.
    if students.exclude(pk__in=Student.objects.visible_to(actor).values("pk")).exists():
        raise ValidationError({"audience": "It includes families of classes you do not teach; you may not message it."})
    guardian_users = Guardian.objects.filter(guardianships__student__in=students).values("user_id")
    return get_user_model().objects.filter(is_active=True, pk__in=guardian_users)


def _email_preferences(user_ids: list[int]) -> dict[int, list[str]]:
    """Return the e-mail types each of `user_ids` chose; someone who never chose gets the defaults."""
    return dict(Preference.objects.filter(user_id__in=user_ids).values_list("user_id", "email_types"))


def _wants_email(preferences: dict[int, list[str]], user_id: int, *, type: str, priority: str) -> bool:
    if priority == Priority.HIGH:
        return True
    return type in preferences.get(user_id, DEFAULT_EMAIL_TYPES)


@dataclass(frozen=True)
class AudiencePreview:
    """Who a message would reach, counted before it is sent."""

    recipients: int
    guardians: int
    by_email: int  # of all recipients: those with an address whose preferences (or high priority) ask for e-mail
    guardians_by_email: int
    without_address: int  # recipients with no e-mail address: they see it in Harmony only


def message_preview(*, actor: Actor, audience: Audience, type: str, priority: str) -> AudiencePreview:
    """Count the recipients `message_send` would reach with this audience, type and priority, and who by e-mail.

    The same reach and e-mail rules as sending, in a few queries whatever the audience's size. Raises what
    `message_send` raises for an unknown or unreachable chosen recipient.
    """
    people = list(audience_users(actor, audience).values_list("pk", "email", "guardian__id"))
    preferences = _email_preferences([pk for pk, _email, _guardian in people])
    by_email = {pk for pk, email, _g in people if email and _wants_email(preferences, pk, type=type, priority=priority)}
    guardians = {pk for pk, _email, guardian in people if guardian is not None}
    return AudiencePreview(
        recipients=len(people),
        guardians=len(guardians),
        by_email=len(by_email),
        guardians_by_email=len(by_email & guardians),
        without_address=sum(1 for _pk, email, _g in people if not email),
    )


@transaction.atomic
def message_send(
    *,
    actor: Actor | None,
    audience: Audience,
    title: str,
    body: str,
    type: str = "info",
    priority: str = "normal",
    student: Student | None = None,
) -> Message:
    """Create the message, one notification per recipient and their deliveries, then queue the e-mails.

    Every recipient is checked first: one unknown or unreachable recipient and nothing is created. The
    number of queries does not grow with the number of recipients, and no e-mail is sent here: a task
    sends them after the transaction commits.
    """
    if actor is not None:
        check_may_send(actor)
    recipients = list(
        (
            audience_users(actor, audience)
            if actor is not None
            else get_user_model().objects.filter(pk__in=audience.user_ids, is_active=True)
        ).values_list("pk", "email")
    )
    if not recipients:
        raise ValidationError({"recipientIds": "This message would reach nobody."})
    if student is not None:
        _check_about_student(student, [user_id for user_id, _email in recipients])
    message = Message.objects.create(
        title=title,
        body=body,
        type=type,
        priority=priority,
        audience=audience.kind,
        class_group=audience.class_group,
        year_group=audience.year_group,
        student=student,
        sender=None if isinstance(actor, Application) else actor,
        sender_app=actor if isinstance(actor, Application) else None,
        recipient_count=len(recipients),
    )
    notifications = Notification.objects.bulk_create(
        [Notification(message=message, recipient_id=user_id) for user_id, _email in recipients]
    )
    preferences = _email_preferences([u for u, _ in recipients])
    emails = {user_id: email for user_id, email in recipients}
    now = timezone.now()
    deliveries = []
    for notification in notifications:
        deliveries.append(
            Delivery(
                notification=notification, channel=Delivery.Channel.IN_APP, status=Delivery.Status.SENT, sent_at=now
            )
        )
        if emails[notification.recipient_id] and _wants_email(
            preferences, notification.recipient_id, type=message.type, priority=message.priority
        ):
            deliveries.append(Delivery(notification=notification, channel=Delivery.Channel.EMAIL))
    Delivery.objects.bulk_create(deliveries)
    if any(d.channel == Delivery.Channel.EMAIL for d in deliveries):
        from notifications.tasks import send_message_emails

        enqueue_with_transaction(send_message_emails, message.pk)
    return message


def _check_about_student(student: Student, user_ids: list[int]) -> None:
    """A message about a child names them: it may go to that child's guardians and to staff, nobody else."""
    staff = reachable_staff_ids(user_ids)
    guardians = set(
        Guardianship.objects.filter(student=student, guardian__user_id__in=user_ids).values_list(
            "guardian__user_id", flat=True
        )
    )
    others = sorted(set(user_ids) - staff - guardians)
    if others:
        raise ValidationError(
            {"studentId": "A message about a child goes only to that child's guardians and to staff."}
        )


def reachable_staff_ids(user_ids: list[int]) -> set[int]:
    return set(
        get_user_model()
        .objects.filter(pk__in=user_ids, groups__name__in=[role.value for role in Role])
        .values_list("pk", flat=True)
    )


def notification_mark_read(*, user: User, notification: Notification) -> Notification:
    if notification.recipient_id != user.pk:
        raise Notification.DoesNotExist
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


def preference_update(*, user: User, email_types: list[str]) -> Preference:
    preference, _ = Preference.objects.update_or_create(user=user, defaults={"email_types": sorted(set(email_types))})
    return preference


def absence_alert_send(*, student_id: int, day: Date) -> Message | None:
    """Alert the child's guardians with parental responsibility, once per child per day.

    Called whenever a mark of unauthorised absence is recorded; later sessions the same day, or the same
    mark saved twice, find the day's alert already there and send nothing.
    """
    alert_settings = AbsenceAlertSettings.current()
    if not alert_settings.enabled or day != timezone.localdate():
        return None  # a mark entered for a past day (a correction, a sync) is no news to send today
    student = Student.objects.live().select_related("class_group").filter(pk=student_id).first()
    if student is None:
        return None
    with transaction.atomic():
        alert, created = AbsenceAlert.objects.get_or_create(student=student, date=day)
        if not created:
            return None
        guardian_users = list(
            Guardianship.objects.filter(
                student=student, parental_responsibility=True, guardian__user__is_active=True
            ).values_list("guardian__user_id", flat=True)
        )
        if not guardian_users:
            return None
        values = {
            "first_name": student.first_name,
            "last_name": student.last_name,
            "date": day.strftime("%-d %B %Y"),
            "class_group": student.class_group.name if student.class_group else "",
        }
        message = message_send(
            actor=None,
            audience=Audience(user_ids=tuple(guardian_users)),
            title=_fill(alert_settings.title, values),
            body=_fill(alert_settings.body, values),
            type="alert",
            priority="high",
            student=student,
        )
        message.audience = Message.Audience.ABSENCE_ALERT
        message.save(update_fields=["audience"])
        alert.message = message
        alert.save(update_fields=["message"])
        return message


ALERT_PLACEHOLDERS = ("first_name", "last_name", "date", "class_group")


def alert_template_errors(template: str) -> list[str]:
    """Return what is wrong with an absence alert title or body: unknown placeholders or stray braces."""
    try:
        fields = [field for _text, field, _spec, _conversion in string.Formatter().parse(template) if field is not None]
    except ValueError:
        return ["A { or } has no partner. Write placeholders as {first_name}; write a brace itself as {{ or }}."]
    unknown = sorted({field for field in fields if field not in ALERT_PLACEHOLDERS})
    if unknown:
        known = ", ".join("{" + name + "}" for name in ALERT_PLACEHOLDERS)
        return [f"Unknown placeholder {', '.join('{' + f + '}' for f in unknown)}. Use only {known}."]
    return []


def absence_alert_settings_update(*, enabled: bool, title: str, body: str) -> AbsenceAlertSettings:
    """Switch absence alerts on or off and change their text, refusing a text that alerts could not fill."""
    errors = {
        name: problems for name, text in (("title", title), ("body", body)) if (problems := alert_template_errors(text))
    }
    if errors:
        raise ValidationError(errors)
    alert_settings = AbsenceAlertSettings.current()
    alert_settings.enabled, alert_settings.title, alert_settings.body = enabled, title, body
    alert_settings.save(update_fields=["enabled", "title", "body"])
    return alert_settings


ALERT_EXAMPLE = {"first_name": "Sam", "last_name": "Example", "date": "3 March 2026", "class_group": "7A"}


def alert_example(template: str) -> str:
    """Fill an absence alert text with a made-up child, to show how guardians will read it."""
    if alert_template_errors(template):
        return template  # a text saved before it was checked: show it as it is rather than fail the page
    return _fill(template, ALERT_EXAMPLE)


def _fill(template: str, values: dict[str, str]) -> str:
    """Fill {placeholders}; an unknown placeholder is left as it is rather than failing the alert."""

    class Keep(dict[str, str]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    return template.format_map(Keep(values))
