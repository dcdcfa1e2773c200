"""What the attendance tests share: the frozen Monday, small factories and the "nothing changed" snapshot."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

from attendance.models import (
    AbsenceReport,
    AttendanceChange,
    AttendanceCode,
    AttendanceRecord,
    Closure,
    Register,
    Term,
)
from students.models import Student

LONDON = ZoneInfo("Europe/London")
MONDAY = datetime.date(2026, 11, 30)
# Monday afternoon: both of the day's registers have closed (AM at 09:30, PM at 13:45).
MONDAY_AFTERNOON = datetime.datetime(2026, 11, 30, 16, 0, tzinfo=LONDON)
FRIDAY = datetime.date(2026, 11, 27)
SATURDAY = datetime.date(2026, 11, 28)
TUESDAY = datetime.date(2026, 12, 1)


def days_before(date: datetime.date, days: int) -> datetime.date:
    return date - datetime.timedelta(days=days)


def code(letter: str) -> AttendanceCode:
    return AttendanceCode.objects.get(code=letter)


def make_record(
    student: Student, date: datetime.date = MONDAY, session: str = "AM", letter: str = "/", **fields: Any
) -> AttendanceRecord:
    """Put a mark straight into the table, as an earlier register would have left it."""
    values = {"source": AttendanceRecord.Source.REGISTER, **fields}
    return AttendanceRecord.objects.create(student=student, date=date, session=session, code=code(letter), **values)


def make_term(starts_on: datetime.date, ends_on: datetime.date, name: str = "Autumn") -> Term:
    return Term.objects.create(name=name, starts_on=starts_on, ends_on=ends_on)


def make_closure(starts_on: datetime.date, ends_on: datetime.date | None = None, reason: str = "Training day"):
    return Closure.objects.create(starts_on=starts_on, ends_on=ends_on or starts_on, reason=reason)


def snapshot() -> dict[str, Any]:
    """Everything a bad request must leave as it was: row counts and every mark's code, remarks and version."""
    return {
        "records": sorted(
            AttendanceRecord.objects.values_list("pk", "code__code", "minutes_late", "remarks", "version")
        ),
        "changes": AttendanceChange.objects.count(),
        "registers": sorted(Register.objects.values_list("pk", "submitted_at", "taken_by_id")),
        "reports": sorted(AbsenceReport.objects.values_list("pk", "status")),
        "codes": sorted(AttendanceCode.objects.values_list("code", "is_active")),
    }


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """Assert the documented error envelope with `status` and `code`, and return its body."""
    body = response.json()
    assert response.status_code == status, body
    assert body["success"] is False
    assert body["code"] == code, body
    assert body["error"]
    assert isinstance(body["details"], list) and body["details"]
    assert body["requestId"] == response["X-Request-ID"]
    return body


def error_fields(body: dict[str, Any]) -> set[str | None]:
    return {item["field"] for item in body["details"]}
