"""The guide's synchronisation snippets through the client library, against the real sync endpoints."""

from __future__ import annotations

import pytest

from attendance.models import AttendanceCode
from harmony.models import Change
from school_api_client import BatchProcessor, BatchSyncError
from students.models import Student
from students.services import student_update
from tests.factories import make_student

pytestmark = pytest.mark.django_db(transaction=True)

SCOPES = "sync students:read students:write attendance:read attendance:write"


def students(count: int, start: int = 0, **fields: str) -> list[dict[str, str]]:
    return [
        {
            "firstName": "Ahmed",
            "lastName": f"Mohammed{n}",
            "email": f"ahmed{n}@school.com",
            "rollNumber": f"SMS2024{n:03d}",
            "dateOfBirth": "2008-03-15",
            "gender": "male",
            **fields,
        }
        for n in range(start, start + count)
    ]


def test_the_guides_batch_snippet_works_as_written(make_client):
    client = make_client(SCOPES)
    students_data = students(60)
    students_data[30]["dateOfBirth"] = "15/03/2008"

    batch_processor = BatchProcessor(client, batch_size=25)
    results = batch_processor.process_students_batch(students_data)

    assert (results["created"], results["updated"], len(results["errors"]), results["batches"]) == (59, 0, 1, 3)
    assert results["errors"][0]["index"] == 30 and results["errors"][0]["field"] == "dateOfBirth"
    assert Student.objects.count() == 59


def test_the_guides_incremental_sync_works_as_written(make_client):
    client = make_client(SCOPES)
    client.sync_students(students(3))

    status = client.get_sync_status()
    last_sync = status["lastSync"]["students"]
    assert last_sync is not None and status["push"]["students"]["outcome"] == "applied"

    recent_students = students(1, lastName="Renamed") + students(1, start=3)
    results = client.sync_students(recent_students, last_sync)
    assert [r["status"] for r in results["data"]["results"]] == ["updated", "created"]
    assert results["data"]["totals"]["created"] == 1


def test_a_change_in_harmony_after_the_last_sync_comes_back_as_a_conflict(make_client):
    client = make_client(SCOPES)
    client.sync_students(students(2))
    last_sync = client.get_sync_status()["lastSync"]["students"]
    student_update(student=Student.objects.get(roll_number="SMS2024000"), data={"last_name": "Edited"})  # staff

    results = BatchProcessor(client).process_students_batch(students(2, firstName="Partner"), last_sync)
    assert (results["conflicts"], results["updated"]) == (1, 1)
    assert results["conflicted"][0]["server"]["lastName"] == "Edited"
    forced = client.sync_students(students(1, firstName="Partner"), last_sync, on_conflict="client_wins")
    assert forced["data"]["results"][0]["status"] == "updated"


def test_a_retried_batch_is_applied_once(make_client, wire):
    client = make_client(SCOPES)
    first = client.sync_students(students(2), idempotency_key="nightly-2026-12-01")
    again = client.sync_students(students(2), idempotency_key="nightly-2026-12-01")
    assert again == first and again.headers["Idempotent-Replayed"] == "true"
    assert Change.objects.filter(entity="students").count() == 2


def test_attendance_goes_through_the_same_batches(make_client):
    # A transactional test starts from empty tables: the codes the migrations install are made here.
    for code, category in (("/", "present"), ("L", "late")):
        AttendanceCode.objects.get_or_create(
            code=code, defaults={"label": category, "category": category, "api_default_for": category}
        )
    make_student(roll_number="A1")
    client = make_client(SCOPES)
    records = [
        {"rollNumber": "A1", "date": "2026-11-30", "status": s, "session": p}
        for s, p in (("present", "AM"), ("late", "PM"))
    ]
    results = BatchProcessor(client, batch_size=1).process_attendance_batch(records)
    assert (results["created"], results["batches"]) == (2, 2)


def test_a_batch_over_the_limit_stops_the_processor_with_what_was_done(make_client):
    client = make_client(SCOPES)
    with pytest.raises(BatchSyncError) as raised:
        BatchProcessor(client, batch_size=5001).process_students_batch(students(5001))
    assert raised.value.status_code == 413
    assert raised.value.batch_start == 0
