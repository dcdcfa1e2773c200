"""Writers committing in any order while a reader polls the feed; duplicate retries racing each other.

These run on a transactional database (real commits from real threads, each with its own connection), on
SQLite as on PostgreSQL.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from harmony.models import Change
from students.models import Student
from students.services import student_create, student_delete, student_update
from tests.sync.conftest import push

pytestmark = pytest.mark.django_db(transaction=True)


def in_threads(*targets: Callable[[], Any]) -> list[BaseException]:
    """Run each target in its own thread (closing its connection after) and return what they raised."""
    failures: list[BaseException] = []

    def run(target: Callable[[], Any]) -> None:
        try:
            target()
        except BaseException as error:  # reported to the test, which fails with it
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return failures


def test_a_reader_polling_while_writers_commit_ends_with_the_databases_view(sync_api):
    reader = sync_api()
    pusher = sync_api()
    done = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        mine: list[Student] = []
        for step in range(12):
            # Each transaction waits a random while after recording its changes, so commits come in any order
            # relative to the moment each writer began.
            with transaction.atomic():
                if mine and rng.random() < 0.5:
                    target = Student.objects.get(pk=rng.choice(mine).pk)
                    if target.deleted_at is None:
                        if rng.random() < 0.2:
                            student_delete(student=target)
                        else:
                            student_update(student=target, data={"first_name": f"W{seed}-{step}"})
                else:
                    data = {"roll_number": f"W{seed}N{step}", "first_name": "New", "last_name": f"Writer{seed}"}
                    mine.append(student_create(data=data))
                time.sleep(rng.uniform(0, 0.02))

    def sync_pusher() -> None:
        rng = random.Random(99)
        for batch in range(6):
            records = [
                {"rollNumber": f"P{rng.randint(0, 15)}", "firstName": f"Batch{batch}", "lastName": "Pushed"}
                for _ in range(5)
            ]
            unique = list({r["rollNumber"]: r for r in records}.values())
            assert push(pusher, "students", unique).status_code == 200

    seen: dict[str, Any] = {}

    def poller() -> None:
        cursor = ""
        while True:
            finished = done.is_set()  # read once more after the writers are done
            while True:
                body = reader.get("/api/sync/changes", {"entity": "students", "cursor": cursor, "limit": 5}).json()
                for item in body["data"]:
                    roll = item["key"]["rollNumber"]
                    seen[roll] = None if item["operation"] == "delete" else item["record"]["version"]
                cursor = body["nextCursor"]
                if not body["hasMore"]:
                    break
            if finished:
                return
            time.sleep(0.005)

    holes: list[tuple[int, list[int]]] = []

    def log_watcher() -> None:
        # The log itself: whatever a reader sees after the last number it saw must start right after it, with
        # no hole that a change committing later could fill behind the reader's back.
        last = 0
        while True:
            finished = done.is_set()
            numbers = list(
                Change.objects.filter(number__gt=last).order_by("number").values_list("number", flat=True)[:50]
            )
            if numbers != list(range(last + 1, last + 1 + len(numbers))):
                holes.append((last, numbers))
            last = numbers[-1] if numbers else last
            if finished and not numbers:
                return
            time.sleep(0.002)

    failures: list[BaseException] = []
    readers = threading.Thread(target=lambda: failures.extend(in_threads(poller, log_watcher)))
    readers.start()
    failures.extend(in_threads(*[lambda seed=seed: writer(seed) for seed in range(3)], sync_pusher))
    done.set()
    readers.join(timeout=120)
    assert not failures, failures
    assert not holes, holes

    expected = {s.roll_number: (None if s.deleted_at else s.version) for s in Student.objects.all()}
    assert seen == expected
    numbers = list(Change.objects.order_by("number").values_list("number", flat=True))
    assert numbers == list(range(1, len(numbers) + 1))  # dense: no number lost to a rollback or a race


def test_concurrent_retries_with_the_same_key_apply_once(sync_api):
    api = sync_api()
    records = [{"rollNumber": f"K{n}", "firstName": "Once", "lastName": "Only"} for n in range(50)]
    answers: list[Any] = []
    start = threading.Barrier(4)

    def send() -> None:
        start.wait()
        answers.append(push(api, "students", records, key="the-same-batch"))

    assert not in_threads(*[send] * 4)
    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.content for a in answers}) == 1
    assert sum(a.has_header("Idempotent-Replayed") for a in answers) == 3
    assert Student.objects.filter(roll_number__startswith="K").count() == 50
    assert Change.objects.filter(entity="students").count() == 50
    assert set(Student.objects.values_list("version", flat=True)) == {1}


def test_two_batches_creating_the_same_student_at_once_both_succeed(sync_api):
    apis = [sync_api(), sync_api()]
    answers: list[Any] = []
    start = threading.Barrier(2)

    def send(api: Any, name: str) -> None:
        start.wait()
        answers.append(push(api, "students", [{"rollNumber": "RACE1", "firstName": name, "lastName": "Racer"}]))

    assert not in_threads(lambda: send(apis[0], "First"), lambda: send(apis[1], "Second"))
    results = sorted(a.json()["data"]["results"][0]["status"] for a in answers)
    assert results == ["created", "updated"]
    assert Student.objects.get(roll_number="RACE1").version == 2
