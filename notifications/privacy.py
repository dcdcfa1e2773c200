"""What the notifications app holds about people, and how it exports and erases it.

Until the privacy app discovers providers, this module stands on its own: `DECLARATIONS` names each model and
field holding personal data (plain dicts, keyed as the privacy registry's declarations will be), and
`export(subject)` / `erase(subject)` take a user (a guardian or a member of staff), a student, or a request's
subject carrying either as `.user` or `.student`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q

from notifications.models import AbsenceAlert, Delivery, Message, Notification, Preference
from students.models import Student

ERASED_TEXT = "[removed: about an erased student]"

DECLARATIONS: list[dict[str, Any]] = [
    {
        "model": "notifications.Message",
        "fields": ("title", "body", "student", "sender"),
        "category": "communications",
        "purpose": "Telling families and staff what they need to know, and keeping who sent what",
        "retention": "Two years after it was sent",
        "lawful_basis": "public_task",
    },
    {
        "model": "notifications.Notification",
        "fields": ("recipient", "read_at"),
        "category": "communications",
        "purpose": "Each person's inbox: what reached them and whether they read it",
        "retention": "As its message: two years after it was sent",
        "lawful_basis": "public_task",
    },
    {
        "model": "notifications.Delivery",
        # A mail server's refusal often quotes the address it refused.
        "fields": ("last_error",),
        "category": "communications",
        "purpose": "Knowing whether an e-mail reached its recipient, and why not",
        "retention": "As its notification",
        "lawful_basis": "public_task",
    },
    {
        "model": "notifications.Preference",
        "fields": ("user", "email_types"),
        "category": "account",
        "purpose": "E-mailing each person only the kinds of notification they chose",
        "retention": "While the account exists",
        "lawful_basis": "public_task",
    },
    {
        "model": "notifications.AbsenceAlert",
        "fields": ("student", "date"),
        "category": "attendance",
        "purpose": "Alerting a family at most once a day when their child is absent without a reason",
        "retention": "As the attendance register it follows",
        "lawful_basis": "public_task",
    },
]


def _person(subject: Any) -> tuple[Student | None, Any]:
    """Return (student, user): exactly one of them is set."""
    if isinstance(subject, Student):
        return subject, None
    student = getattr(subject, "student", None)
    if isinstance(student, Student):
        return student, None
    return None, getattr(subject, "user", None) or subject


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _sent_by(message: Message) -> str:
    if message.sender_id is not None:
        return "school staff"
    if message.sender_app_id is not None:
        return "a partner system of the school"
    return "Harmony"


def export(subject: Any) -> dict[str, Any]:
    """Return, as JSON-ready data, the notifications a user received and the messages they sent; for a
    student, the messages about them and the days they raised an absence alert."""
    student, user = _person(subject)
    if student is not None:
        return {
            "messagesAbout": [
                {
                    "id": message.pk,
                    "title": message.title,
                    "message": message.body,
                    "type": message.type,
                    "priority": message.priority,
                    "sentBy": _sent_by(message),
                    "recipientCount": message.recipient_count,
                    "createdAt": _when(message.created_at),
                }
                for message in Message.objects.filter(student=student).order_by("created_at", "pk")
            ],
            "absenceAlerts": [
                _when(day)
                for day in AbsenceAlert.objects.filter(student=student).order_by("date").values_list("date", flat=True)
            ],
        }
    received = (
        Notification.objects.filter(recipient=user)
        .select_related("message")
        .prefetch_related("deliveries")
        .order_by("created_at", "pk")
    )
    preference = Preference.objects.filter(user=user).first()
    return {
        "received": [
            {
                "id": notification.pk,
                "title": notification.message.title,
                "message": notification.message.body,
                "type": notification.message.type,
                "priority": notification.message.priority,
                "studentId": notification.message.student_id,
                "sentBy": _sent_by(notification.message),
                "createdAt": _when(notification.created_at),
                "readAt": _when(notification.read_at),
                "deliveries": [
                    {
                        "channel": delivery.channel,
                        "status": delivery.status,
                        "attempts": delivery.attempts,
                        "sentAt": _when(delivery.sent_at),
                        "lastError": delivery.last_error,
                    }
                    for delivery in sorted(notification.deliveries.all(), key=lambda d: d.channel)
                ],
            }
            for notification in received
        ],
        "sent": [
            {
                "id": message.pk,
                "title": message.title,
                "message": message.body,
                "type": message.type,
                "priority": message.priority,
                "audience": message.audience,
                "studentId": message.student_id,
                "recipientCount": message.recipient_count,
                "createdAt": _when(message.created_at),
            }
            for message in Message.objects.filter(sender=user).order_by("created_at", "pk")
        ],
        "preferences": {"emailTypes": list(preference.email_types)} if preference else None,
    }


@transaction.atomic
def erase(subject: Any) -> dict[str, Any]:
    """Erase what the app holds about `subject`; return what was erased and what was kept, and why.

    A user: their notifications with every delivery and their preferences go, and so does a message left
    with no recipient at all (it was written to them alone); messages they sent stay in their recipients'
    inboxes without them as the sender. A student: each message about them, linked to them or naming them in
    full, keeps neither their name nor its text, and their absence alerts go.
    """
    student, user = _person(subject)
    if student is not None:
        return _erase_student(student)
    received = list(Notification.objects.filter(recipient=user).values_list("message_id", flat=True))
    _, deleted = Notification.objects.filter(recipient=user).delete()  # their deliveries go with them
    notifications = deleted.get(Notification._meta.label, 0)
    deliveries = deleted.get(Delivery._meta.label, 0)
    Preference.objects.filter(user=user).delete()
    orphans = Message.objects.filter(pk__in=received).exclude(
        pk__in=Notification.objects.filter(message_id__in=received).values("message_id")
    )
    orphans.delete()
    unsigned = Message.objects.filter(sender=user).update(sender=None)
    return {
        "erased": [
            f"{notifications} notifications received, with {deliveries} deliveries",
            "notification preferences",
            "messages written to them alone",
        ],
        "kept": [
            {
                "what": f"{unsigned} messages they sent, no longer linked to them",
                "why": "they are in the inboxes of the people who received them",
            }
        ]
        if unsigned
        else [],
    }


def _erase_student(student: Student) -> dict[str, Any]:
    about = Q(student=student)
    full_name = f"{student.first_name} {student.last_name}".strip()
    if student.first_name and student.last_name:
        about |= Q(title__icontains=full_name) | Q(body__icontains=full_name)
    scrubbed = Message.objects.filter(about).update(title=ERASED_TEXT, body=ERASED_TEXT, student=None)
    alerts, _ = AbsenceAlert.objects.filter(student=student).delete()
    return {
        "erased": [f"the text of {scrubbed} messages about them", f"{alerts} absence alerts"],
        "kept": [
            {
                "what": "that those messages reached their recipients, with a neutral text",
                "why": "each recipient's inbox keeps a record of what the school sent them",
            }
        ]
        if scrubbed
        else [],
    }
