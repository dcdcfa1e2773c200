"""The attendance API from the outside: who may do what, the guide's payloads, and every way to get it wrong.

Time is frozen on Monday 30 November 2026 at 16:00 in London: both of the day's registers have closed.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from attendance import services
from attendance.models import AbsenceReport, AttendanceChange, AttendanceCode, AttendanceRecord, Register
from tests.attendance.helpers import (
    FRIDAY,
    MONDAY,
    MONDAY_AFTERNOON,
    SATURDAY,
    TUESDAY,
    assert_error,
    code,
    days_before,
    error_fields,
    make_closure,
    make_record,
    make_term,
    snapshot,
)
from tests.factories import make_class_group, make_student

pytestmark = pytest.mark.django_db

READ_WRITE = "attendance:read attendance:write"


@pytest.fixture(autouse=True)
def _monday_afternoon(time_machine: Any) -> None:
    time_machine.move_to(MONDAY_AFTERNOON, tick=False)


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.json()
    return {item["id"] for item in response.json()["data"]}


def guide_payload(student_id: int, **changes: Any) -> dict[str, Any]:
    return {"studentId": student_id, "date": str(MONDAY), "status": "present", "remarks": "On time", **changes}


def register_body(class_group_id: int, marks: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    return {"classGroup": class_group_id, "date": str(MONDAY), "session": "AM", "marks": marks, **changes}


def bad_day(name: str) -> datetime.date:
    """Prepare the calendar so that the returned date cannot have a register, for the reason `name`."""
    if name == "closure":
        make_closure(MONDAY, reason="Staff training")
        return MONDAY
    if name == "outside terms":
        make_term(datetime.date(2026, 9, 2), datetime.date(2026, 10, 23), name="Autumn 1")
        return MONDAY
    return {"future": TUESDAY, "weekend": SATURDAY}[name]


BAD_DAYS = ["future", "weekend", "closure", "outside terms"]


class TestWhoMayDoWhat:
    """Every persona against every endpoint: list, read, codes, create, change, delete, register."""

    ALL = (200, 200, 200, 201, 200, 200, 201)
    READ_ONLY = (200, 200, 200, 403, 403, 403, 403)

    @pytest.mark.parametrize(
        ("persona", "expected"),
        [
            ("admin", ALL),
            ("office", ALL),
            ("teacher", ALL),
            # Another class's record is not found; its students and class group are not ones they may mark.
            ("colleague", (200, 404, 200, 400, 404, 404, 400)),
            ("guardian", READ_ONLY),
            ("outsider", (200, 404, 200, 403, 403, 403, 403)),
            ("partner", ALL),
            ("read-only partner", READ_ONLY),
            ("partner without attendance scopes", (403,) * 7),
            ("anonymous", (401,) * 7),
        ],
    )
    def test_each_persona_gets_the_documented_status_from_each_endpoint(
        self, school, persona_api, partner_api, persona, expected
    ):
        record = make_record(school.child_a)
        api = {
            "partner": lambda: partner_api(READ_WRITE),
            "read-only partner": lambda: partner_api("attendance:read"),
            "partner without attendance scopes": lambda: partner_api("students:read students:write"),
            "anonymous": APIClient,
        }.get(persona, lambda: persona_api(persona))()
        before = snapshot()
        statuses = (
            api.get("/api/attendance").status_code,
            api.get(f"/api/attendance/{record.pk}").status_code,
            api.get("/api/attendance/codes").status_code,
            api.post("/api/attendance", guide_payload(school.child_a.pk, session="PM"), format="json").status_code,
            api.patch(f"/api/attendance/{record.pk}", {"status": "late"}, format="json").status_code,
            api.delete(f"/api/attendance/{record.pk}").status_code,
            api.post(
                "/api/attendance/registers",
                register_body(
                    school.class_a.pk, [{"studentId": school.child_a.pk, "status": "present"}], date=str(FRIDAY)
                ),
                format="json",
            ).status_code,
        )
        assert statuses == expected
        if all(status >= 400 for status in expected[3:]):
            assert snapshot() == before

    def test_a_refusal_for_missing_scope_says_which_scope(self, school, partner_api):
        body = assert_error(
            partner_api("attendance:read").post("/api/attendance", {}, format="json"), 403, "insufficient_scope"
        )
        assert "attendance:write" in body["details"][0]["message"]

    def test_a_guardian_is_told_to_use_the_family_pages(self, school, persona_api):
        body = assert_error(
            persona_api("guardian").post("/api/attendance", guide_payload(school.child_a.pk), format="json"),
            403,
            "permission_denied",
        )
        assert "family pages" in body["details"][0]["message"]

    def test_a_user_token_is_limited_to_its_scopes(self, school, persona_api):
        api = persona_api("office", scope="attendance:read")
        response = api.post("/api/attendance", guide_payload(school.child_a.pk), format="json")
        assert_error(response, 403, "insufficient_scope")
        assert not AttendanceRecord.objects.exists()


class TestCodes:
    def test_it_lists_the_default_codes_with_their_rules(self, school, persona_api):
        response = persona_api("teacher").get("/api/attendance/codes")
        assert response.status_code == 200
        codes = {item["code"]: item for item in response.json()["data"]}
        assert len(codes) == 16
        assert codes["/"] == {
            "code": "/",
            "label": "Present",
            "category": "present",
            "status": "present",
            "countsAsPossible": True,
            "usableBy": "teachers",
            "isActive": True,
        }
        assert (codes["I"]["category"], codes["I"]["status"], codes["I"]["usableBy"]) == (
            "authorised_absence",
            "excused",
            "office",
        )
        assert codes["X"]["countsAsPossible"] is False
        assert {item["category"] for item in codes.values()} == set(AttendanceCode.Category.values)

    def test_each_of_the_guides_statuses_stands_for_one_code_that_reads_back_as_that_status(self, school):
        for status in ("present", "absent", "late", "excused"):
            default = AttendanceCode.objects.get(api_default_for=status)
            assert default.api_status == status

    def test_a_retired_code_is_listed_as_inactive(self, school, persona_api):
        services.code_retire(code=code("G"))
        codes = {item["code"]: item for item in persona_api("office").get("/api/attendance/codes").json()["data"]}
        assert codes["G"]["isActive"] is False

    def test_the_codes_are_not_mistaken_for_a_record(self, school, persona_api):
        api = persona_api("office")
        assert api.get("/api/attendance/codes/").status_code == 200
        assert_error(api.get("/api/attendance/notanumber"), 404, "not_found")


class TestListing:
    @pytest.fixture
    def records(self, school) -> dict[str, AttendanceRecord]:
        return {
            "a_monday_am": make_record(school.child_a, MONDAY, "AM", "/"),
            "a_monday_pm": make_record(school.child_a, MONDAY, "PM", "N"),
            "a_friday_am": make_record(school.child_a, FRIDAY, "AM", "L", minutes_late=10),
            "b_monday_am": make_record(school.child_b, MONDAY, "AM", "I"),
            "b_old_am": make_record(school.child_b, days_before(MONDAY, 14), "AM", "/"),
        }

    def test_it_lists_in_the_envelope_with_paging(self, school, partner_api, records):
        response = partner_api("attendance:read").get("/api/attendance?limit=2&page=2")
        body = response.json()
        assert (body["success"], body["count"], body["page"], body["limit"], body["totalPages"]) == (
            True,
            5,
            2,
            2,
            3,
        )
        assert response["X-Total-Count"] == "5"
        assert 'rel="next"' in response["Link"]

    def test_a_record_reads_as_the_guide_shows_it(self, school, partner_api, records):
        record = records["a_friday_am"]
        response = partner_api("attendance:read").get(f"/api/attendance/{record.pk}")
        assert response.status_code == 200
        data = response.json()["data"]
        assert data == {
            "id": record.pk,
            "studentId": school.child_a.pk,
            "rollNumber": "A0001",
            "date": "2026-11-27",
            "session": "AM",
            "status": "late",
            "code": "L",
            "minutesLate": 10,
            "remarks": "",
            "source": "register",
            "registerId": None,
            "recordedAt": data["recordedAt"],
            "updatedAt": data["updatedAt"],
            "version": 1,
        }
        assert response["ETag"] == f'"{record.pk}-1"'

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("date=2026-11-30", {"a_monday_am", "a_monday_pm", "b_monday_am"}),
            ("startDate=2026-11-27&endDate=2026-11-27", {"a_friday_am"}),
            ("startDate=2026-11-27", {"a_monday_am", "a_monday_pm", "a_friday_am", "b_monday_am"}),
            ("endDate=2026-11-20", {"b_old_am"}),
            ("status=present", {"a_monday_am", "b_old_am"}),
            ("status=absent", {"a_monday_pm"}),
            ("status=late", {"a_friday_am"}),
            ("status=excused", {"b_monday_am"}),
            ("session=PM", {"a_monday_pm"}),
            ("classGroup=7B", {"b_monday_am", "b_old_am"}),
            ("classGroup=7b", {"b_monday_am", "b_old_am"}),
            ("date=2026-11-30&status=present", {"a_monday_am"}),
        ],
    )
    def test_it_filters_as_the_guide_shows(self, school, partner_api, records, query, expected):
        response = partner_api("attendance:read").get(f"/api/attendance?{query}")
        assert ids(response) == {records[name].pk for name in expected}

    def test_it_filters_by_student_and_class_group_id(self, school, partner_api, records):
        api = partner_api("attendance:read")
        assert ids(api.get(f"/api/attendance?studentId={school.child_b.pk}")) == {
            records["b_monday_am"].pk,
            records["b_old_am"].pk,
        }
        assert len(ids(api.get(f"/api/attendance?classGroup={school.class_a.pk}"))) == 3

    def test_it_lists_the_newest_day_first_then_by_session(self, school, partner_api, records):
        data = partner_api("attendance:read").get("/api/attendance").json()["data"]
        assert [(item["date"], item["session"]) for item in data][:3] == [
            ("2026-11-30", "AM"),
            ("2026-11-30", "AM"),
            ("2026-11-30", "PM"),
        ]

    @pytest.mark.parametrize(
        ("persona", "visible"),
        [
            ("admin", {"a_monday_am", "a_monday_pm", "a_friday_am", "b_monday_am", "b_old_am"}),
            ("office", {"a_monday_am", "a_monday_pm", "a_friday_am", "b_monday_am", "b_old_am"}),
            ("teacher", {"a_monday_am", "a_monday_pm", "a_friday_am"}),
            ("colleague", {"b_monday_am", "b_old_am"}),
            ("guardian", {"a_monday_am", "a_monday_pm", "a_friday_am"}),
            ("outsider", {"b_monday_am", "b_old_am"}),
        ],
    )
    def test_each_persona_sees_only_the_records_of_their_students(self, school, persona_api, records, persona, visible):
        api = persona_api(persona)
        assert ids(api.get("/api/attendance")) == {records[name].pk for name in visible}
        for name, record in records.items():
            response = api.get(f"/api/attendance/{record.pk}")
            if name in visible:
                assert response.status_code == 200
            else:
                assert_error(response, 404, "not_found")
                assert "A0001" not in response.content.decode() and "B0001" not in response.content.decode()

    def test_a_teacher_cannot_see_another_classes_register_by_filtering(self, school, persona_api, records):
        api = persona_api("teacher")
        assert ids(api.get("/api/attendance?classGroup=7B")) == set()
        assert ids(api.get(f"/api/attendance?classGroup={school.class_b.pk}")) == set()
        assert ids(api.get(f"/api/attendance?studentId={school.child_b.pk}")) == set()

    def test_a_guardian_cannot_see_another_family_by_filtering(self, school, persona_api, records):
        assert ids(persona_api("guardian").get(f"/api/attendance?studentId={school.child_b.pk}")) == set()

    def test_the_records_of_a_deleted_student_are_gone(self, school, partner_api, records):
        from students import services as student_services

        student_services.student_delete(student=school.child_b)
        api = partner_api("attendance:read")
        assert ids(api.get("/api/attendance")) == {
            records[name].pk for name in ("a_monday_am", "a_monday_pm", "a_friday_am")
        }
        assert_error(api.get(f"/api/attendance/{records['b_monday_am'].pk}"), 404, "not_found")

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("date=30/11/2026", "date"),
            ("date=2026-02-30", "date"),
            ("date=today", "date"),
            ("startDate=2026-13-01", "startDate"),
            ("endDate=yesterday", "endDate"),
            ("startDate=2026-11-30&endDate=2026-11-01", "endDate"),
            ("studentId=abc", "studentId"),
            ("studentId=0", "studentId"),
            ("status=sick", "status"),
            ("session=EVE", "session"),
            ("classGroup=" + "x" * 51, "classGroup"),
            ("colour=blue", "colour"),
            ("limit=101", "limit"),
            ("page=0", "page"),
        ],
    )
    def test_it_rejects_bad_query_parameters(self, school, partner_api, records, query, field):
        body = assert_error(partner_api("attendance:read").get(f"/api/attendance?{query}"), 400, "validation_error")
        assert field in error_fields(body)

    def test_the_list_costs_the_same_queries_for_few_records_or_many(self, school, partner_api):
        api = partner_api("attendance:read")
        make_record(school.child_a)
        api.get("/api/attendance?limit=100")  # warm up
        with CaptureQueriesContext(connection) as few:
            assert api.get("/api/attendance?limit=100").status_code == 200
        group = make_class_group("7C")
        for index in range(30):
            make_record(make_student(group), letter="/L"[index % 2], minutes_late=5 if index % 2 else None)
        with CaptureQueriesContext(connection) as many:
            response = api.get("/api/attendance?limit=100")
        assert response.json()["count"] == 31
        # the token (joined to its application and user; the rate-limit counter lives in the cache), the
        # application's data purposes, the count, one page of records joined to their students and codes, and the
        # disclosure log: the disclosure and its children, in one bulk insert
        assert len(many) == len(few) == 6, [q["sql"] for q in many.captured_queries]

    def test_a_teachers_list_also_costs_the_same_queries_for_few_records_or_many(self, school, persona_api):
        api = persona_api("teacher")
        make_record(school.child_a)
        api.get("/api/attendance?limit=100")
        with CaptureQueriesContext(connection) as few:
            api.get("/api/attendance?limit=100")
        for _ in range(20):
            make_record(make_student(school.class_a))
        with CaptureQueriesContext(connection) as many:
            response = api.get("/api/attendance?limit=100")
        assert response.json()["count"] == 21
        assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


class TestCreating:
    def test_a_partner_records_attendance_with_the_guides_payload(self, school, partner_api):
        api = partner_api(READ_WRITE)
        response = api.post("/api/attendance", guide_payload(school.child_a.pk), format="json")
        assert response.status_code == 201, response.json()
        data = response.json()["data"]
        assert (data["status"], data["code"], data["session"], data["remarks"]) == ("present", "/", "AM", "On time")
        assert (data["source"], data["version"]) == ("api", 1)
        assert response["ETag"] == f'"{data["id"]}-1"'
        record = AttendanceRecord.objects.get()
        assert record.recorded_by_app == api.application and record.recorded_by is None
        change = AttendanceChange.objects.get()
        assert (change.action, change.record_id_at_change, change.changed_by_app) == (
            "created",
            record.pk,
            api.application,
        )
        assert change.changes == {"code": [None, "/"], "remarks": [None, "On time"]}

    @pytest.mark.parametrize(("status", "letter"), [("present", "/"), ("absent", "N"), ("late", "L"), ("excused", "C")])
    def test_each_of_the_guides_statuses_is_recorded_with_its_code(self, school, partner_api, status, letter):
        response = partner_api(READ_WRITE).post(
            "/api/attendance", guide_payload(school.child_a.pk, status=status), format="json"
        )
        assert response.status_code == 201, response.json()
        assert (response.json()["data"]["status"], response.json()["data"]["code"]) == (status, letter)

    def test_a_school_code_and_a_session_may_be_named_instead(self, school, persona_api):
        payload = {"studentId": school.child_a.pk, "date": str(MONDAY), "session": "PM", "code": "V"}
        response = persona_api("teacher").post("/api/attendance", payload, format="json")
        assert response.status_code == 201, response.json()
        data = response.json()["data"]
        assert (data["session"], data["code"], data["status"], data["remarks"]) == ("PM", "V", "present", "")
        record = AttendanceRecord.objects.get()
        assert (record.recorded_by, record.source) == (school.teacher, "api")

    def test_a_duplicate_answers_409_with_the_existing_id(self, school, partner_api):
        api = partner_api(READ_WRITE)
        first = api.post("/api/attendance", guide_payload(school.child_a.pk), format="json").json()["data"]
        before = snapshot()
        response = api.post("/api/attendance", guide_payload(school.child_a.pk, status="absent"), format="json")
        body = assert_error(response, 409, "duplicate_record")
        assert body["existingId"] == first["id"]
        assert snapshot() == before

    def test_the_same_student_may_be_marked_in_each_session(self, school, partner_api):
        api = partner_api(READ_WRITE)
        for session in ("AM", "PM"):
            response = api.post("/api/attendance", guide_payload(school.child_a.pk, session=session), format="json")
            assert response.status_code == 201
        assert AttendanceRecord.objects.count() == 2

    def test_a_teacher_cannot_mark_a_student_of_another_class(self, school, persona_api):
        before = snapshot()
        response = persona_api("teacher").post("/api/attendance", guide_payload(school.child_b.pk), format="json")
        assert "studentId" in error_fields(assert_error(response, 400, "validation_error"))
        assert "Bilal" not in response.content.decode()
        assert snapshot() == before

    def test_the_office_marks_any_student_with_any_active_code(self, school, persona_api):
        payload = {"studentId": school.child_b.pk, "date": str(MONDAY), "code": "I", "remarks": "Rang in"}
        response = persona_api("office").post("/api/attendance", payload, format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["data"]["status"] == "excused"

    @pytest.mark.parametrize("day", BAD_DAYS)
    def test_it_refuses_a_day_without_a_register(self, school, partner_api, day):
        date = bad_day(day)
        before = snapshot()
        response = partner_api(READ_WRITE).post(
            "/api/attendance", guide_payload(school.child_a.pk, date=str(date)), format="json"
        )
        assert error_fields(assert_error(response, 400, "validation_error")) == {"date"}
        assert snapshot() == before

    def test_a_day_inside_a_term_may_be_marked(self, school, partner_api):
        make_term(datetime.date(2026, 11, 2), datetime.date(2026, 12, 18))
        response = partner_api(READ_WRITE).post("/api/attendance", guide_payload(school.child_a.pk), format="json")
        assert response.status_code == 201

    @pytest.mark.parametrize(
        ("persona", "change", "field"),
        [
            ("partner", {"status": "sick"}, "status"),
            ("partner", {"status": None, "code": "Z"}, "code"),
            ("partner", {"status": None, "code": "ZZZZZ"}, "code"),
            ("partner", {"status": None, "code": 1}, "code"),
            ("partner", {"status": None}, "status"),
            ("partner", {"code": "L"}, "code"),
            ("partner", {"minutesLate": 5}, "minutesLate"),
            ("partner", {"status": "absent", "minutesLate": 5}, "minutesLate"),
            ("partner", {"status": "late", "minutesLate": -1}, "minutesLate"),
            ("partner", {"status": "late", "minutesLate": 301}, "minutesLate"),
            ("partner", {"status": "late", "minutesLate": "five"}, "minutesLate"),
            ("partner", {"date": "30/11/2026"}, "date"),
            ("partner", {"date": "2026-11-31"}, "date"),
            ("partner", {"date": None}, "date"),
            ("partner", {"studentId": "A0001"}, "studentId"),
            ("partner", {"studentId": 999999}, "studentId"),
            ("partner", {"studentId": None}, "studentId"),
            ("partner", {"session": "EVE"}, "session"),
            ("partner", {"remarks": "x" * 501}, "remarks"),
            ("partner", {"remarks": 42}, "remarks"),
            ("partner", {"recordedBy": "someone"}, "recordedBy"),
            ("partner", {"status": None, "code": "G", "retired": True}, "code"),
            ("teacher", {"status": None, "code": "I"}, "code"),
            ("teacher", {"status": None, "code": "U", "minutesLate": 40}, "code"),
        ],
    )
    def test_it_rejects_a_bad_mark_and_changes_nothing(self, school, persona_api, partner_api, persona, change, field):
        api = partner_api(READ_WRITE) if persona == "partner" else persona_api(persona)
        change = dict(change)
        if change.pop("retired", False):
            services.code_retire(code=code(change["code"]))
        payload = {k: v for k, v in guide_payload(school.child_a.pk, **change).items() if v is not None}
        before = snapshot()
        body = assert_error(api.post("/api/attendance", payload, format="json"), 400, "validation_error")
        assert field in error_fields(body), body
        assert snapshot() == before

    @pytest.mark.parametrize(("letter", "minutes"), [("L", 10), ("U", 45)])
    def test_minutes_late_go_with_either_late_code(self, school, persona_api, letter, minutes):
        payload = {"studentId": school.child_a.pk, "date": str(MONDAY), "code": letter, "minutesLate": minutes}
        response = persona_api("office").post("/api/attendance", payload, format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["data"]["minutesLate"] == minutes

    def test_a_body_that_is_not_json_is_refused(self, school, partner_api):
        response = partner_api(READ_WRITE).post("/api/attendance", "studentId=1", content_type="text/plain")
        assert_error(response, 415, "unsupported_media_type")
        assert not AttendanceRecord.objects.exists()

    def test_a_body_that_is_a_list_is_refused(self, school, partner_api):
        response = partner_api(READ_WRITE).post("/api/attendance", [guide_payload(school.child_a.pk)], format="json")
        assert_error(response, 400, "validation_error")
        assert not AttendanceRecord.objects.exists()

    def test_a_teacher_may_record_the_office_code_of_an_accepted_absence_report(self, school, persona_api):
        # Accepted last week, for this morning only: the office's decision left today's marks to the register.
        AbsenceReport.objects.create(
            student=school.child_a,
            reported_by=school.guardian,
            starts_on=MONDAY,
            ends_on=MONDAY,
            sessions="AM",
            reason="illness",
            status=AbsenceReport.Status.ACCEPTED,
        )
        api = persona_api("teacher")
        illness = {"studentId": school.child_a.pk, "date": str(MONDAY), "code": "I"}
        before = snapshot()
        for refused in ({**illness, "session": "PM"}, {**illness, "code": "M"}):
            assert_error(api.post("/api/attendance", refused, format="json"), 400, "validation_error")
        assert snapshot() == before
        assert api.post("/api/attendance", illness, format="json").status_code == 201


class TestChanging:
    @pytest.fixture
    def record(self, school) -> AttendanceRecord:
        return make_record(school.child_a, letter="N")

    def test_a_teacher_changes_a_mark_and_the_history_keeps_from_what_to_what(self, school, persona_api, record):
        response = persona_api("teacher").patch(
            f"/api/attendance/{record.pk}", {"status": "late", "minutesLate": 12}, format="json"
        )
        assert response.status_code == 200, response.json()
        data = response.json()["data"]
        assert (data["code"], data["minutesLate"], data["version"]) == ("L", 12, 2)
        assert response["ETag"] == f'"{record.pk}-2"'
        change = AttendanceChange.objects.get()
        assert (change.action, change.changed_by, change.changed_by_app) == ("changed", school.teacher, None)
        assert change.changes == {"code": ["N", "L"], "minutes_late": [None, 12]}
        assert (change.student, change.date, change.session) == (school.child_a, MONDAY, "AM")

    def test_a_change_that_changes_nothing_keeps_the_version_and_the_history(self, school, persona_api, record):
        response = persona_api("office").patch(f"/api/attendance/{record.pk}", {"status": "absent"}, format="json")
        assert response.status_code == 200
        assert response.json()["data"]["version"] == 1
        assert not AttendanceChange.objects.exists()

    def test_a_mark_that_is_no_longer_late_keeps_no_minutes_late(self, school, persona_api):
        late = make_record(school.child_a, letter="L", minutes_late=15)
        response = persona_api("teacher").patch(f"/api/attendance/{late.pk}", {"status": "present"}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["data"]["minutesLate"] is None
        assert AttendanceChange.objects.get().changes == {"code": ["L", "/"], "minutes_late": [15, None]}

    def test_put_replaces_the_whole_mark(self, school, persona_api):
        record = make_record(school.child_a, letter="L", minutes_late=15, remarks="Bus was late")
        response = persona_api("office").put(
            f"/api/attendance/{record.pk}", {"code": "U", "minutesLate": 50}, format="json"
        )
        assert response.status_code == 200, response.json()
        data = response.json()["data"]
        assert (data["code"], data["minutesLate"], data["remarks"]) == ("U", 50, "")
        assert AttendanceChange.objects.get().changes == {
            "code": ["L", "U"],
            "minutes_late": [15, 50],
            "remarks": ["Bus was late", ""],
        }

    def test_put_needs_a_status_or_a_code(self, school, persona_api, record):
        before = snapshot()
        response = persona_api("office").put(f"/api/attendance/{record.pk}", {"remarks": "x"}, format="json")
        assert "status" in error_fields(assert_error(response, 400, "validation_error"))
        assert snapshot() == before

    def test_if_match_with_the_current_etag_lets_the_change_through(self, school, persona_api, record):
        api = persona_api("office")
        etag = api.get(f"/api/attendance/{record.pk}")["ETag"]
        response = api.patch(f"/api/attendance/{record.pk}", {"status": "excused"}, format="json", HTTP_IF_MATCH=etag)
        assert response.status_code == 200
        assert response["ETag"] != etag

    @pytest.mark.parametrize("header", ['"{pk}-7"', 'W/"{pk}-0"', '"999999-1"', "garbage"])
    def test_a_stale_or_foreign_if_match_answers_412_and_changes_nothing(self, school, persona_api, record, header):
        api = persona_api("office")
        before = snapshot()
        for method in (api.patch, api.put):
            response = method(
                f"/api/attendance/{record.pk}",
                {"status": "excused"},
                format="json",
                HTTP_IF_MATCH=header.format(pk=record.pk),
            )
            assert_error(response, 412, "precondition_failed")
        assert snapshot() == before

    def test_a_second_writer_with_the_first_version_gets_412(self, school, persona_api, record):
        teacher, office = persona_api("teacher"), persona_api("office")
        etag = teacher.get(f"/api/attendance/{record.pk}")["ETag"]
        assert (
            office.patch(f"/api/attendance/{record.pk}", {"code": "I"}, format="json", HTTP_IF_MATCH=etag).status_code
            == 200
        )
        late = teacher.patch(f"/api/attendance/{record.pk}", {"status": "present"}, format="json", HTTP_IF_MATCH=etag)
        assert_error(late, 412, "precondition_failed")
        assert AttendanceRecord.objects.get().code.code == "I"

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"status": "present", "code": "/"}, "code"),
            ({"status": "sick"}, "status"),
            ({"code": "Q"}, "code"),
            ({"code": "I"}, "code"),
            ({"status": "present", "minutesLate": 3}, "minutesLate"),
            ({"minutesLate": 3}, "minutesLate"),
            ({"studentId": 5}, "studentId"),
            ({"date": "2026-11-27"}, "date"),
            ({"session": "PM"}, "session"),
            ({"version": 1, "note": "x"}, "note"),
        ],
    )
    def test_a_teachers_bad_change_is_refused_and_changes_nothing(self, school, persona_api, record, change, field):
        before = snapshot()
        response = persona_api("teacher").patch(f"/api/attendance/{record.pk}", change, format="json")
        assert field in error_fields(assert_error(response, 400, "validation_error"))
        assert snapshot() == before

    def test_a_retired_code_cannot_be_given_but_stays_on_old_marks(self, school, persona_api):
        old = make_record(school.child_a, letter="G")
        other = make_record(school.child_a, session="PM", letter="N")
        services.code_retire(code=code("G"))
        api = persona_api("office")
        assert api.get(f"/api/attendance/{old.pk}").json()["data"]["code"] == "G"
        assert api.patch(f"/api/attendance/{old.pk}", {"remarks": "Checked"}, format="json").status_code == 200
        response = api.patch(f"/api/attendance/{other.pk}", {"code": "G"}, format="json")
        assert "code" in error_fields(assert_error(response, 400, "validation_error"))
        assert AttendanceRecord.objects.get(pk=other.pk).code.code == "N"

    def test_a_teacher_cannot_change_another_classes_mark(self, school, persona_api):
        theirs = make_record(school.child_b, letter="N")
        before = snapshot()
        assert_error(
            persona_api("teacher").patch(f"/api/attendance/{theirs.pk}", {"status": "present"}, format="json"),
            404,
            "not_found",
        )
        assert snapshot() == before

    @pytest.mark.parametrize(("age", "allowed"), [(7, True), (8, False), (30, False)])
    def test_a_teacher_may_change_a_mark_only_inside_the_edit_window(self, school, persona_api, age, allowed):
        old = make_record(school.child_a, date=days_before(MONDAY, age), letter="N")
        before = snapshot()
        response = persona_api("teacher").patch(f"/api/attendance/{old.pk}", {"status": "present"}, format="json")
        if allowed:
            assert response.status_code == 200
        else:
            body = assert_error(response, 403, "permission_denied")
            assert "office" in body["details"][0]["message"]
            assert snapshot() == before

    @pytest.mark.parametrize("persona", ["office", "admin", "partner"])
    def test_the_office_and_partner_systems_of_record_may_change_an_old_mark(
        self, school, persona_api, partner_api, persona
    ):
        old = make_record(school.child_a, date=days_before(MONDAY, 60), letter="N")
        api = partner_api(READ_WRITE) if persona == "partner" else persona_api(persona)
        response = api.patch(f"/api/attendance/{old.pk}", {"code": "M"}, format="json")
        assert response.status_code == 200, response.json()
        assert AttendanceChange.objects.get().changes == {"code": ["N", "M"]}

    def test_the_edit_window_follows_the_setting(self, school, persona_api, settings):
        settings.ATTENDANCE_EDIT_WINDOW_DAYS = 2
        old = make_record(school.child_a, date=FRIDAY, letter="N")
        response = persona_api("teacher").patch(f"/api/attendance/{old.pk}", {"status": "present"}, format="json")
        assert_error(response, 403, "permission_denied")


class TestDeleting:
    def test_deleting_a_mark_keeps_who_deleted_what(self, school, persona_api):
        record = make_record(school.child_a, letter="L", minutes_late=5)
        response = persona_api("teacher").delete(f"/api/attendance/{record.pk}")
        assert response.status_code == 200
        assert response.json()["data"] == {"id": record.pk, "deleted": True}
        assert not AttendanceRecord.objects.exists()
        change = AttendanceChange.objects.get()
        assert (change.action, change.record_id_at_change, change.changed_by) == ("deleted", record.pk, school.teacher)
        assert change.changes == {"code": ["L", None]}
        assert (change.student, change.date, change.session) == (school.child_a, MONDAY, "AM")

    def test_a_deleted_mark_is_gone_and_may_be_recorded_again(self, school, partner_api):
        api = partner_api(READ_WRITE)
        record = make_record(school.child_a)
        assert api.delete(f"/api/attendance/{record.pk}/").status_code == 200
        assert_error(api.get(f"/api/attendance/{record.pk}"), 404, "not_found")
        assert_error(api.delete(f"/api/attendance/{record.pk}"), 404, "not_found")
        assert api.post("/api/attendance", guide_payload(school.child_a.pk), format="json").status_code == 201

    def test_a_stale_if_match_keeps_the_mark(self, school, persona_api):
        record = make_record(school.child_a)
        before = snapshot()
        response = persona_api("office").delete(f"/api/attendance/{record.pk}", HTTP_IF_MATCH=f'"{record.pk}-3"')
        assert_error(response, 412, "precondition_failed")
        assert snapshot() == before

    def test_a_teacher_cannot_delete_an_old_mark_or_another_classes(self, school, persona_api):
        old = make_record(school.child_a, date=days_before(MONDAY, 10))
        theirs = make_record(school.child_b)
        before = snapshot()
        api = persona_api("teacher")
        assert_error(api.delete(f"/api/attendance/{old.pk}"), 403, "permission_denied")
        assert_error(api.delete(f"/api/attendance/{theirs.pk}"), 404, "not_found")
        assert snapshot() == before

    def test_the_office_may_delete_an_old_mark(self, school, persona_api):
        old = make_record(school.child_a, date=days_before(MONDAY, 10))
        assert persona_api("office").delete(f"/api/attendance/{old.pk}").status_code == 200
        assert AttendanceChange.objects.get().changed_by == school.office


class TestRegisters:
    @pytest.fixture
    def pupils(self, school) -> list[Any]:
        """Class 7A: Amira and two more."""
        return [school.child_a, make_student(school.class_a), make_student(school.class_a)]

    def test_a_teacher_takes_their_classes_register(self, school, persona_api, pupils):
        marks = [
            {"studentId": pupils[0].pk, "status": "present"},
            {"studentId": pupils[1].pk, "code": "L", "minutesLate": 7, "remarks": "Bus"},
            {"studentId": pupils[2].pk, "status": "absent"},
        ]
        response = persona_api("teacher").post(
            "/api/attendance/registers", register_body(school.class_a.pk, marks), format="json"
        )
        assert response.status_code == 201, response.json()
        data = response.json()["data"]
        register = Register.objects.get()
        assert (data["created"], data["updated"], data["unchanged"]) == (3, 0, 0)
        assert data["register"]["id"] == register.pk
        assert (data["register"]["classGroup"], data["register"]["session"], data["register"]["takenBy"]) == (
            "7A",
            "AM",
            school.teacher.pk,
        )
        # Taken at 16:00, after the 09:30 close: flagged late.
        assert data["register"]["isLate"] is True
        records = {r.student_id: r for r in AttendanceRecord.objects.select_related("code")}
        assert {pk: r.code.code for pk, r in records.items()} == {
            pupils[0].pk: "/",
            pupils[1].pk: "L",
            pupils[2].pk: "N",
        }
        assert records[pupils[1].pk].minutes_late == 7 and records[pupils[1].pk].remarks == "Bus"
        assert {r.register_id for r in records.values()} == {register.pk}
        assert {r.source for r in records.values()} == {"register"}
        history = AttendanceChange.objects.all()
        assert {(c.action, c.changed_by_id, c.record_id_at_change) for c in history} == {
            ("created", school.teacher.pk, r.pk) for r in records.values()
        }

    def test_a_register_taken_before_it_closes_is_on_time(self, school, persona_api, pupils, time_machine):
        time_machine.move_to(datetime.datetime(2026, 11, 30, 9, 5, tzinfo=MONDAY_AFTERNOON.tzinfo), tick=False)
        marks = [{"studentId": p.pk, "status": "present"} for p in pupils]
        response = persona_api("teacher").post(
            "/api/attendance/registers", register_body(school.class_a.pk, marks), format="json"
        )
        assert response.json()["data"]["register"]["isLate"] is False

    def test_submitting_again_changes_only_what_changed_and_keeps_the_history(self, school, persona_api, pupils):
        api = persona_api("teacher")
        marks = [{"studentId": p.pk, "status": "present"} for p in pupils]
        api.post("/api/attendance/registers", register_body(school.class_a.pk, marks), format="json")
        first_submitted = Register.objects.get().submitted_at
        marks[2] = {"studentId": pupils[2].pk, "status": "late", "minutesLate": 20}
        response = persona_api("office").post(
            "/api/attendance/registers", register_body(school.class_a.pk, marks), format="json"
        )
        assert response.status_code == 200
        data = response.json()["data"]
        assert (data["created"], data["updated"], data["unchanged"]) == (0, 1, 2)
        register = Register.objects.get()
        assert register.submitted_at == first_submitted and register.taken_by == school.office
        changed = AttendanceChange.objects.get(action="changed")
        assert (changed.changed_by, changed.changes) == (
            school.office,
            {"code": ["/", "L"], "minutes_late": [None, 20]},
        )
        assert AttendanceRecord.objects.get(student=pupils[2]).version == 2

    def test_a_register_may_leave_students_for_later(self, school, persona_api, pupils):
        marks = [{"studentId": pupils[0].pk, "status": "present"}]
        response = persona_api("teacher").post(
            "/api/attendance/registers", register_body(school.class_a.pk, marks), format="json"
        )
        assert response.json()["data"]["created"] == 1
        assert AttendanceRecord.objects.count() == 1

    @pytest.mark.parametrize("persona", ["office", "admin", "partner"])
    def test_the_office_and_partners_take_any_register_with_any_code(self, school, persona_api, partner_api, persona):
        api = partner_api(READ_WRITE) if persona == "partner" else persona_api(persona)
        marks = [{"studentId": school.child_b.pk, "code": "E", "remarks": "Fixed term"}]
        response = api.post("/api/attendance/registers", register_body(school.class_b.pk, marks), format="json")
        assert response.status_code == 201, response.json()
        record = AttendanceRecord.objects.get()
        assert record.source == ("api" if persona == "partner" else "register")
        assert Register.objects.get().taken_by_id == (None if persona == "partner" else getattr(school, persona).pk)

    def test_a_teacher_cannot_take_another_classes_register(self, school, persona_api):
        before = snapshot()
        marks = [{"studentId": school.child_b.pk, "status": "present"}]
        response = persona_api("teacher").post(
            "/api/attendance/registers", register_body(school.class_b.pk, marks), format="json"
        )
        body = assert_error(response, 400, "validation_error")
        assert error_fields(body) == {"classGroup"}
        assert snapshot() == before

    def test_a_teacher_who_also_teaches_the_class_may_take_its_register(self, school, persona_api):
        school.class_b.teachers.add(school.teacher)
        marks = [{"studentId": school.child_b.pk, "status": "present"}]
        response = persona_api("teacher").post(
            "/api/attendance/registers", register_body(school.class_b.pk, marks), format="json"
        )
        assert response.status_code == 201

    @pytest.mark.parametrize("day", BAD_DAYS)
    def test_it_refuses_a_register_for_a_day_without_one(self, school, partner_api, pupils, day):
        date = bad_day(day)
        before = snapshot()
        marks = [{"studentId": p.pk, "status": "present"} for p in pupils]
        response = partner_api(READ_WRITE).post(
            "/api/attendance/registers", register_body(school.class_a.pk, marks, date=str(date)), format="json"
        )
        assert error_fields(assert_error(response, 400, "validation_error")) == {"date"}
        assert snapshot() == before

    @pytest.mark.parametrize(
        ("persona", "bad_mark", "field"),
        [
            ("teacher", {"code": "Z"}, "marks[2].code"),
            ("teacher", {"status": "sick"}, "marks[2].status"),
            ("teacher", {"status": "present", "code": "/"}, "marks[2].code"),
            ("teacher", {}, "marks[2].status"),
            ("teacher", {"code": "I"}, "marks[2].code"),
            ("teacher", {"code": "G", "retired": True}, "marks[2].code"),
            ("office", {"code": "G", "retired": True}, "marks[2].code"),
            ("teacher", {"status": "present", "minutesLate": 5}, "marks[2].minutesLate"),
            ("office", {"code": "N", "minutesLate": 5}, "marks[2].minutesLate"),
            ("teacher", {"status": "present", "arrivedAt": "09:10"}, "marks[2].arrivedAt"),
            ("teacher", {"status": "present", "remarks": "x" * 501}, "marks[2].remarks"),
            ("teacher", {"status": "present", "studentId": "nine"}, "marks[2].studentId"),
            ("teacher", {"status": "present", "studentId": "outsider"}, "marks[2].studentId"),
            ("teacher", {"status": "present", "studentId": 999999}, "marks[2].studentId"),
            ("teacher", {"status": "present", "studentId": "twice"}, "marks[2].studentId"),
            ("office", {"status": "present", "studentId": "outsider"}, "marks[2].studentId"),
        ],
    )
    def test_one_bad_mark_and_nothing_is_written(self, school, persona_api, pupils, persona, bad_mark, field):
        bad_mark = dict(bad_mark)
        if bad_mark.pop("retired", False):
            services.code_retire(code=code(bad_mark["code"]))
        student = {"outsider": school.child_b.pk, "twice": pupils[0].pk}.get(bad_mark.get("studentId"))
        bad_mark["studentId"] = student or bad_mark.get("studentId", pupils[2].pk)
        marks = [{"studentId": pupils[0].pk, "status": "present"}, {"studentId": pupils[1].pk, "status": "absent"}]
        before = snapshot()
        response = persona_api(persona).post(
            "/api/attendance/registers", register_body(school.class_a.pk, [*marks, bad_mark]), format="json"
        )
        body = assert_error(response, 400, "validation_error")
        assert field in error_fields(body), body
        assert snapshot() == before

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"date": "2026/11/30"}, "date"),
            ({"date": "2026-11-31"}, "date"),
            ({"session": "EVE"}, "session"),
            ({"session": None}, "session"),
            ({"classGroup": "7A"}, "classGroup"),
            ({"classGroup": 999999}, "classGroup"),
            ({"marks": []}, "marks"),
            ({"marks": "all present"}, "marks"),
            ({"takenBy": 1}, "takenBy"),
        ],
    )
    def test_a_bad_register_is_refused_and_nothing_is_written(self, school, persona_api, pupils, change, field):
        marks = [{"studentId": p.pk, "status": "present"} for p in pupils]
        body = {k: v for k, v in {**register_body(school.class_a.pk, marks), **change}.items() if v is not None}
        before = snapshot()
        response = persona_api("teacher").post("/api/attendance/registers", body, format="json")
        assert field in error_fields(assert_error(response, 400, "validation_error"))
        assert snapshot() == before

    def test_an_oversized_register_answers_413(self, school, persona_api):
        marks = [{"studentId": index, "status": "present"} for index in range(1, 202)]
        before = snapshot()
        response = persona_api("office").post(
            "/api/attendance/registers", register_body(school.class_a.pk, marks), format="json"
        )
        body = assert_error(response, 413, "payload_too_large")
        assert body["details"][0]["field"] == "marks"
        assert snapshot() == before

    @pytest.mark.parametrize(
        ("age", "persona", "status"), [(7, "teacher", 201), (10, "teacher", 403), (10, "office", 201)]
    )
    def test_a_late_register_is_the_offices_once_the_window_has_passed(self, school, persona_api, age, persona, status):
        date = days_before(MONDAY, age)
        marks = [{"studentId": school.child_a.pk, "status": "present"}]
        before = snapshot()
        response = persona_api(persona).post(
            "/api/attendance/registers", register_body(school.class_a.pk, marks, date=str(date)), format="json"
        )
        assert response.status_code == status, response.json()
        if status == 403:
            assert_error(response, 403, "permission_denied")
            assert snapshot() == before

    def test_a_teacher_may_not_correct_an_old_register_either(self, school, persona_api):
        old = days_before(MONDAY, 10)
        make_record(school.child_a, date=old, letter="N")
        before = snapshot()
        marks = [{"studentId": school.child_a.pk, "status": "present"}]
        response = persona_api("teacher").post(
            "/api/attendance/registers", register_body(school.class_a.pk, marks, date=str(old)), format="json"
        )
        assert_error(response, 403, "permission_denied")
        assert snapshot() == before

    def test_an_accepted_absence_report_lets_the_teacher_use_the_office_code(self, school, persona_api, pupils):
        report = AbsenceReport.objects.create(
            student=pupils[1],
            reported_by=None,
            starts_on=MONDAY,
            ends_on=TUESDAY,
            sessions="AM PM",
            reason="medical",
        )
        marks = [
            {"studentId": pupils[0].pk, "status": "present"},
            {"studentId": pupils[1].pk, "code": "M"},
            {"studentId": pupils[2].pk, "code": "M"},
        ]
        api = persona_api("teacher")
        body = register_body(school.class_a.pk, marks)
        # Pending: the office has not accepted it yet.
        assert_error(api.post("/api/attendance/registers", body, format="json"), 400, "validation_error")
        report.status = AbsenceReport.Status.ACCEPTED
        report.save()
        response = api.post("/api/attendance/registers", body, format="json")
        # Only the reported child may carry the office's code.
        assert error_fields(assert_error(response, 400, "validation_error")) == {"marks[2].code"}
        marks[2] = {"studentId": pupils[2].pk, "status": "present"}
        response = api.post("/api/attendance/registers", register_body(school.class_a.pk, marks), format="json")
        assert response.status_code == 201, response.json()
        assert AttendanceRecord.objects.get(student=pupils[1]).code.code == "M"

    def test_a_register_costs_the_same_queries_for_5_or_25_students(self, school, persona_api):
        big = make_class_group("7C", tutor=school.teacher)
        small_class = [school.child_a, *(make_student(school.class_a) for _ in range(4))]
        big_class = [make_student(big) for _ in range(25)]
        api = persona_api("teacher")

        def marks(students):
            return [
                {"studentId": s.pk, **({"status": "present"} if i % 3 else {"code": "L", "minutesLate": 3})}
                for i, s in enumerate(students)
            ]

        warm_up = api.post(
            "/api/attendance/registers",
            register_body(school.class_a.pk, marks(small_class), date=str(FRIDAY)),
            format="json",
        )
        assert warm_up.status_code == 201
        with CaptureQueriesContext(connection) as small:
            response = api.post(
                "/api/attendance/registers", register_body(school.class_a.pk, marks(small_class)), format="json"
            )
            assert response.json()["data"]["created"] == 5
        with CaptureQueriesContext(connection) as large:
            response = api.post("/api/attendance/registers", register_body(big.pk, marks(big_class)), format="json")
            assert response.json()["data"]["created"] == 25
        assert len(large) == len(small), [q["sql"] for q in large.captured_queries]

        # Correcting a register (updates and their history) costs the same for any size too.
        def correct(group, students):
            absent = [{"studentId": s.pk, "status": "absent"} for s in students]
            with CaptureQueriesContext(connection) as queries:
                response = api.post("/api/attendance/registers", register_body(group.pk, absent), format="json")
            assert response.json()["data"]["updated"] == len(students)
            return queries

        small_correction, large_correction = correct(school.class_a, small_class), correct(big, big_class)
        assert len(large_correction) == len(small_correction), [q["sql"] for q in large_correction.captured_queries]
