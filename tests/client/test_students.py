"""Students, guardians and guardianships through the client, against the real API."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from harmony.roles import Role
from school_api_client import SchoolAPIError
from students.models import Student
from tests.factories import PASSWORD, make_class_group, make_guardian, make_student, make_user

pytestmark = pytest.mark.django_db(transaction=True)

NEW_STUDENT = {
    "firstName": "Ahmed",
    "lastName": "Mohammed",
    "email": "ahmed@school.com",
    "rollNumber": "SMS2024001",
    "dateOfBirth": "2008-03-15",
    "gender": "male",
}


def test_the_guides_first_snippet_works_as_written(make_client):
    make_user("admin@school.com", Role.ADMINISTRATOR)
    student = make_student(first_name="Amira")
    client = make_client(grant="password")

    auth = client.authenticate("admin@school.com", PASSWORD)
    assert auth["access_token"]

    students = client.get_students(limit=10)
    assert students["count"] == 1

    student = client.get_student(student.pk)
    assert student["data"]["user"]["firstName"] == "Amira"


class TestReading:
    def test_a_page_is_the_whole_envelope(self, make_client, wire):
        for _ in range(5):
            make_student()
        page = make_client().get_students(page=2, limit=2)

        assert page["success"] is True
        assert (page["count"], page["page"], page["limit"], page["totalPages"]) == (5, 2, 2, 3)
        assert len(page["data"]) == 2
        assert page.headers["X-Total-Count"] == "5"
        assert page.status_code == 200
        assert page.request_id == wire.api_answers[-1].headers["X-Request-ID"]
        assert json.loads(json.dumps(page)) == dict(page)  # a plain dict for everything that takes one

    def test_iter_students_pages_through_every_student(self, make_client, wire):
        made = {make_student().pk for _ in range(5)}
        students = make_client().iter_students(page_size=2)

        assert wire.api_requests == []  # a generator: nothing is fetched before it is read
        assert {s["id"] for s in students} == made
        pages = [request.url.split("?")[1] for request in wire.api_requests]
        assert pages == ["page=1&limit=2", "page=2&limit=2", "page=3&limit=2"]

    def test_iter_students_stops_on_an_empty_school(self, make_client, wire):
        assert list(make_client().iter_students()) == []
        assert len(wire.api_requests) == 1

    def test_filters_may_be_written_in_snake_case(self, make_client, wire):
        class_a = make_class_group("7A")
        amira = make_student(class_a, first_name="Amira")
        make_student(class_a, status=Student.Status.LEFT)
        make_student(make_class_group("7B"))

        page = make_client().get_students(class_group="7A", status="active", search=None)

        assert [s["id"] for s in page["data"]] == [amira.pk]
        assert wire.api_requests[0].url.endswith("/api/students?classGroup=7A&status=active&page=1&limit=20")

    def test_datetimes_are_sent_in_iso_8601_and_must_name_their_zone(self, make_client, wire):
        make_student()
        client = make_client()
        future = datetime.now(UTC) + timedelta(days=1)
        assert client.get_students(updated_since=future)["count"] == 0
        assert client.get_students(updated_since=future - timedelta(days=2))["count"] == 1

        with pytest.raises(ValueError, match="timezone-aware"):
            client.get_students(updated_since=datetime(2024, 1, 1))
        assert len(wire.api_requests) == 2  # the naive datetime never left the client

    def test_get_student_carries_the_guides_user_block_and_the_etag(self, make_client):
        student = make_student(first_name="Amira", last_name="Ahmed", email="amira@school.test")
        answer = make_client().get_student(student.pk)

        assert answer["data"]["user"] == {"firstName": "Amira", "lastName": "Ahmed", "email": "amira@school.test"}
        assert answer.etag == f'"{student.pk}-1"'


class TestWriting:
    def test_create_then_update_with_the_etag(self, make_client, wire):
        client = make_client()
        created = client.create_student(NEW_STUDENT)
        student_id = created["data"]["id"]
        assert created.status_code == 201
        assert created.etag == f'"{student_id}-1"'

        updated = client.update_student(student_id, {"lastName": "Mohamed"}, etag=created.etag)

        assert wire.api_requests[-1].method == "PATCH"
        assert wire.api_requests[-1].headers["If-Match"] == created.etag
        assert updated["data"]["lastName"] == "Mohamed"
        assert updated.etag == f'"{student_id}-2"'

    def test_a_stale_etag_raises_412_and_changes_nothing(self, make_client):
        client = make_client()
        created = client.create_student(NEW_STUDENT)
        student_id = created["data"]["id"]
        client.update_student(student_id, {"lastName": "Mohamed"}, etag=created.etag)

        with pytest.raises(SchoolAPIError) as raised:
            client.update_student(student_id, {"firstName": "Ahmad"}, etag=created.etag)

        assert raised.value.status_code == 412
        assert raised.value.code == "precondition_failed"
        assert raised.value.retryable is False
        assert client.get_student(student_id)["data"]["firstName"] == "Ahmed"

    def test_update_without_an_etag_is_unconditional(self, make_client, wire):
        client = make_client()
        student_id = client.create_student(NEW_STUDENT)["data"]["id"]
        assert client.update_student(student_id, {"gender": "undisclosed"})["data"]["gender"] == "undisclosed"
        assert "If-Match" not in wire.api_requests[-1].headers

    def test_replace_student_puts_the_whole_record(self, make_client, wire):
        client = make_client()
        created = client.create_student(NEW_STUDENT)
        replaced = client.replace_student(
            created["data"]["id"], {"rollNumber": "SMS2024001", "firstName": "Ahmed", "lastName": "M"}, created.etag
        )
        assert wire.api_requests[-1].method == "PUT"
        assert (replaced["data"]["lastName"], replaced["data"]["email"]) == ("M", "ahmed@school.com")

    def test_delete_student_checks_the_etag_and_leaves_a_tombstone(self, make_client):
        client = make_client()
        created = client.create_student(NEW_STUDENT)
        student_id = created["data"]["id"]
        client.update_student(student_id, {"lastName": "Mohamed"})

        with pytest.raises(SchoolAPIError) as raised:
            client.delete_student(student_id, etag=created.etag)
        assert raised.value.status_code == 412

        current = client.get_student(student_id).etag
        gone = client.delete_student(student_id, etag=current)
        assert gone["data"] == {"id": student_id, "rollNumber": "SMS2024001", "deleted": True}

    def test_dates_in_the_data_are_sent_in_iso_8601(self, make_client, wire):
        created = make_client().create_student({**NEW_STUDENT, "dateOfBirth": date(2008, 3, 15)})
        assert created["data"]["dateOfBirth"] == "2008-03-15"
        assert json.loads(wire.api_requests[-1].body)["dateOfBirth"] == "2008-03-15"
        assert wire.api_requests[-1].headers["Content-Type"] == "application/json"


class TestErrors:
    def test_an_unknown_student_raises_not_found(self, make_client, wire):
        with pytest.raises(SchoolAPIError) as raised:
            make_client().get_student(999999)
        error = raised.value
        assert (error.status_code, error.code, error.error) == (404, "not_found", "Not found")
        assert error.request_id == wire.api_answers[-1].headers["X-Request-ID"]
        assert error.body["success"] is False
        assert error.response is wire.api_answers[-1]
        assert str(error).startswith("404 Not found (not_found)")
        assert error.request_id in str(error)

    def test_a_validation_error_carries_the_fields_details(self, make_client):
        client = make_client()
        with pytest.raises(SchoolAPIError) as raised:
            client.create_student({**NEW_STUDENT, "dateOfBirth": "2999-01-01"})
        error = raised.value
        assert (error.status_code, error.code) == (400, "validation_error")
        assert [detail["field"] for detail in error.details] == ["dateOfBirth"]
        assert "dateOfBirth: A date of birth must be in the past." in str(error)

        with pytest.raises(SchoolAPIError) as raised:
            client.create_student({**NEW_STUDENT, "nickname": "Ahmo"})
        assert raised.value.details[0]["field"] == "nickname"
        assert raised.value.details[0]["code"] == "unknown_field"

    def test_a_duplicate_roll_number_is_a_conflict(self, make_client):
        client = make_client()
        client.create_student(NEW_STUDENT)
        with pytest.raises(SchoolAPIError) as raised:
            client.create_student(NEW_STUDENT)
        assert (raised.value.status_code, raised.value.code) == (409, "duplicate_roll_number")

    def test_a_missing_scope_raises_403(self, make_client):
        with pytest.raises(SchoolAPIError) as raised:
            make_client("students:read").create_student(NEW_STUDENT)
        assert (raised.value.status_code, raised.value.code) == (403, "insufficient_scope")


class TestGuardians:
    def test_guardians_can_be_listed_read_created_changed_and_removed(self, make_client):
        child = make_student(first_name="Amira")
        existing = make_guardian(child)
        client = make_client()

        assert [g["id"] for g in client.get_guardians()["data"]] == [existing.pk]
        assert client.get_guardian(existing.pk)["data"]["children"][0]["studentId"] == child.pk

        created = client.create_guardian({"firstName": "Fatima", "lastName": "Ahmed", "email": "fatima@family.test"})
        guardian_id = created["data"]["id"]
        assert created.status_code == 201
        changed = client.update_guardian(guardian_id, {"phone": "07700900003"})
        assert changed["data"]["phone"] == "07700900003"
        assert {g["id"] for g in client.iter_guardians(page_size=1)} == {existing.pk, guardian_id}

        assert client.delete_guardian(guardian_id)["data"] == {"id": guardian_id, "deleted": True}
        with pytest.raises(SchoolAPIError) as raised:
            client.get_guardian(guardian_id)
        assert raised.value.code == "not_found"

    def test_guardianships_link_and_unlink_guardians_and_students(self, make_client):
        child = make_student()
        guardian = make_guardian()
        client = make_client()

        link = client.create_guardianship({"guardianId": guardian.pk, "studentId": child.pk, "relationship": "father"})
        link_id = link["data"]["id"]
        assert client.get_guardianship(link_id)["data"]["relationship"] == "father"
        assert [g["id"] for g in client.get_guardianships()["data"]] == [link_id]
        assert client.update_guardianship(link_id, {"primaryContact": True})["data"]["primaryContact"] is True
        assert client.delete_guardianship(link_id)["data"] == {"id": link_id, "deleted": True}
        assert client.get_guardianships()["count"] == 0
