"""`manage.py resume_deliveries`: what a stopped worker left behind is settled, at most once, however often it runs."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from notifications.models import Delivery
from notifications.tasks import STUCK_ERROR
from tests.mail import FlakyEmailBackend
from tests.tasks import run_queued_tasks

pytestmark = pytest.mark.django_db


def resume() -> str:
    out = StringIO()
    call_command("resume_deliveries", stdout=out)
    return out.getvalue()


def emails() -> list[Delivery]:
    return list(Delivery.objects.filter(channel="email").order_by("pk"))


def waiting_runs() -> int:
    return DBTaskResult.objects.ready().filter(task_path="notifications.tasks.send_message_emails").count()


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


@pytest.fixture
def high_priority(school: Any, sender: Any) -> int:
    """A message to both families that is e-mailed to both; return its id."""
    response = sender.post(
        "/api/notifications/bulk",
        {
            "title": "Snow closure",
            "message": "School is closed today.",
            "priority": "high",
            "recipientIds": [school.guardian.user_id, school.outsider.user_id],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["data"]["messageId"]


@pytest.fixture
def worker_stopped_while_sending(settings: Any, high_priority: int) -> int:
    """Run the send with a worker that is killed in the middle of its first e-mail."""
    settings.MAILERS = {"default": {"BACKEND": "tests.mail.StoppingEmailBackend"}}
    assert run_queued_tasks() == 1
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert {d.status for d in emails()} == {"sending"}
    return high_priority


class TestStuckDeliveries:
    def test_a_delivery_stuck_sending_for_over_fifteen_minutes_is_failed_not_sent_again(
        self, worker_stopped_while_sending, clock
    ):
        clock.shift(timedelta(minutes=15, seconds=1))
        assert resume().startswith("2 stuck deliveries marked failed")
        for delivery in emails():
            assert (delivery.status, delivery.last_error, delivery.attempts) == ("failed", STUCK_ERROR, 1)
        run_queued_tasks()
        assert mail.outbox == []  # at most once: it may have left before the worker stopped
        assert waiting_runs() == 0

    def test_a_delivery_sending_for_less_than_fifteen_minutes_is_left_to_its_worker(
        self, worker_stopped_while_sending, clock
    ):
        clock.shift(timedelta(minutes=14))
        assert resume().startswith("0 stuck deliveries")
        assert {d.status for d in emails()} == {"sending"}

    def test_a_delivery_that_finished_sending_is_left_alone(self, high_priority, clock):
        run_queued_tasks()
        clock.shift(timedelta(hours=1))
        resume()
        assert {(d.status, d.last_error) for d in emails()} == {("sent", "")}


class TestDueDeliveries:
    def test_emails_whose_task_was_lost_get_a_new_run(self, high_priority):
        DBTaskResult.objects.all().delete()  # the queue lost the task (restored from a backup, purged by hand)
        assert "sends queued for 1 messages" in resume()
        assert waiting_runs() == 1
        run_queued_tasks()
        assert sorted(m.to[0] for m in mail.outbox) == ["other@family.test", "parent@family.test"]

    def test_a_retry_waiting_for_its_time_is_not_hurried(self, high_priority, settings, clock):
        FlakyEmailBackend.reset()
        settings.MAILERS = {"default": {"BACKEND": "tests.mail.FlakyEmailBackend", "OPTIONS": {"failures": 2}}}
        run_queued_tasks()
        DBTaskResult.objects.filter(status="READY").delete()  # even without its scheduled retry
        assert "sends queued for 0 messages" in resume()
        assert waiting_runs() == 0
        clock.shift(timedelta(minutes=1))
        assert "sends queued for 1 messages" in resume()
        run_queued_tasks()
        assert len(mail.outbox) == 2
        assert [d.attempts for d in emails()] == [2, 2]

    def test_running_it_again_queues_nothing_more(self, high_priority):
        DBTaskResult.objects.all().delete()
        resume()
        assert "sends queued for 0 messages" in resume()
        assert waiting_runs() == 1

    def test_a_message_whose_run_is_already_waiting_gets_no_second_one(self, high_priority):
        assert waiting_runs() == 1
        assert resume() == "0 stuck deliveries marked failed; sends queued for 0 messages.\n"
        assert waiting_runs() == 1

    def test_nothing_to_do_is_said_plainly(self, db):
        assert resume() == "0 stuck deliveries marked failed; sends queued for 0 messages.\n"
