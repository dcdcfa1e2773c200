from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from attendance.models import AttendanceChange, AttendanceRecord

pytestmark = pytest.mark.django_db

MONDAY = datetime.date(2026, 11, 30)


@pytest.fixture(autouse=True)
def _monday_afternoon(time_machine):
    # A teacher may take a register only within the edit window: keep "today" on that Monday.
    time_machine.move_to(datetime.datetime(2026, 11, 30, 16, 0, tzinfo=ZoneInfo("Europe/London")), tick=False)


def test_a_partner_records_attendance_with_the_guides_payload(school, partner_api):
    api = partner_api("attendance:read attendance:write")
    payload = {"studentId": school.child_a.pk, "date": str(MONDAY), "status": "present", "remarks": "On time"}
    response = api.post("/api/attendance", payload, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()["data"]
    assert (data["status"], data["code"], data["session"]) == ("present", "/", "AM")
    duplicate = api.post("/api/attendance", payload, format="json")
    assert duplicate.status_code == 409
    assert duplicate.json()["existingId"] == data["id"]
    listed = api.get(f"/api/attendance?date={MONDAY}").json()
    assert listed["count"] == 1


def test_a_teacher_takes_a_whole_register(school, user_api):
    api = user_api(school.teacher)
    body = {
        "classGroup": school.class_a.pk,
        "date": str(MONDAY),
        "session": "AM",
        "marks": [{"studentId": school.child_a.pk, "code": "L", "minutesLate": 5}],
    }
    response = api.post("/api/attendance/registers", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["data"]["created"] == 1
    again = api.post(
        "/api/attendance/registers", {**body, "marks": [{"studentId": school.child_a.pk, "code": "/"}]}, format="json"
    )
    assert again.status_code == 200 and again.json()["data"]["updated"] == 1
    assert AttendanceRecord.objects.get().code_id is not None
    assert AttendanceChange.objects.count() == 2
