"""E-mail delivery, run by the task worker (`manage.py db_worker`), never inside a web request.

Each delivery is claimed (queued → sending) before its e-mail goes out and marked sent right after, so a
task that runs twice, or two workers on the same message, never send the same e-mail twice. A failed send is
tried again with a growing delay, up to NOTIFICATION_EMAIL_MAX_ATTEMPTS, and then marked failed with its error.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import connection, transaction
from django.db.models import Q
from django.tasks import task
from django.template.loader import render_to_string
from django.utils import timezone

from notifications.models import Delivery

logger = logging.getLogger("harmony.notifications")
BATCH = 200


def backoff(attempt: int) -> timedelta:
    """Delay before the next attempt: 1, 2, 4, 8 … minutes."""
    return timedelta(minutes=2 ** max(0, attempt - 1))


def _claim(message_id: int) -> list[Delivery]:
    """Move a batch of due e-mail deliveries of the message from queued to sending, and return them."""
    now = timezone.now()
    with transaction.atomic():
        due = Delivery.objects.filter(
            notification__message_id=message_id,
            channel=Delivery.Channel.EMAIL,
            status=Delivery.Status.QUEUED,
        ).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.order_by("pk").values_list("pk", flat=True)[:BATCH])
        Delivery.objects.filter(pk__in=ids).update(status=Delivery.Status.SENDING)
    return list(Delivery.objects.filter(pk__in=ids).select_related("notification__message", "notification__recipient"))


def _email_for(delivery: Delivery) -> EmailMultiAlternatives:
    notification = delivery.notification
    context = {
        "message": notification.message,
        "recipient": notification.recipient,
        "school_name": settings.HARMONY_SCHOOL_NAME,
        "site_url": settings.HARMONY_SITE_URL,
    }
    email = EmailMultiAlternatives(
        subject=notification.message.title,
        body=render_to_string("notifications/email.txt", context),
        to=[notification.recipient.email],
    )
    email.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    return email


def _send(delivery: Delivery, mailer: Any) -> None:
    try:
        mailer.send_messages([_email_for(delivery)])
    except Exception as error:  # any transport error: count it, and try again later or give up
        attempts = delivery.attempts + 1
        give_up = attempts >= settings.NOTIFICATION_EMAIL_MAX_ATTEMPTS
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.FAILED if give_up else Delivery.Status.QUEUED,
            attempts=attempts,
            last_error=f"{type(error).__name__}: {error}"[:500],
            next_attempt_at=None if give_up else timezone.now() + backoff(attempts),
        )
        logger.warning(
            "e-mail delivery failed", extra={"delivery": delivery.pk, "attempts": attempts, "givenUp": give_up}
        )
        return
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.SENT, attempts=delivery.attempts + 1, sent_at=timezone.now(), last_error=""
    )


@task(priority=10)
def send_message_emails(message_id: int) -> dict[str, int]:
    """Send the message's queued e-mails; schedule another run for those to try again."""
    mailer = mailers.default
    try:
        mailer.open()  # one connection for the whole message, not one per e-mail
    except Exception:  # the server is down: each send below tries again, and records its own failure
        logger.warning("could not open the mail connection", exc_info=True)
    sent = 0
    try:
        while batch := _claim(message_id):
            for delivery in batch:
                _send(delivery, mailer)
            sent += len(batch)
    finally:
        mailer.close()
    _schedule_retry(message_id)
    return {"attempted": sent}


def _schedule_retry(message_id: int) -> None:
    retry = (
        Delivery.objects.filter(notification__message_id=message_id, status=Delivery.Status.QUEUED)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if retry is None:
        return
    backend = send_message_emails.get_backend()
    if backend.supports_defer:
        send_message_emails.using(run_after=retry).enqueue(message_id)
    else:
        # A backend without deferral (tests, immediate mode) tries again at once; attempts still bound it.
        Delivery.objects.filter(notification__message_id=message_id, status=Delivery.Status.QUEUED).update(
            next_attempt_at=None
        )
        send_message_emails.enqueue(message_id)
