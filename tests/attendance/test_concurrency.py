"""One mark per student per session, even when several people submit the same register at the same moment.

These tests commit for real (`transaction=True`) and send requests from several threads at once, each on its
own database connection, which it closes at the end. They run on SQLite (writers queue with BEGIN IMMEDIATE)
and on PostgreSQL (submissions queue on the register's row).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from attendance.models import AttendanceChange, AttendanceRecord, Register
from tests.attendance.helpers import MONDAY, MONDAY_AFTERNOON
from tests.conftest import client_with
from tests.factories import make_student

# serialized_rollback: the flush after each test would otherwise take the default codes the migrations made.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

THREADS = 8


@pytest.fixture(autouse=True)
def _monday_afternoon(time_machine: Any) -> None:
    time_machine.move_to(MONDAY_AFTERNOON, tick=False)


def at_once(requests: list[Callable[[], Any]]) -> list[Any]:
    """Run each request in its own thread, all released together; return the responses in order."""
    barrier = threading.Barrier(len(requests))
    responses: list[Any] = [None] * len(requests)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            responses[index] = requests[index]()
        except Exception as error:  # reported below, with the thread it happened in
            responses[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a submission never finished"
    failures = [r for r in responses if isinstance(r, Exception)]
    assert not failures, failures
    return responses


def token_of(api: APIClient) -> str:
    return api._credentials["HTTP_AUTHORIZATION"].removeprefix("Bearer ")


@pytest.fixture
def clients(school, persona_api, partner_api) -> list[APIClient]:
    """Fresh clients, one per thread, for the teacher, the office and a partner in turn."""
    tokens = [
        token_of(persona_api("teacher")),
        token_of(persona_api("office")),
        token_of(partner_api("attendance:read attendance:write")),
    ]
    return [client_with(tokens[i % len(tokens)]) for i in range(THREADS)]


@pytest.fixture
def pupils(school) -> list[Any]:
    return [school.child_a, *(make_student(school.class_a) for _ in range(11))]


def register(school: Any, pupils: list[Any], status: str = "present") -> dict[str, Any]:
    marks = [{"studentId": p.pk, "status": status} for p in pupils]
    return {"classGroup": school.class_a.pk, "date": str(MONDAY), "session": "AM", "marks": marks}


def test_the_same_register_submitted_at_once_leaves_one_mark_per_student(school, clients, pupils):
    body = register(school, pupils)
    responses = at_once([lambda api=api: api.post("/api/attendance/registers", body, format="json") for api in clients])

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (THREADS - 1) + [201], [r.json() for r in responses]
    results = [r.json()["data"] for r in responses]
    assert sorted(r["created"] for r in results) == [0] * (THREADS - 1) + [len(pupils)]
    assert all(r["updated"] == 0 for r in results)
    assert Register.objects.count() == 1
    assert {r["register"]["id"] for r in results} == {Register.objects.get().pk}
    assert AttendanceRecord.objects.count() == len(pupils)
    assert set(AttendanceRecord.objects.values_list("student_id", flat=True)) == {p.pk for p in pupils}
    assert AttendanceChange.objects.count() == len(pupils)


def test_different_versions_of_a_register_submitted_at_once_each_apply_in_turn(school, clients, pupils):
    bodies = [register(school, pupils, "present" if i % 2 else "late") for i in range(THREADS)]
    responses = at_once(
        [
            lambda api=api, body=body: api.post("/api/attendance/registers", body, format="json")
            for api, body in zip(clients, bodies, strict=True)
        ]
    )

    assert all(r.status_code in (200, 201) for r in responses), [r.json() for r in responses]
    results = [r.json()["data"] for r in responses]
    assert sum(r["created"] for r in results) == len(pupils)
    assert Register.objects.count() == 1
    assert AttendanceRecord.objects.count() == len(pupils)
    # Every change of a mark is in the history once, and each mark's version counts its changes.
    updated = sum(r["updated"] for r in results)
    assert AttendanceChange.objects.filter(action="changed").count() == updated
    for record in AttendanceRecord.objects.all():
        changes = AttendanceChange.objects.filter(record_id_at_change=record.pk, action="changed").count()
        assert record.version == 1 + changes


def test_single_marks_racing_a_register_never_make_a_second_mark_or_a_500(school, clients, pupils):
    body = register(school, pupils)
    single = {"studentId": pupils[0].pk, "date": str(MONDAY), "session": "AM", "status": "absent"}
    requests = [
        (lambda api=api: api.post("/api/attendance/registers", body, format="json"))
        if i % 2
        else (lambda api=api: api.post("/api/attendance", single, format="json"))
        for i, api in enumerate(clients)
    ]
    responses = at_once(requests)

    assert all(r.status_code in (200, 201, 409) for r in responses), [r.json() for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] in ("duplicate_record", "concurrent_mark")
    assert AttendanceRecord.objects.filter(student=pupils[0]).count() == 1
    assert AttendanceRecord.objects.count() == len(pupils)
    assert Register.objects.count() == 1
    assert sum(1 for r in responses if r.request["PATH_INFO"] == "/api/attendance" and r.status_code == 201) <= 1
