"""A bulk notification to 2,000 guardians through the API, and the task worker that e-mails them.

What is measured, on a database the benchmark creates for itself and drops afterwards (PostgreSQL beside the
one DATABASE_URL names, when it is set; otherwise a temporary SQLite file):

- baseline: the rows a bulk send leaves (one message, a notification per guardian, an in-app and an e-mail
  delivery each) written with one bulk insert per table, as fast as the database takes them;
- request: `POST /api/notifications/bulk` with the guide's payload and 2,000 `recipientIds`, by a partner
  system with a real OAuth2 token, through the whole Django stack in-process (test client, no network);
  its query count must not depend on the number of recipients;
- worker: the task worker (`db_worker --batch`, in-process) draining the queue: rendering and sending the
  2,000 e-mails (to the local-memory mailer) and recording each delivery.

Each is the median of a few rounds; the request and the worker are reported as ratios to the baseline. The
goal: the request within 5 times the baseline.

    python -m bench.notifications_fanout
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/harmony_notifapi python -m bench.notifications_fanout
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

RECIPIENTS = 2000
ROUNDS = 3
GOAL = 5.0


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """Create an empty database for this run and drop it afterwards; yield its URL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        folder = tempfile.mkdtemp(prefix="harmony-bench-")
        try:
            yield f"sqlite:///{folder}/bench.sqlite3"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    import psycopg

    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit(f"This benchmark runs on SQLite or PostgreSQL, not {parts.scheme}.")
    name = f"{parts.path.lstrip('/') or 'harmony'}_bench_{os.getpid()}"
    server = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "harmony.settings")
    import django
    from django.conf import settings

    # Static files are not collected for a benchmark, and nothing here serves them.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    settings.DEBUG = False  # no query log: it would cost time in every measurement
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    settings.API_RATE_LIMIT = "1000/m"
    for name in ("harmony", "django.tasks", "django_tasks_db", "django.request"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_school(count: int) -> list[int]:
    """Create `count` guardians, each with a child in one of the school's classes; return their user ids."""
    from django.db import transaction

    from harmony.models import User
    from students.models import ClassGroup, Guardian, Guardianship, Student

    with transaction.atomic():
        groups = ClassGroup.objects.bulk_create(
            [ClassGroup(name=f"{7 + n // 10}{chr(65 + n % 10)}", year_group=7 + n // 10) for n in range(50)]
        )
        users = User.objects.bulk_create(
            [
                User(username=f"parent{n}@family.test", email=f"parent{n}@family.test", password="!")
                for n in range(count)
            ]
        )
        students = Student.objects.bulk_create(
            [
                Student(roll_number=f"B{n:05d}", first_name=f"Child{n}", last_name="Bench", class_group=groups[n % 50])
                for n in range(count)
            ]
        )
        guardians = Guardian.objects.bulk_create([Guardian(user=user) for user in users])
        Guardianship.objects.bulk_create(
            [
                Guardianship(guardian=guardian, student=student, relationship="mother")
                for guardian, student in zip(guardians, students, strict=True)
            ]
        )
    return [user.pk for user in users]


def partner_client() -> Any:
    from rest_framework.test import APIClient

    from harmony.management.commands.create_partner_app import register_partner_app

    credentials = register_partner_app(name="Benchmark", scopes=["notifications:write"], grant="client-credentials")
    response = APIClient().post(
        "/api/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
        },
    )
    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    return client


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def baseline(user_ids: list[int]) -> None:
    """Write what a bulk send writes, with nothing else: one insert per table."""
    from django.db import transaction
    from django.utils import timezone

    from notifications.models import Delivery, Message, Notification

    with transaction.atomic():
        message = Message.objects.create(
            title="Holiday Notice", body="School closed for holiday", priority="high", recipient_count=len(user_ids)
        )
        notifications = Notification.objects.bulk_create(
            [Notification(message=message, recipient_id=user_id) for user_id in user_ids]
        )
        now = timezone.now()
        Delivery.objects.bulk_create(
            [
                delivery
                for notification in notifications
                for delivery in (
                    Delivery(notification=notification, channel="in_app", status="sent", sent_at=now),
                    Delivery(notification=notification, channel="email"),
                )
            ]
        )


def bulk_request(client: Any, user_ids: list[int]) -> tuple[int, int]:
    """Send the guide's bulk payload (high priority: every guardian is e-mailed); return (count, queries)."""
    from django.db import connection

    queries = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    payload = {
        "title": "Holiday Notice",
        "message": "School closed for holiday",
        "priority": "high",
        "recipientIds": user_ids,
    }
    with connection.execute_wrapper(count):
        response = client.post("/api/notifications/bulk", payload, format="json")
    assert response.status_code == 201, response.content[:500]
    return response.json()["data"]["count"], queries


def drain_queue() -> int:
    """Run the task worker in batch mode until the queue is empty; return how many e-mails it sent."""
    from django.core import mail
    from django_tasks_db.management.commands.db_worker import Worker

    before = len(getattr(mail, "outbox", []))
    Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="bench",
        excluded_queue_names=[],
    ).run()
    return len(mail.outbox) - before


def main() -> int:
    with fresh_database() as url:
        setup_django(url)
        from django.db import connection

        from notifications.models import Delivery

        vendor = connection.vendor
        user_ids = make_school(RECIPIENTS)
        client = partner_client()
        bulk_request(client, user_ids[:1])  # warm up: imports, URL resolver, templates
        drain_queue()

        baselines, requests, workers, query_counts = [], [], [], []
        for _ in range(ROUNDS):
            baselines.append(timed(lambda: baseline(user_ids))[0])
            seconds, (count, queries) = timed(lambda: bulk_request(client, user_ids))
            assert count == RECIPIENTS
            requests.append(seconds)
            query_counts.append(queries)
            seconds, sent = timed(drain_queue)
            assert sent == RECIPIENTS, sent
            workers.append(seconds)
        assert not Delivery.objects.filter(channel="email", status__in=["sending", "failed"]).exists()
        few_queries = bulk_request(client, user_ids[:10])[1]
        drain_queue()

    base, request, worker = (statistics.median(values) for values in (baselines, requests, workers))
    print(f"notifications_fanout on {vendor}: a bulk notification to {RECIPIENTS:,} guardians, median of {ROUNDS}")
    print(f"  baseline  one bulk insert per table ({RECIPIENTS:,} notifications, {2 * RECIPIENTS:,} deliveries)")
    print(f"            {base * 1000:8.1f} ms")
    print(f"  request   POST /api/notifications/bulk, {query_counts[0]} queries (10 recipients: {few_queries})")
    print(f"            {request * 1000:8.1f} ms   {request / base:5.1f}× baseline")
    print(f"  worker    {RECIPIENTS:,} e-mails rendered, sent and recorded ({RECIPIENTS / worker:,.0f} per second)")
    print(f"            {worker * 1000:8.1f} ms   {worker / base:5.1f}× baseline")
    met = request / base <= GOAL
    print(f"  goal      request within {GOAL:g}× baseline: {'met' if met else 'NOT MET'}")
    if len(set(query_counts)) != 1 or few_queries != query_counts[0]:
        print("  the request's query count depends on the number of recipients", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
