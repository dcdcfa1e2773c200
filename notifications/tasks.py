"""E-mail delivery, run by the task worker (`manage.py db_worker`), never inside a web request.

Each delivery is claimed (queued → sending) before its e-mail goes out and marked sent right after, so a
task that runs twice, or two workers on the same message, never send the same e-mail twice. A failed send is
tried again with a growing delay, up to NOTIFICATION_EMAIL_MAX_ATTEMPTS, and then marked failed with its error.

A worker that stops between claiming and marking (killed, out of memory, a lost database connection) leaves
deliveries in "sending": whether their e-mail left is unknown, so `deliveries_resume` (the `resume_deliveries`
command, run from cron) marks them failed rather than sending them again, and queues the sends a lost task
left waiting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import connection, transaction
from django.db.models import F, Q
from django.tasks import task
from django.template.loader import render_to_string
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from notifications.models import Delivery

logger = logging.getLogger("harmony.notifications")
BATCH = 200
# A claimed delivery still "sending" after this long was left by a worker that stopped.
STUCK_AFTER = timedelta(minutes=15)
STUCK_ERROR = "outcome unknown: the worker stopped while sending"


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
            # Lock only the deliveries: the joined notifications stay free for readers marking them read.
            due = due.select_for_update(skip_locked=True, of=("self",))
        ids = list(due.order_by("pk").values_list("pk", flat=True)[:BATCH])
        Delivery.objects.filter(pk__in=ids).update(status=Delivery.Status.SENDING, claimed_at=now)
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
    # last_error stays: a delivery sent at its third attempt still tells why the first two failed.
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.SENT, attempts=delivery.attempts + 1, sent_at=timezone.now()
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


@dataclass(frozen=True)
class Resumed:
    failed: int  # deliveries left "sending" by a stopped worker, now marked failed
    queued: list[int]  # messages whose due e-mails got a new run of send_message_emails


def deliveries_resume() -> Resumed:
    """Settle what stopped workers left behind; safe to run as often as you like.

    A delivery stuck in "sending" for longer than STUCK_AFTER is marked failed, never sent again: its e-mail
    may already have left, and one e-mail missing is better than two arriving (at most once). A message with
    e-mails due now and no run of send_message_emails waiting for it gets one; a message that has one waiting
    gets no other, so running this twice queues nothing more.
    """
    now = timezone.now()
    failed = Delivery.objects.filter(status=Delivery.Status.SENDING).filter(
        Q(claimed_at__lt=now - STUCK_AFTER) | Q(claimed_at__isnull=True)
    )
    marked = failed.update(
        status=Delivery.Status.FAILED, attempts=F("attempts") + 1, last_error=STUCK_ERROR, next_attempt_at=None
    )
    if marked:
        logger.warning("deliveries left sending by a stopped worker marked failed", extra={"deliveries": marked})
    due = set(
        Delivery.objects.filter(channel=Delivery.Channel.EMAIL, status=Delivery.Status.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .values_list("notification__message_id", flat=True)
        .distinct()
    )
    queued = sorted(due - _messages_with_a_waiting_run())
    for message_id in queued:
        send_message_emails.enqueue(message_id)
    return Resumed(failed=marked, queued=queued)


def _messages_with_a_waiting_run() -> set[int]:
    """Messages that have a run of send_message_emails in the database queue, ready to start."""
    if not isinstance(send_message_emails.get_backend(), DatabaseBackend):
        return set()  # other backends run tasks at once or keep no queue we can read
    waiting = DBTaskResult.objects.ready().filter(task_path=send_message_emails.module_path)
    return {args["args"][0] for args in waiting.values_list("args_kwargs", flat=True) if args.get("args")}
