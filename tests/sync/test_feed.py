"""GET /api/sync/changes: every write to students and attendance, in order after a cursor, as each record is now."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from attendance.models import AttendanceCode, AttendanceRecord
from attendance.services import record_create, record_delete
from harmony.models import Change
from harmony.sync.changes import decode_cursor
from privacy.models import ConsentState, DisclosedStudent, Disclosure, PartnerPurpose, Purpose
from privacy.registry import Subject, providers
from students.models import Student
from tests.factories import make_student, make_user
from tests.sync.conftest import push, read_feed

pytestmark = pytest.mark.django_db

MONDAY = datetime.date(2026, 11, 30)


def student(n: int, **fields: Any) -> dict[str, Any]:
    return {"rollNumber": f"F{n:03d}", "firstName": f"First{n}", "lastName": f"Last{n}", **fields}


def keys(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(item["operation"], item["key"]["rollNumber"]) for item in items]


class TestOrder:
    def test_it_gives_the_changes_in_order_and_then_only_the_new_ones(self, school, sync_api):
        api = sync_api()
        items, cursor = read_feed(api, "students")
        assert items == []  # the school's children were made by factories, outside the services
        push(api, "students", [student(1), student(2)])
        push(api, "students", [student(3), student(1, lastName="Again")])
        items, cursor = read_feed(api, "students", limit=2)
        assert keys(items) == [("upsert", "F001"), ("upsert", "F002"), ("upsert", "F003"), ("upsert", "F001")]
        assert items[3]["record"]["lastName"] == "Again"

        push(api, "students", [student(4)])
        newer, cursor = read_feed(api, "students", cursor)
        assert keys(newer) == [("upsert", "F004")]
        assert read_feed(api, "students", cursor)[0] == []

    def test_a_record_is_shown_as_the_students_api_shows_it(self, school, sync_api, persona_api):
        api = sync_api()
        push(api, "students", [student(1, classGroupId=school.class_a.pk, dateOfBirth="2013-02-03")])
        item = read_feed(api, "students")[0][0]
        shown = persona_api("partner").get(f"/api/students/{item['record']['id']}").json()["data"]
        assert item["record"] == shown
        assert item["key"] == {"rollNumber": "F001"}
        assert set(item) == {"operation", "key", "changedAt", "record"}

    def test_a_record_changed_twice_in_one_page_appears_once_as_it_is_now(self, school, sync_api):
        api = sync_api()
        push(api, "students", [student(1)])
        push(api, "students", [student(1, firstName="Second")])
        items, _ = read_feed(api, "students")
        assert keys(items) == [("upsert", "F001")]
        assert items[0]["record"]["firstName"] == "Second"

    def test_pages_follow_each_other_without_gaps_or_repeats(self, school, sync_api):
        api = sync_api()
        push(api, "students", [student(n) for n in range(25)])
        seen = []
        cursor, pages = "", 0
        while True:
            body = api.get("/api/sync/changes", {"entity": "students", "cursor": cursor, "limit": 7}).json()
            seen.extend(item["key"]["rollNumber"] for item in body["data"])
            assert body["limit"] == 7
            cursor, pages = body["nextCursor"], pages + 1
            if not body["hasMore"]:
                break
        assert seen == [f"F{n:03d}" for n in range(25)]
        assert pages == 4

    def test_the_cursor_is_opaque_and_checked(self, school, sync_api):
        api = sync_api()
        push(api, "students", [student(1)])
        cursor = api.get("/api/sync/changes", {"entity": "students"}).json()["nextCursor"]
        assert not cursor.isdigit() and decode_cursor(cursor) >= 1
        response = api.get("/api/sync/changes", {"entity": "students", "cursor": "42"})
        assert response.status_code == 400
        assert response.json()["details"][0]["field"] == "cursor"

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({"entity": "guardians"}, "entity"),
            ({}, "entity"),
            ({"entity": "students", "limit": 1001}, "limit"),
            ({"entity": "students", "since": "x"}, "since"),
        ],
    )
    def test_it_refuses_bad_parameters(self, school, sync_api, query, field):
        response = sync_api().get("/api/sync/changes", query)
        assert response.status_code == 400
        assert response.json()["details"][0]["field"] == field


class TestEveryWrite:
    def test_the_students_api_writes_land_in_the_feed_with_their_source(self, school, sync_api, persona_api):
        partner = persona_api("partner")
        created = partner.post("/api/students", student(1), format="json").json()["data"]
        partner.patch(f"/api/students/{created['id']}", {"firstName": "Changed"}, format="json")
        partner.delete(f"/api/students/{created['id']}")
        changes = list(Change.objects.filter(entity="students").values_list("operation", "source", "application_id"))
        app = partner.application.pk
        assert changes == [("upsert", "api", app), ("upsert", "api", app), ("delete", "api", app)]
        items, _ = read_feed(sync_api(), "students")
        assert items == [{"operation": "delete", "key": {"rollNumber": "F001"}, "changedAt": items[0]["changedAt"]}]

    def test_admin_saves_and_deletions_go_through_the_services(self, school, client):
        client.force_login(make_user("root@school.test", is_staff=True, is_superuser=True))
        inline = {
            "guardianships-TOTAL_FORMS": "0",
            "guardianships-INITIAL_FORMS": "0",
            "guardianships-MIN_NUM_FORMS": "0",
            "guardianships-MAX_NUM_FORMS": "1000",
        }
        form = {"roll_number": "ADM01", "first_name": "Ada", "last_name": "Admin", "status": "active", **inline}
        response = client.post("/admin/students/student/add/", form)
        assert response.status_code == 302, response.content
        added = Student.objects.get(roll_number="ADM01")
        change = {**form, "first_name": "Adaline"}
        del change["roll_number"]
        assert client.post(f"/admin/students/student/{added.pk}/change/", change).status_code == 302
        assert client.post(f"/admin/students/student/{added.pk}/delete/", {"post": "yes"}).status_code == 302
        added.refresh_from_db()
        assert added.deleted_at is not None and added.first_name == "" and added.version == 3
        changes = list(Change.objects.filter(record_id=added.pk).values_list("operation", "source"))
        assert changes == [("upsert", "admin"), ("upsert", "admin"), ("delete", "admin")]

    def test_attendance_services_write_to_the_feed(self, school, user_api, sync_api):
        register = {"classGroup": school.class_a.pk, "date": str(MONDAY), "session": "AM"}
        register["marks"] = [{"studentId": school.child_a.pk, "code": "/"}]
        assert user_api(school.teacher).post("/api/attendance/registers", register, format="json").status_code == 201
        present = AttendanceCode.objects.get(code="/")
        pm = record_create(actor=school.office, student=school.child_b, date=MONDAY, session="PM", code=present)
        record_delete(actor=school.office, record=pm)
        changes = list(Change.objects.filter(entity="attendance").values_list("operation", "source", "key"))
        assert changes == [
            ("upsert", "register", {"rollNumber": "A0001", "date": "2026-11-30", "session": "AM"}),
            ("upsert", "api", {"rollNumber": "B0001", "date": "2026-11-30", "session": "PM"}),
            ("delete", "api", {"rollNumber": "B0001", "date": "2026-11-30", "session": "PM"}),
        ]
        items, _ = read_feed(sync_api(), "attendance")
        assert [item["operation"] for item in items] == ["upsert", "delete"]
        assert items[0]["record"]["code"] == "/" and items[0]["record"]["rollNumber"] == "A0001"
        assert items[1] == {
            "operation": "delete",
            "key": {"rollNumber": "B0001", "date": "2026-11-30", "session": "PM"},
            "changedAt": items[1]["changedAt"],
        }


class TestTombstones:
    def test_an_erased_child_leaves_only_the_roll_number_in_the_feed(self, school, sync_api):
        api = sync_api()
        push(api, "students", [{"rollNumber": "A0001", "address": "1 Secret Lane", "medicalNotes": "Asthma"}])
        for provider in providers():
            provider.erase(Subject(student=school.child_a))
        items, _ = read_feed(api, "students")
        assert items == [{"operation": "delete", "key": {"rollNumber": "A0001"}, "changedAt": items[0]["changedAt"]}]
        stored = json.dumps(list(Change.objects.values("key", "source", "entity")))
        for erased in ("Amira", "Ahmed", "Secret", "Asthma", "2012-01-01"):
            assert erased not in json.dumps(items) and erased not in stored
        assert Change.objects.filter(operation="delete", source="privacy", record_id=school.child_a.pk).exists()

    def test_an_erased_childs_marks_leave_tombstones_for_partners_copies(self, school, sync_api):
        code = AttendanceCode.objects.get(code="/")
        for day in (datetime.date(2026, 11, 23), datetime.date(2026, 11, 24)):
            AttendanceRecord.objects.create(
                student=school.child_a, date=day, session="AM", code=code, remarks="Came in upset", source="office"
            )
        for provider in providers():
            provider.erase(Subject(student=school.child_a))
        deleted = Change.objects.filter(entity="attendance", operation="delete", source="privacy")
        assert sorted(change.key["date"] for change in deleted) == ["2026-11-23", "2026-11-24"]
        assert all(set(change.key) == {"rollNumber", "date", "session"} for change in deleted)
        assert "upset" not in json.dumps(list(Change.objects.values("key")))


class TestWhoSeesWhat:
    @pytest.mark.parametrize("scopes", ["students:read attendance:read", "sync attendance:read"])
    def test_it_needs_the_sync_scope_and_the_entitys_read_scope(self, school, sync_api, scopes):
        response = sync_api(scopes).get("/api/sync/changes", {"entity": "students"})
        assert response.status_code == 403
        assert response.json()["code"] == "insufficient_scope"

    def test_a_partner_acting_for_a_consent_purpose_sees_only_children_with_consent(self, school, sync_api):
        writer = sync_api()
        push(
            writer,
            "students",
            [{"rollNumber": "A0001", "email": "a@x.test"}, {"rollNumber": "B0001", "email": "b@x.test"}],
        )
        push(
            writer,
            "attendance",
            [{"rollNumber": r, "date": str(MONDAY), "status": "present"} for r in ("A0001", "B0001")],
        )
        reader = sync_api()
        purpose = Purpose.objects.create(code="trips", title="Trips", requires_consent=True)
        PartnerPurpose.objects.create(application=reader.application, purpose=purpose, is_default=True)
        ConsentState.objects.create(student=school.child_a, purpose=purpose, state="granted")
        ConsentState.objects.create(student=school.child_b, purpose=purpose, state="refused")
        students, _ = read_feed(reader, "students")
        marks, _ = read_feed(reader, "attendance")
        assert keys(students) == [("upsert", "A0001")]
        assert [item["record"]["rollNumber"] for item in marks] == ["A0001"]
        assert "Bilal" not in json.dumps(students + marks)

    def test_the_purposes_fields_limit_each_record(self, school, sync_api):
        api = sync_api()
        purpose = Purpose.objects.create(
            code="roster", title="Roster", requires_consent=False, visible_fields={"students": ["rollNumber"]}
        )
        PartnerPurpose.objects.create(application=api.application, purpose=purpose, is_default=True)
        push(api, "students", [student(1, dateOfBirth="2013-02-03")])
        item = read_feed(api, "students")[0][0]
        assert item["record"] == {"id": item["record"]["id"], "rollNumber": "F001"}

    def test_each_page_with_children_is_in_the_disclosure_log(self, school, sync_api):
        api = sync_api()
        push(api, "students", [{"rollNumber": "A0001", "email": "a@x.test"}, student(1)])
        read_feed(api, "students")
        disclosure = Disclosure.objects.get(application=api.application, entity="students")
        assert disclosure.record_count == 2 and disclosure.path.startswith("/api/sync/changes")
        logged = set(DisclosedStudent.objects.filter(disclosure=disclosure).values_list("student_id", flat=True))
        assert logged == {school.child_a.pk, Student.objects.get(roll_number="F001").pk}

    def test_a_record_deleted_since_its_change_is_left_out_until_its_tombstone(self, school, sync_api):
        api = sync_api()
        pupil = make_student(school.class_a, roll_number="GONE")
        push(api, "attendance", [{"rollNumber": "GONE", "date": str(MONDAY), "status": "present"}])
        AttendanceRecord.objects.filter(student=pupil).delete()  # outside the services: nothing to show
        assert read_feed(api, "attendance")[0] == []
