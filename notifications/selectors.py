"""Reads of notifications: inboxes, what an application sent, and per-message figures for the sent list."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, Prefetch, Q, QuerySet

from harmony.models import Application
from notifications.models import DEFAULT_EMAIL_TYPES, Delivery, Message, Notification, Preference


def notifications_for(
    actor: Any, *, read: bool | None = None, type: str = "", priority: str = ""
) -> QuerySet[Notification]:
    """A user's own notifications; for an application, the ones it sent."""
    if isinstance(actor, Application):
        notifications = Notification.objects.filter(message__sender_app=actor)
    elif actor is None:
        return Notification.objects.none()
    else:
        notifications = Notification.objects.filter(recipient=actor)
    if read is not None:
        notifications = notifications.filter(read_at__isnull=not read)
    if type:
        notifications = notifications.filter(message__type=type)
    if priority:
        notifications = notifications.filter(message__priority=priority)
    return (
        notifications.select_related("message")
        .prefetch_related(Prefetch("deliveries", queryset=Delivery.objects.order_by("channel")))
        .order_by("-created_at", "-id")
    )


def notification_with_deliveries(pk: int) -> Notification:
    return Notification.objects.select_related("message").prefetch_related("deliveries").get(pk=pk)


def inbox(user: Any) -> QuerySet[Notification]:
    """The inbox: unread first, newest first within each."""
    return (
        Notification.objects.filter(recipient=user)
        .select_related("message", "message__student")
        .order_by(F("read_at").asc(nulls_first=True), "-created_at", "-id")
    )


def unread_count(user: Any) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def sent_messages(user: Any) -> QuerySet[Message]:
    """Messages for the staff sent list, each with how many were delivered, failed and read, in one query."""
    messages = (
        Message.objects.all() if getattr(user, "sees_whole_school", False) else Message.objects.filter(sender=user)
    )
    email = Q(notifications__deliveries__channel=Delivery.Channel.EMAIL)
    # An aggregate query ignores Meta.ordering, so the newest-first order is stated here.
    return (
        messages.annotate(
            read_count=Count("notifications", filter=Q(notifications__read_at__isnull=False), distinct=True),
            emails_sent=Count("notifications__deliveries", filter=email & Q(notifications__deliveries__status="sent")),
            emails_failed=Count(
                "notifications__deliveries", filter=email & Q(notifications__deliveries__status="failed")
            ),
            emails_pending=Count(
                "notifications__deliveries",
                filter=email & Q(notifications__deliveries__status__in=["queued", "sending"]),
            ),
        )
        .select_related("sender", "sender_app", "class_group")
        .order_by("-created_at", "-id")
    )


def message_recipients(message: Message) -> QuerySet[Notification]:
    """The message's notifications by recipient name, each with its recipient and its e-mail delivery, if any."""
    return (
        Notification.objects.filter(message=message)
        .select_related("recipient")
        .prefetch_related(
            Prefetch(
                "deliveries",
                queryset=Delivery.objects.filter(channel=Delivery.Channel.EMAIL),
                to_attr="email_deliveries",
            )
        )
        .order_by("recipient__last_name", "recipient__first_name", "recipient_id")
    )


def email_types_for(user: Any) -> list[str]:
    """The notification types `user` gets by e-mail: their choice, or the defaults until they make one."""
    chosen = Preference.objects.filter(user=user).values_list("email_types", flat=True).first()
    return [str(kind) for kind in (DEFAULT_EMAIL_TYPES if chosen is None else chosen)]
