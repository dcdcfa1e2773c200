"""POST /api/sync/attendance: marks upserted by roll number, date and session, with the register's rules."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from attendance.models import AttendanceChange, AttendanceRecord, Closure
from attendance.services import resolve_code
from harmony.models import Change
from tests.factories import make_student
from tests.sync.conftest import answer, push, statuses

pytestmark = pytest.mark.django_db

MONDAY = datetime.date(2026, 11, 30)
TUESDAY = MONDAY + datetime.timedelta(days=1)
SATURDAY = MONDAY - datetime.timedelta(days=2)


def mark(roll_number: str = "A0001", day: datetime.date = MONDAY, **fields: Any) -> dict[str, Any]:
    return {"rollNumber": roll_number, "date": day.isoformat(), "status": "present", **fields}


class TestResults:
    def test_it_creates_then_updates_or_leaves_unchanged_by_student_date_and_session(self, school, sync_api):
        api = sync_api()
        first = answer(push(api, "attendance", [mark(), mark(session="PM"), mark("B0001")]))
        assert [r["status"] for r in first["results"]] == ["created", "created", "created"]
        record = AttendanceRecord.objects.get(pk=first["results"][0]["id"])
        assert (record.session, record.code.code, record.source) == ("AM", "/", "sync")
        assert record.recorded_by_app == api.application

        again = answer(push(api, "attendance", [mark(), mark(session="PM", status="late", minutesLate=10)]))
        assert [r["status"] for r in again["results"]] == ["unchanged", "updated"]
        late = AttendanceRecord.objects.get(pk=again["results"][1]["id"])
        assert (late.code.category, late.minutes_late, late.version) == ("late", 10, 2)

    def test_a_mark_no_longer_late_keeps_no_minutes_late(self, school, sync_api):
        api = sync_api()
        push(api, "attendance", [mark(status="late", minutesLate=12)])
        assert statuses(push(api, "attendance", [mark(status="present")])) == ["updated"]
        record = AttendanceRecord.objects.get()
        assert (record.code.code, record.minutes_late) == ("/", None)

    def test_the_session_defaults_to_the_first(self, school, sync_api):
        result = answer(push(sync_api(), "attendance", [mark()]))
        assert AttendanceRecord.objects.get(pk=result["results"][0]["id"]).session == "AM"

    def test_it_keeps_the_history_of_every_mark_it_writes(self, school, sync_api):
        api = sync_api()
        push(api, "attendance", [mark()])
        push(api, "attendance", [mark(status="absent")])
        history = list(AttendanceChange.objects.order_by("id").values_list("action", "source", "changes"))
        assert history == [("created", "sync", {"code": [None, "/"]}), ("changed", "sync", {"code": ["/", "N"]})]

    def test_a_code_or_a_status_names_the_mark(self, school, sync_api):
        result = answer(push(sync_api(), "attendance", [{"rollNumber": "A0001", "date": str(MONDAY), "code": "I"}]))
        assert AttendanceRecord.objects.get(pk=result["results"][0]["id"]).code.code == "I"

    def test_a_record_read_from_the_api_can_be_sent_back_unchanged(self, school, sync_api):
        api = sync_api()
        created = answer(push(api, "attendance", [mark(remarks="On time")]))["results"][0]
        record = api.get(f"/api/attendance/{created['id']}").json()["data"]
        assert statuses(push(api, "attendance", [record])) == ["unchanged"]

    def test_a_bad_record_is_reported_and_the_good_ones_are_applied(self, school, sync_api):
        records = [mark(), mark(day=SATURDAY), mark("B0001")]
        result = answer(push(sync_api(), "attendance", records))
        assert [r["status"] for r in result["results"]] == ["created", "error", "created"]
        assert (result["results"][1]["field"], result["results"][1]["reason"]) == ("date", "That date is a weekend.")
        assert AttendanceRecord.objects.count() == 2


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        (mark("NOBODY"), "rollNumber", "No student with roll number NOBODY that you may see."),
        (mark(day=SATURDAY), "date", "That date is a weekend."),
        (mark(day=timezone.localdate() + datetime.timedelta(days=7)), "date", None),
        (mark(session="EVENING"), "session", None),
        (mark(status="asleep"), "status", None),
        ({"rollNumber": "A0001", "date": str(MONDAY), "code": "?"}, "code", "Unknown attendance code '?'."),
        ({"rollNumber": "A0001", "date": str(MONDAY)}, "status", None),
        (mark(minutesLate=5), "minutesLate", "Minutes late go with a late mark only."),
        (mark(code="L"), "status", None),
        (mark(studentName="Amira"), "studentName", "This field is not known."),
        ({"rollNumber": "A0001", "status": "present"}, "date", "This field is required."),
    ],
)
def test_it_reports_the_field_and_the_reason(school, sync_api, record, field, reason):
    result = answer(push(sync_api(), "attendance", [record]))["results"][0]
    assert (result["status"], result["field"]) == ("error", field), result
    assert result["reason"] == reason or (reason is None and result["reason"])
    assert not AttendanceRecord.objects.exists()


def test_a_closure_is_no_school_day(school, sync_api):
    Closure.objects.create(starts_on=MONDAY, ends_on=MONDAY, reason="Training day")
    result = answer(push(sync_api(), "attendance", [mark(), mark(day=TUESDAY)]))["results"]
    assert [r["status"] for r in result] == ["error", "created"]
    assert result[0]["reason"] == "The school is closed that day (Training day)."


def test_a_consent_limited_partner_cannot_mark_a_child_it_may_not_see(school, sync_api):
    from privacy.models import PartnerPurpose, Purpose

    api = sync_api()
    purpose = Purpose.objects.create(code="lunch", title="Lunch", requires_consent=True)
    PartnerPurpose.objects.create(application=api.application, purpose=purpose, is_default=True)
    result = answer(push(api, "attendance", [mark()]))["results"][0]
    assert (result["status"], result["field"]) == ("error", "rollNumber")


class TestConflicts:
    def test_a_mark_changed_by_the_register_after_last_sync_is_a_conflict(self, school, sync_api, user_api):
        api = sync_api()
        created = answer(push(api, "attendance", [mark()]))
        last_sync = created["syncedAt"]
        register = {"classGroup": school.class_a.pk, "date": str(MONDAY), "session": "AM"}
        register["marks"] = [{"studentId": school.child_a.pk, "code": "L", "minutesLate": 5}]
        assert user_api(school.teacher).post("/api/attendance/registers", register, format="json").status_code == 200

        conflict = answer(push(api, "attendance", [mark(status="absent")], lastSyncTimestamp=last_sync))["results"][0]
        assert (conflict["status"], conflict["resolution"]) == ("conflict", "rejected")
        assert (conflict["server"]["code"], conflict["server"]["minutesLate"]) == ("L", 5)
        assert AttendanceRecord.objects.get().code.code == "L"

        body = {"lastSyncTimestamp": last_sync, "onConflict": "client_wins"}
        assert statuses(push(api, "attendance", [mark(status="absent")], **body)) == ["updated"]
        assert AttendanceRecord.objects.get().code.code == "N"


def test_every_applied_change_is_in_the_feed_with_its_natural_key(school, sync_api):
    api = sync_api()
    result = answer(push(api, "attendance", [mark(), mark("B0001", session="PM")]))
    changes = list(Change.objects.filter(entity="attendance").order_by("number"))
    assert [c.record_id for c in changes] == [r["id"] for r in result["results"]]
    assert [c.key for c in changes] == [
        {"rollNumber": "A0001", "date": "2026-11-30", "session": "AM"},
        {"rollNumber": "B0001", "date": "2026-11-30", "session": "PM"},
    ]
    assert {(c.source, c.application_id) for c in changes} == {("sync", api.application.pk)}


def test_a_batch_costs_the_same_queries_for_10_or_500_records(school, sync_api):
    students = [make_student(school.class_a).roll_number for _ in range(250)]
    api = sync_api()
    push(api, "attendance", [])

    def count(records: list[dict[str, Any]]) -> int:
        with CaptureQueriesContext(connection) as queries:
            result = answer(push(api, "attendance", records))
        assert result["totals"]["errors"] == 0, result["results"][:3]
        return len(queries)

    days = [MONDAY, TUESDAY]
    few = count([mark(roll, day) for roll in students[:5] for day in days])
    many = count([mark(roll, day) for roll in students for day in days])
    assert few == many
    # Updates also write the history in one insert. Marks stay "present" or "late": an unexplained absence today
    # would alert the family after the commit, one message per child.
    assert count([mark(roll, day, status="late") for roll in students[:5] for day in days]) == count(
        [mark(roll, day, status="late") for roll in students[5:] for day in days]
    )
    assert resolve_code(status="late").category == "late"
