"""E-mail delivery through the task queue: what is sent, to whom, when, and what happens when the server fails."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from notifications.models import DEFAULT_EMAIL_TYPES, Delivery, Notification, NotificationType, Preference
from notifications.tasks import send_message_emails
from tests.factories import make_guardian, make_user
from tests.mail import FlakyEmailBackend
from tests.tasks import run_queued_tasks

pytestmark = pytest.mark.django_db


def email_deliveries(message_id: int | None = None) -> list[Delivery]:
    deliveries = Delivery.objects.filter(channel=Delivery.Channel.EMAIL).order_by("pk")
    if message_id is not None:
        deliveries = deliveries.filter(notification__message_id=message_id)
    return list(deliveries)


def message_of(notification_id: int) -> int:
    return Notification.objects.get(pk=notification_id).message_id


@pytest.fixture
def bulk(sender: Any, school: Any) -> Callable[..., int]:
    """Send one message to both families (high priority: always e-mailed); return the message id."""

    def send(**fields: Any) -> int:
        body = {
            "title": "Snow closure",
            "message": "School is closed today.",
            "priority": "high",
            "recipientIds": [school.guardian.user_id, school.outsider.user_id],
            **fields,
        }
        response = sender.post("/api/notifications/bulk", body, format="json")
        assert response.status_code == 201, response.json()
        return response.json()["data"]["messageId"]

    return send


@pytest.fixture
def flaky_mail(settings: Any) -> Callable[[int], None]:
    """Point the default mailer at a server whose first `failures` sends fail."""

    def configure(failures: int) -> None:
        FlakyEmailBackend.reset()
        settings.MAILERS = {"default": {"BACKEND": "tests.mail.FlakyEmailBackend", "OPTIONS": {"failures": failures}}}

    return configure


@pytest.fixture
def clock() -> Any:
    """Time, stopped now and moved by hand, so that a test can wait out a backoff."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


class TestTheEmail:
    def test_it_is_sent_only_when_the_worker_runs(self, school, notify):
        notification_id = notify(school.guardian.user_id, priority="high")
        assert mail.outbox == []
        assert run_queued_tasks() == 1
        assert [m.to for m in mail.outbox] == [["parent@family.test"]]
        delivery = email_deliveries(message_of(notification_id))[0]
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 1, "")
        assert delivery.sent_at is not None

    def test_it_has_the_subject_a_text_body_and_an_html_alternative(self, school, notify):
        notify(
            school.guardian.user_id,
            title="Trip to the <museum>",
            message="Bring a packed lunch & a coat.\nWe leave at 9.",
            type="warning",
            studentId=school.child_a.pk,
        )
        run_queued_tasks()
        [email] = mail.outbox
        assert email.subject == "Trip to the <museum>"
        assert email.to == ["parent@family.test"]
        assert email.from_email == settings.DEFAULT_FROM_EMAIL
        assert "Bring a packed lunch & a coat.\nWe leave at 9." in email.body  # plain text is not escaped
        assert "About: Amira Ahmed" in email.body
        assert f"{settings.HARMONY_SITE_URL}/notifications/" in email.body
        [(html, mimetype)] = email.alternatives
        assert mimetype == "text/html"
        assert "Trip to the &lt;museum&gt;" in html and "<museum>" not in html
        assert "Bring a packed lunch &amp; a coat.<br>We leave at 9." in html
        assert settings.HARMONY_SCHOOL_NAME in html

    def test_each_recipient_gets_their_own_email(self, school, bulk):
        bulk()
        run_queued_tasks()
        assert sorted(m.to[0] for m in mail.outbox) == ["other@family.test", "parent@family.test"]
        assert all(len(m.to) == 1 and not m.cc and not m.bcc for m in mail.outbox)  # no one sees the others

    def test_a_message_with_nothing_to_email_queues_no_task(self, school, notify):
        notify(school.guardian.user_id, type="info", priority="normal")
        assert DBTaskResult.objects.count() == 0
        assert email_deliveries() == []


class TestPreferences:
    def test_by_default_warnings_and_alerts_are_emailed_and_the_rest_stays_in_the_app(self, school, notify):
        # The default, on purpose: e-mail for what asks the family to act, the app for the rest; a sender
        # who needs every family to read something now marks it high priority.
        assert set(DEFAULT_EMAIL_TYPES) == {NotificationType.WARNING, NotificationType.ALERT}
        for kind in ("info", "warning", "alert", "success"):
            notify(school.guardian.user_id, type=kind, title=kind)
        run_queued_tasks()
        assert sorted(m.subject for m in mail.outbox) == ["alert", "warning"]
        assert Delivery.objects.filter(channel="in_app", status="sent").count() == 4

    def test_a_chosen_preference_replaces_the_default(self, school, notify):
        Preference.objects.create(user=school.guardian.user, email_types=["info", "success"])
        for kind in ("info", "warning", "alert", "success"):
            notify(school.guardian.user_id, type=kind, title=kind)
        run_queued_tasks()
        assert sorted(m.subject for m in mail.outbox) == ["info", "success"]

    def test_high_priority_is_always_emailed(self, school, notify):
        Preference.objects.create(user=school.guardian.user, email_types=[])
        notify(school.guardian.user_id, type="info", priority="normal", title="quiet")
        notify(school.guardian.user_id, type="info", priority="high", title="urgent")
        run_queued_tasks()
        assert [m.subject for m in mail.outbox] == ["urgent"]

    def test_someone_without_an_address_gets_the_notification_in_the_app_only(self, school, notify):
        guardian = make_guardian(school.child_a, user=make_user("no-address"))
        guardian.user.email = ""
        guardian.user.save()
        notification_id = notify(guardian.user_id, priority="high")
        assert email_deliveries(message_of(notification_id)) == []
        assert Notification.objects.get(pk=notification_id).deliveries.get().channel == "in_app"


