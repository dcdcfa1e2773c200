"""The students API from the outside: envelope, paging, filters, writes, and who sees what."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from students.models import Guardianship, Student
from tests.factories import make_student

pytestmark = pytest.mark.django_db

NEW_STUDENT = {
    "firstName": "John",
    "lastName": "Doe",
    "email": "john.doe@example.com",
    "rollNumber": "SMS2024001",
    "dateOfBirth": "2005-05-15",
    "gender": "male",
}


def ids(response: Any) -> set[int]:
    return {item["id"] for item in response.json()["data"]}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status, body
    assert body["success"] is False
    assert body["code"] == code
    assert body["error"]
    assert isinstance(body["details"], list)
    assert body["requestId"] == response["X-Request-ID"]
    return body


class TestListing:
    def test_it_lists_in_the_envelope_with_paging_headers(self, school, persona_api):
        for _ in range(3):
            make_student(school.class_a)
        response = persona_api("partner").get("/api/students?page=2&limit=2")
        body = response.json()
        assert response.status_code == 200
        assert body["success"] is True
        assert (body["count"], body["page"], body["limit"], body["totalPages"]) == (5, 2, 2, 3)
        assert len(body["data"]) == 2
        assert response["X-Total-Count"] == "5"
        assert 'rel="next"' in response["Link"] and 'rel="prev"' in response["Link"]
        assert "page=3" in response["Link"]

    def test_it_answers_with_and_without_a_trailing_slash(self, school, persona_api):
        api = persona_api("partner")
        assert api.get("/api/students").status_code == 200
        assert api.get("/api/students/").status_code == 200
        assert api.get(f"/api/students/{school.child_a.pk}").status_code == 200
        assert api.get(f"/api/students/{school.child_a.pk}/").status_code == 200

    def test_it_uses_camel_case_and_keeps_the_guides_user_block(self, school, persona_api):
        data = persona_api("partner").get(f"/api/students/{school.child_a.pk}").json()["data"]
        assert data["rollNumber"] == "A0001"
        assert data["firstName"] == "Amira"
        assert data["dateOfBirth"] == "2012-01-01"
        assert data["classGroup"] == {"id": school.class_a.pk, "name": "7A", "yearGroup": 7}
        assert data["user"]["firstName"] == "Amira"

    @pytest.mark.parametrize(
        ("query", "expected"),
        [("search=amira", {"A0001"}), ("search=B0001", {"B0001"}), ("search=ahmed amira", {"A0001"})],
    )
    def test_it_searches_by_name_or_roll_number(self, school, persona_api, query, expected):
        data = persona_api("partner").get(f"/api/students?{query}").json()["data"]
        assert {s["rollNumber"] for s in data} == expected

    def test_it_filters_by_class_group_id_or_name_and_status(self, school, persona_api):
        api = persona_api("partner")
        left = make_student(school.class_a, status="left")
        assert ids(api.get(f"/api/students?classGroup={school.class_a.pk}")) == {school.child_a.pk, left.pk}
        assert ids(api.get("/api/students?classGroup=7B")) == {school.child_b.pk}
        assert ids(api.get("/api/students?status=left")) == {left.pk}

    def test_it_filters_by_updated_since(self, school, persona_api):
        api = persona_api("partner")
        Student.objects.filter(pk=school.child_b.pk).update(updated_at="2020-01-01T00:00:00Z")
        assert ids(api.get("/api/students?updatedSince=2021-01-01T00:00:00Z")) == {school.child_a.pk}

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("limit=101", "limit"),
            ("limit=0", "limit"),
            ("limit=abc", "limit"),
            ("page=0", "page"),
            ("page=-1", "page"),
            ("updatedSince=yesterday", "updatedSince"),
            ("status=graduated", "status"),
        ],
    )
    def test_it_rejects_bad_query_parameters(self, school, persona_api, query, field):
        body = assert_error(persona_api("partner").get(f"/api/students?{query}"), 400, "validation_error")
        assert body["details"][0]["field"] == field

    def test_a_page_past_the_end_is_empty(self, school, persona_api):
        body = persona_api("partner").get("/api/students?page=50").json()
        assert body["data"] == [] and body["count"] == 2

    def test_the_list_costs_the_same_queries_for_one_row_or_many(self, school, persona_api):
        api = persona_api("partner")
        api.get("/api/students?limit=100")  # warm up: token lookups are cached by nothing, but stay constant
        with CaptureQueriesContext(connection) as few:
            api.get("/api/students?limit=100")
        for _ in range(30):
            make_student(school.class_a)
        with CaptureQueriesContext(connection) as many:
            response = api.get("/api/students?limit=100")
        assert len(response.json()["data"]) == 32
        # token (with its application), the application's purposes, count, page (class groups joined),
        # the disclosure and its list of children (one bulk insert)
        assert len(many) == len(few)
        assert len(many) <= 6, [q["sql"] for q in many.captured_queries]

    def test_the_guardian_list_costs_the_same_queries_for_one_row_or_many(self, school, persona_api):
        from tests.factories import make_guardian

        api = persona_api("partner")
        with CaptureQueriesContext(connection) as few:
            api.get("/api/guardians?limit=100")
        for _ in range(20):
            make_guardian(make_student(school.class_a), make_student(school.class_b))
        with CaptureQueriesContext(connection) as many:
            response = api.get("/api/guardians?limit=100")
        assert response.json()["count"] == 22
        assert len(many) == len(few)


class TestVisibility:
    @pytest.mark.parametrize(
        ("persona", "visible"),
        [
            ("admin", {"child_a", "child_b"}),
            ("office", {"child_a", "child_b"}),
            ("teacher", {"child_a"}),
            ("colleague", {"child_b"}),
            ("guardian", {"child_a"}),
            ("outsider", {"child_b"}),
            ("partner", {"child_a", "child_b"}),
        ],
    )
    def test_each_persona_sees_only_their_students(self, school, persona_api, persona, visible):
        api = persona_api(persona)
        expected = {getattr(school, name).pk for name in visible}
        assert ids(api.get("/api/students")) == expected
        for name in ("child_a", "child_b"):
            pk = getattr(school, name).pk
            response = api.get(f"/api/students/{pk}")
            if name in visible:
                assert response.status_code == 200
            else:
                assert_error(response, 404, "not_found")
                assert "Amira" not in response.content.decode() and "Bilal" not in response.content.decode()

    def test_a_teacher_also_sees_the_classes_they_teach(self, school, persona_api):
        school.class_b.teachers.add(school.teacher)
        assert ids(persona_api("teacher").get("/api/students")) == {school.child_a.pk, school.child_b.pk}

    def test_a_guardian_sees_only_themself_among_guardians(self, school, persona_api):
        from tests.factories import make_guardian

        other_parent = make_guardian(school.child_a)
        api = persona_api("guardian")
        assert ids(api.get("/api/guardians")) == {school.guardian.pk}
        assert_error(api.get(f"/api/guardians/{other_parent.pk}"), 404, "not_found")
        assert_error(api.get(f"/api/guardians/{school.outsider.pk}"), 404, "not_found")
        links = api.get("/api/guardianships").json()["data"]
        assert {link["guardianId"] for link in links} == {school.guardian.pk}

    def test_a_teacher_sees_the_guardians_of_their_class_only(self, school, persona_api):
        api = persona_api("teacher")
        assert ids(api.get("/api/guardians")) == {school.guardian.pk}
        assert_error(api.get(f"/api/guardians/{school.outsider.pk}"), 404, "not_found")

    def test_a_deleted_student_is_gone_from_every_view(self, school, persona_api):
        api = persona_api("partner")
        api.delete(f"/api/students/{school.child_b.pk}")
        assert ids(api.get("/api/students")) == {school.child_a.pk}
        assert_error(api.get(f"/api/students/{school.child_b.pk}"), 404, "not_found")

    def test_a_disabled_account_token_stops_working(self, school, persona_api):
        api = persona_api("teacher")
        school.teacher.is_active = False
        school.teacher.save()
        assert_error(api.get("/api/students"), 401, "authentication_failed")


class TestScopes:
    def test_it_requires_a_token(self, school, client):
        assert_error(client.get("/api/students"), 401, "not_authenticated")

    def test_it_rejects_an_unknown_token(self, school, client):
        response = client.get("/api/students", HTTP_AUTHORIZATION="Bearer not-a-token")
        assert response.status_code == 401
        assert response.json()["success"] is False

    def test_a_partner_without_the_read_scope_is_refused(self, school, persona_api):
        assert_error(persona_api("partner-without-scope").get("/api/students"), 403, "insufficient_scope")

    def test_a_read_only_partner_cannot_write(self, school, partner_api):
        api = partner_api("students:read")
        assert_error(api.post("/api/students", NEW_STUDENT, format="json"), 403, "insufficient_scope")
        assert_error(api.delete(f"/api/students/{school.child_a.pk}"), 403, "insufficient_scope")
        assert not Student.objects.filter(roll_number="SMS2024001").exists()

    def test_a_user_token_is_limited_to_its_scopes(self, school, persona_api):
        api = persona_api("admin", scope="attendance:read")
        assert_error(api.get("/api/students"), 403, "insufficient_scope")

    @pytest.mark.parametrize("persona", ["teacher", "guardian", "colleague"])
    def test_only_whole_school_staff_may_write_with_a_user_token(self, school, persona_api, persona):
        api = persona_api(persona)
        assert_error(api.post("/api/students", NEW_STUDENT, format="json"), 403, "permission_denied")
        assert_error(
            api.patch(f"/api/students/{school.child_a.pk}", {"firstName": "X"}, format="json"), 403, "permission_denied"
        )
        assert Student.objects.get(pk=school.child_a.pk).first_name == "Amira"

    def test_office_staff_may_write_with_a_user_token(self, school, persona_api):
        response = persona_api("office").post("/api/students", NEW_STUDENT, format="json")
        assert response.status_code == 201


class TestWrites:
    def test_it_creates_a_student_from_the_guides_payload(self, school, persona_api):
        response = persona_api("partner").post("/api/students", NEW_STUDENT, format="json")
        assert response.status_code == 201
        data = response.json()["data"]
        assert data["rollNumber"] == "SMS2024001" and data["version"] == 1
        assert response["ETag"] == f'"{data["id"]}-1"'
        assert response["Location"].endswith(f"/api/students/{data['id']}")
        student = Student.objects.get(pk=data["id"])
        assert student.date_of_birth.isoformat() == "2005-05-15"

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"firstName": 12}, "firstName"),
            ({"firstName": ""}, "firstName"),
            ({"dateOfBirth": "15/05/2005"}, "dateOfBirth"),
            ({"dateOfBirth": "2005-02-30"}, "dateOfBirth"),
            ({"dateOfBirth": "2999-01-01"}, "dateOfBirth"),
            ({"gender": "robot"}, "gender"),
            ({"email": "not-an-email"}, "email"),
            ({"rollNumber": "has spaces"}, "rollNumber"),
            ({"rollNumber": "X" * 40}, "rollNumber"),
            ({"classGroupId": 999999}, "classGroupId"),
            ({"classGroupId": "7A"}, "classGroupId"),
            ({"nickname": "Johnny"}, "nickname"),
            ({"enrolledOn": "2024-09-01", "leftOn": "2024-01-01"}, "leftOn"),
        ],
    )
    def test_it_rejects_bad_input_and_changes_nothing(self, school, persona_api, change, field):
        before = Student.objects.count()
        response = persona_api("partner").post("/api/students", {**NEW_STUDENT, **change}, format="json")
        body = assert_error(response, 400, "validation_error")
        assert field in {detail["field"] for detail in body["details"]}
        assert Student.objects.count() == before

    def test_it_rejects_a_body_that_is_not_an_object_or_not_json(self, school, persona_api):
        api = persona_api("partner")
        assert_error(api.post("/api/students", [NEW_STUDENT], format="json"), 400, "validation_error")
        response = api.post("/api/students", "{not json", content_type="application/json")
        assert_error(response, 400, "validation_error")
        response = api.post("/api/students", "firstName=John", content_type="application/x-www-form-urlencoded")
        assert_error(response, 415, "unsupported_media_type")

    def test_it_answers_409_for_a_duplicate_roll_number(self, school, persona_api):
        response = persona_api("partner").post("/api/students", {**NEW_STUDENT, "rollNumber": "A0001"}, format="json")
        body = assert_error(response, 409, "duplicate_roll_number")
        assert body["existingId"] == school.child_a.pk
        assert Student.objects.filter(roll_number="A0001").count() == 1

    def test_it_updates_with_a_matching_if_match_and_bumps_the_version(self, school, persona_api):
        api = persona_api("partner")
        etag = api.get(f"/api/students/{school.child_a.pk}")["ETag"]
        response = api.patch(
            f"/api/students/{school.child_a.pk}", {"firstName": "Amina"}, format="json", HTTP_IF_MATCH=etag
        )
        assert response.status_code == 200
        assert response.json()["data"]["version"] == 2
        assert response["ETag"] == f'"{school.child_a.pk}-2"'

    def test_a_stale_if_match_answers_412_and_changes_nothing(self, school, persona_api):
        api = persona_api("partner")
        etag = api.get(f"/api/students/{school.child_a.pk}")["ETag"]
        api.patch(f"/api/students/{school.child_a.pk}", {"firstName": "Amina"}, format="json")
        response = api.patch(
            f"/api/students/{school.child_a.pk}", {"firstName": "Zed"}, format="json", HTTP_IF_MATCH=etag
        )
        assert_error(response, 412, "precondition_failed")
        assert Student.objects.get(pk=school.child_a.pk).first_name == "Amina"
        assert_error(api.delete(f"/api/students/{school.child_a.pk}", HTTP_IF_MATCH=etag), 412, "precondition_failed")

    def test_an_if_match_for_another_record_answers_412(self, school, persona_api):
        api = persona_api("partner")
        response = api.patch(
            f"/api/students/{school.child_a.pk}",
            {"firstName": "X"},
            format="json",
            HTTP_IF_MATCH=f'"{school.child_b.pk}-1"',
        )
        assert_error(response, 412, "precondition_failed")

    def test_the_roll_number_is_immutable(self, school, persona_api):
        response = persona_api("partner").patch(
            f"/api/students/{school.child_a.pk}", {"rollNumber": "NEW1"}, format="json"
        )
        assert_error(response, 400, "validation_error")
        assert Student.objects.get(pk=school.child_a.pk).roll_number == "A0001"

    def test_a_put_needs_every_required_field(self, school, persona_api):
        response = persona_api("partner").put(f"/api/students/{school.child_a.pk}", {"firstName": "X"}, format="json")
        assert_error(response, 400, "validation_error")

    def test_an_unchanged_update_keeps_the_version(self, school, persona_api):
        response = persona_api("partner").patch(
            f"/api/students/{school.child_a.pk}", {"firstName": "Amira"}, format="json"
        )
        assert response.json()["data"]["version"] == 1

    def test_delete_leaves_a_tombstone_with_only_the_roll_number(self, school, persona_api):
        response = persona_api("partner").delete(f"/api/students/{school.child_a.pk}")
        assert response.status_code == 200
        assert response.json()["data"] == {"id": school.child_a.pk, "rollNumber": "A0001", "deleted": True}
        tombstone = Student.objects.get(pk=school.child_a.pk)
        assert tombstone.deleted_at is not None
        assert (tombstone.first_name, tombstone.last_name, tombstone.email, tombstone.address) == ("", "", "", "")
        assert tombstone.date_of_birth is None and tombstone.class_group is None
        assert not Guardianship.objects.filter(student_id=school.child_a.pk).exists()

    def test_a_tombstoned_roll_number_cannot_be_reused_silently(self, school, persona_api):
        api = persona_api("partner")
        api.delete(f"/api/students/{school.child_a.pk}")
        body = assert_error(
            api.post("/api/students", {**NEW_STUDENT, "rollNumber": "A0001"}, format="json"),
            409,
            "duplicate_roll_number",
        )
        assert "deleted" in body["details"][0]["message"]

    def test_a_non_numeric_id_is_not_found(self, school, persona_api):
        assert_error(persona_api("partner").get("/api/students/abc"), 404, "not_found")

    def test_an_unknown_api_path_answers_in_the_envelope(self, school, persona_api):
        assert_error(persona_api("partner").get("/api/nothing-here"), 404, "not_found")

    def test_a_method_that_is_not_allowed_answers_405(self, school, persona_api):
        assert_error(persona_api("partner").delete("/api/students"), 405, "method_not_allowed")


class TestGuardians:
    def test_a_guardian_has_id_user_id_names_email_and_children(self, school, persona_api):
        data = persona_api("partner").get(f"/api/guardians/{school.guardian.pk}").json()["data"]
        assert data["id"] == school.guardian.pk
        assert data["userId"] == school.guardian.user_id
        assert (data["firstName"], data["lastName"], data["email"]) == ("Fatima", "Ahmed", "parent@family.test")
        assert [child["studentId"] for child in data["children"]] == [school.child_a.pk]

    def test_it_creates_a_guardian_with_an_account_and_links_a_child(self, school, persona_api):
        api = persona_api("office")
        response = api.post(
            "/api/guardians",
            {"firstName": "Yusuf", "lastName": "Ahmed", "email": "yusuf@family.test", "phone": "0770"},
            format="json",
        )
        assert response.status_code == 201, response.json()
        guardian_id = response.json()["data"]["id"]
        link = api.post(
            "/api/guardianships",
            {"guardianId": guardian_id, "studentId": school.child_a.pk, "relationship": "father"},
            format="json",
        )
        assert link.status_code == 201, link.json()
        assert link.json()["data"]["parentalResponsibility"] is True
        duplicate = api.post(
            "/api/guardianships",
            {"guardianId": guardian_id, "studentId": school.child_a.pk, "relationship": "father"},
            format="json",
        )
        assert_error(duplicate, 409, "duplicate_guardianship")

    def test_it_rejects_a_duplicate_guardian_account(self, school, persona_api):
        response = persona_api("office").post(
            "/api/guardians", {"firstName": "F", "lastName": "A", "email": "parent@family.test"}, format="json"
        )
        assert_error(response, 409, "duplicate_account")

    def test_a_guardianship_cannot_move_to_another_student(self, school, persona_api):
        link = Guardianship.objects.get(guardian=school.guardian)
        response = persona_api("office").patch(
            f"/api/guardianships/{link.pk}", {"studentId": school.child_b.pk}, format="json"
        )
        assert_error(response, 400, "validation_error")

    def test_removing_a_guardian_disables_their_account(self, school, persona_api):
        response = persona_api("office").delete(f"/api/guardians/{school.outsider.pk}")
        assert response.status_code == 200
        school.outsider.user.refresh_from_db()
        assert school.outsider.user.is_active is False