class TestRetries:
    def test_a_failed_send_is_tried_again_after_a_growing_delay_and_sent_once(self, school, bulk, flaky_mail, clock):
        flaky_mail(failures=3)
        message_id = bulk()
        run_queued_tasks()  # both sends fail
        first, second = email_deliveries(message_id)
        for delivery in (first, second):
            assert (delivery.status, delivery.attempts) == ("queued", 1)
            assert delivery.last_error.startswith("SMTPServerDisconnected: Connection unexpectedly closed")
            assert delivery.next_attempt_at == timezone.now() + timedelta(minutes=1)
        assert run_queued_tasks() == 0  # the retry waits for its time

        clock.shift(timedelta(minutes=1))
        assert run_queued_tasks() == 1  # the first fails again, the second goes
        first, second = email_deliveries(message_id)
        assert (first.status, first.attempts) == ("queued", 2)
        assert first.next_attempt_at == timezone.now() + timedelta(minutes=2)
        assert (second.status, second.attempts) == ("sent", 2)
        assert second.last_error  # why it took two attempts is kept

        clock.shift(timedelta(minutes=1))
        assert run_queued_tasks() == 0
        clock.shift(timedelta(minutes=1))
        run_queued_tasks()
        first, second = email_deliveries(message_id)
        assert (first.status, first.attempts) == ("sent", 3)
        assert sorted(m.to[0] for m in mail.outbox) == ["other@family.test", "parent@family.test"]

        clock.shift(timedelta(hours=1))
        assert run_queued_tasks() == 0
        assert len(mail.outbox) == 2  # exactly one e-mail per delivery
        assert FlakyEmailBackend.attempts == 5

    def test_after_the_last_attempt_the_delivery_is_failed_and_kept(self, school, bulk, flaky_mail, clock, settings):
        settings.NOTIFICATION_EMAIL_MAX_ATTEMPTS = 3
        flaky_mail(failures=1000)
        message_id = bulk()
        for wait in (0, 1, 2):
            clock.shift(timedelta(minutes=wait))
            assert run_queued_tasks() == 1
        for delivery in email_deliveries(message_id):
            assert (delivery.status, delivery.attempts) == ("failed", 3)
            assert delivery.next_attempt_at is None
            assert "SMTPServerDisconnected" in delivery.last_error
        clock.shift(timedelta(days=1))
        assert run_queued_tasks() == 0
        assert not DBTaskResult.objects.ready().exists()
        assert mail.outbox == []
        assert FlakyEmailBackend.attempts == 6

    def test_the_sender_sees_a_failed_email_in_the_notification(self, school, notify, sender, flaky_mail, settings):
        settings.NOTIFICATION_EMAIL_MAX_ATTEMPTS = 1
        flaky_mail(failures=1)
        notification_id = notify(school.guardian.user_id, priority="high")
        run_queued_tasks()
        deliveries = sender.get(f"/api/notifications/{notification_id}").json()["data"]["deliveries"]
        assert {(d["channel"], d["status"], d["attempts"]) for d in deliveries} == {
            ("email", "failed", 1),
            ("in_app", "sent", 0),
        }


class TestRunningTwice:
    def test_running_the_task_again_for_a_sent_message_sends_nothing(self, school, bulk):
        message_id = bulk()
        run_queued_tasks()
        assert len(mail.outbox) == 2
        send_message_emails.enqueue(message_id)
        assert run_queued_tasks() == 1
        assert len(mail.outbox) == 2
        assert [d.attempts for d in email_deliveries(message_id)] == [1, 1]

    def test_two_runs_queued_for_the_same_message_send_each_email_once(self, school, bulk):
        message_id = bulk()
        send_message_emails.enqueue(message_id)
        assert run_queued_tasks() == 2
        assert sorted(m.to[0] for m in mail.outbox) == ["other@family.test", "parent@family.test"]

    def test_a_run_for_another_message_leaves_this_ones_emails_alone(self, school, bulk):
        first = bulk()
        DBTaskResult.objects.all().delete()
        bulk(title="Second")
        run_queued_tasks()
        assert [m.subject for m in mail.outbox] == ["Second", "Second"]
        assert {d.status for d in email_deliveries(first)} == {"queued"}
