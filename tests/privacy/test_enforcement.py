"""Consent enforced on partner APIs, purpose limitation, and the disclosure log of every partner read."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from attendance import services as attendance_services
from attendance.models import AttendanceCode, AttendanceRecord
from privacy import consent
from privacy.models import ConsentDecision, DisclosedStudent, Disclosure, Purpose
from tests.conftest import client_with, obtain_token
from tests.factories import PASSWORD, make_guardian, make_partner, make_student
from tests.privacy.conftest import decide, grant, purpose, register_purposes

pytestmark = pytest.mark.django_db

STUDENT_FIELDS_FOR_ATTENDANCE = {"id", "rollNumber", "firstName", "lastName", "classGroup", "classGroupId", "status"}
ATTENDANCE_FIELDS = {"id", "studentId", "rollNumber", "date", "session", "status", "code", "minutesLate"}


def last_school_day() -> datetime.date:
    day = timezone.localdate() - datetime.timedelta(days=1)
    while day.weekday() >= 5:
        day -= datetime.timedelta(days=1)
    return day


def mark(school, student, remarks: str = "") -> AttendanceRecord:
    return attendance_services.record_create(
        actor=school.admin,
        student=student,
        date=last_school_day(),
        session="AM",
        code=AttendanceCode.objects.get(code="/"),
        remarks=remarks,
    )


def ids(response) -> set[int]:
    assert response.status_code == 200, response.json()
    return {item["id"] for item in response.json()["data"]}


def assert_error(response, status: int, code: str) -> dict:
    body = response.json()
    assert response.status_code == status, body
    assert body["success"] is False and body["code"] == code
    return body


@pytest.fixture
def sharing(school, family, registered_partner):
    """A partner registered only for sharing with partner systems, a purpose that needs consent. Child B's
    family agreed; child A's did not."""
    grant(school.child_b, "thirdPartySharing", school.outsider)
    return registered_partner("thirdPartySharing", scopes="students:read attendance:read")


class TestConsentFiltersEveryAnswer:
    def test_the_student_list_leaves_out_a_child_without_consent(self, school, sharing):
        assert ids(sharing.get("/api/students")) == {school.child_b.pk}
        assert sharing.get("/api/students").json()["count"] == 1

    def test_reading_a_child_without_consent_is_a_404(self, school, sharing):
        assert_error(sharing.get(f"/api/students/{school.child_a.pk}"), 404, "not_found")
        assert sharing.get(f"/api/students/{school.child_b.pk}").status_code == 200

    def test_attendance_leaves_out_a_child_without_consent(self, school, sharing):
        record_a, record_b = mark(school, school.child_a), mark(school, school.child_b)
        listed = sharing.get("/api/attendance").json()["data"]
        assert {item["studentId"] for item in listed} == {school.child_b.pk}
        assert_error(sharing.get(f"/api/attendance/{record_a.pk}"), 404, "not_found")
        assert sharing.get(f"/api/attendance/{record_b.pk}").status_code == 200
        assert sharing.get(f"/api/attendance?studentId={school.child_a.pk}").json()["count"] == 0

    def test_a_guardians_children_leave_out_a_child_without_consent(self, school, family, sharing):
        make_guardian(school.child_a, school.child_b)  # a carer of both children
        listed = sharing.get("/api/guardians?limit=100").json()["data"]
        children = {child["studentId"] for guardian in listed for child in guardian["children"]}
        assert children == {school.child_b.pk}
        # A guardian known only through a child without consent would name that child: they are left out too.
        assert family.mother.pk not in {guardian["id"] for guardian in listed}
        assert_error(sharing.get(f"/api/guardians/{family.father.pk}"), 404, "not_found")

    def test_guardianships_leave_out_a_child_without_consent(self, school, sharing):
        listed = sharing.get("/api/guardianships?limit=100").json()["data"]
        assert {link["studentId"] for link in listed} == {school.child_b.pk}

    def test_after_a_grant_the_child_appears_and_after_a_withdrawal_it_disappears(self, school, family, sharing):
        grant(school.child_a, "thirdPartySharing", family.mother)
        grant(school.child_a, "thirdPartySharing", family.father)
        assert ids(sharing.get("/api/students")) == {school.child_a.pk, school.child_b.pk}
        assert sharing.get(f"/api/students/{school.child_a.pk}").status_code == 200

        decide(school.child_a, "thirdPartySharing", family.father, ConsentDecision.Decision.WITHDRAWN)
        assert ids(sharing.get("/api/students")) == {school.child_b.pk}
        assert sharing.get(f"/api/students/{school.child_a.pk}").status_code == 404

    @pytest.mark.parametrize("decision", ["refused", "withdrawn"])
    def test_a_negative_decision_keeps_the_child_out(self, school, family, sharing, decision):
        if decision == "withdrawn":
            grant(school.child_a, "thirdPartySharing", family.mother)
        decide(school.child_a, "thirdPartySharing", family.mother, decision)
        assert ids(sharing.get("/api/students")) == {school.child_b.pk}

    def test_a_child_whose_consent_needs_renewing_is_left_out(self, school, sharing):
        consent.text_publish(purpose=purpose("thirdPartySharing"), text="New partners.", requires_reconsent=True)
        assert ids(sharing.get("/api/students")) == set()
        grant(school.child_b, "thirdPartySharing", school.outsider)
        assert ids(sharing.get("/api/students")) == {school.child_b.pk}

    def test_one_guardians_grant_is_not_enough_when_the_other_refused(self, school, family, sharing):
        grant(school.child_a, "thirdPartySharing", family.mother)
        decide(school.child_a, "thirdPartySharing", family.father, ConsentDecision.Decision.REFUSED)
        assert ids(sharing.get("/api/students")) == {school.child_b.pk}

    def test_a_purpose_that_needs_no_consent_sees_every_child(self, school, registered_partner):
        api = registered_partner("attendanceReporting")
        assert ids(api.get("/api/students")) == {school.child_a.pk, school.child_b.pk}

    def test_a_partner_registered_for_no_purpose_sees_every_child(self, school, partner_api):
        assert ids(partner_api("students:read").get("/api/students")) == {school.child_a.pk, school.child_b.pk}

    def test_a_user_signed_in_through_a_partner_app_for_a_consent_purpose_sees_only_consented_children(
        self, school, family
    ):
        # The data still reaches the partner system, whoever's token carries it.
        app, secret = make_partner("students:read attendance:read", grant="password", name="Sharing app")
        register_purposes(app, "thirdPartySharing")
        grant(school.child_b, "thirdPartySharing", school.outsider)
        token = obtain_token(
            {
                "grant_type": "password",
                "username": school.admin.username,
                "password": PASSWORD,
                "client_id": app.client_id,
                "client_secret": secret,
            }
        )
        api = client_with(token["access_token"])
        assert ids(api.get("/api/students")) == {school.child_b.pk}
        assert api.get(f"/api/students/{school.child_a.pk}").status_code == 404


class TestPurposeHeader:
    def test_a_purpose_the_application_does_not_hold_is_a_403(self, school, registered_partner):
        api = registered_partner("attendanceReporting")
        body = assert_error(api.get("/api/students", HTTP_X_DATA_PURPOSE="marketing"), 403, "permission_denied")
        assert "marketing" in body["details"][0]["message"]
        assert not Disclosure.objects.exists()

    def test_an_unknown_purpose_is_a_403(self, school, registered_partner):
        api = registered_partner("attendanceReporting")
        assert_error(api.get("/api/students", HTTP_X_DATA_PURPOSE="anything"), 403, "permission_denied")

    def test_a_purpose_no_longer_in_use_is_a_403(self, school, registered_partner):
        api = registered_partner("attendanceReporting")
        Purpose.objects.filter(code="attendanceReporting").update(is_active=False)
        response = api.get("/api/students", HTTP_X_DATA_PURPOSE="attendanceReporting")
        assert_error(response, 403, "permission_denied")

    def test_an_application_without_purposes_cannot_claim_one(self, school, partner_api):
        response = partner_api("students:read").get("/api/students", HTTP_X_DATA_PURPOSE="attendanceReporting")
        assert_error(response, 403, "permission_denied")

    def test_two_purposes_and_no_header_is_a_403_asking_to_state_one(self, school, registered_partner):
        api = registered_partner("attendanceReporting", "thirdPartySharing", default=False)
        body = assert_error(api.get("/api/students"), 403, "permission_denied")
        message = body["details"][0]["message"]
        assert "X-Data-Purpose" in message
        assert "attendanceReporting" in message and "thirdPartySharing" in message
        assert api.get("/api/students", HTTP_X_DATA_PURPOSE="attendanceReporting").status_code == 200

    def test_the_default_purpose_applies_without_a_header(self, school, registered_partner):
        grant(school.child_b, "thirdPartySharing", school.outsider)
        api = registered_partner("thirdPartySharing", "attendanceReporting")
        assert ids(api.get("/api/students")) == {school.child_b.pk}
        stated = api.get("/api/students", HTTP_X_DATA_PURPOSE="attendanceReporting")
        assert ids(stated) == {school.child_a.pk, school.child_b.pk}
        assert Disclosure.objects.order_by("id").first().purpose.code == "thirdPartySharing"
        assert Disclosure.objects.order_by("id").last().purpose.code == "attendanceReporting"

    def test_a_single_purpose_is_the_default_even_when_not_marked(self, school, registered_partner):
        grant(school.child_b, "thirdPartySharing", school.outsider)
        api = registered_partner("thirdPartySharing", default=False)
        assert ids(api.get("/api/students")) == {school.child_b.pk}


class TestFieldsPerPurpose:
    def test_attendance_reporting_gets_no_date_of_birth_address_or_notes(self, school, registered_partner):
        school.child_a.address, school.child_a.medical_notes = "1 High Street", "Asthma"
        school.child_a.save()
        api = registered_partner("attendanceReporting")
        item = api.get(f"/api/students/{school.child_a.pk}").json()["data"]
        assert set(item) == STUDENT_FIELDS_FOR_ATTENDANCE
        listed = api.get("/api/students").json()["data"]
        assert all(set(row) == STUDENT_FIELDS_FOR_ATTENDANCE for row in listed)
        assert not {"dateOfBirth", "address", "medicalNotes", "supportNotes", "email", "user"} & set(item)
        assert "Asthma" not in str(api.get("/api/students").content)

    def test_attendance_reporting_keeps_the_attendance_fields(self, school, registered_partner):
        record = mark(school, school.child_a, remarks="Seen by the nurse")
        api = registered_partner("attendanceReporting")
        item = api.get(f"/api/attendance/{record.pk}").json()["data"]
        assert set(item) == ATTENDANCE_FIELDS
        assert (item["studentId"], item["code"], item["status"]) == (school.child_a.pk, "/", "present")
        assert all(set(row) == ATTENDANCE_FIELDS for row in api.get("/api/attendance").json()["data"])

    def test_a_purpose_without_field_limits_gets_the_whole_record(self, school, family, registered_partner):
        grant(school.child_a, "thirdPartySharing", family.mother)
        grant(school.child_a, "thirdPartySharing", family.father)
        item = registered_partner("thirdPartySharing").get(f"/api/students/{school.child_a.pk}").json()["data"]
        assert {"dateOfBirth", "address", "medicalNotes"} <= set(item)

    def test_the_envelope_and_paging_survive_the_limit(self, school, registered_partner):
        body = registered_partner("attendanceReporting").get("/api/students?limit=1").json()
        assert body["success"] is True
        assert (body["count"], body["page"], body["limit"], body["totalPages"]) == (2, 1, 1, 2)


class TestDisclosureLog:
    def test_a_list_writes_one_disclosure_naming_exactly_the_children_returned(self, school, registered_partner):
        for _ in range(3):
            make_student(school.class_a)
        api = registered_partner("attendanceReporting")
        returned = ids(api.get("/api/students?limit=2&page=2"))
        disclosure = Disclosure.objects.get()
        assert (disclosure.application, disclosure.purpose.code) == (api.application, "attendanceReporting")
        assert (disclosure.entity, disclosure.record_count, disclosure.on_behalf_of) == ("students", 2, None)
        assert set(disclosure.students.values_list("student_id", flat=True)) == returned

    def test_a_read_of_one_child_writes_one_disclosure_of_that_child(self, school, registered_partner):
        api = registered_partner("attendanceReporting")
        api.get(f"/api/students/{school.child_a.pk}")
        assert list(DisclosedStudent.objects.values_list("student_id", flat=True)) == [school.child_a.pk]
        assert Disclosure.objects.get().record_count == 1

    def test_attendance_reads_are_logged_per_child(self, school, registered_partner):
        mark(school, school.child_a)
        mark(school, school.child_b)
        registered_partner("attendanceReporting").get("/api/attendance")
        disclosure = Disclosure.objects.get()
        assert (disclosure.entity, disclosure.record_count) == ("attendance", 2)
        assert set(disclosure.students.values_list("student_id", flat=True)) == {school.child_a.pk, school.child_b.pk}

    def test_the_children_named_in_a_guardian_list_are_logged(self, school, family, registered_partner):
        registered_partner("attendanceReporting").get("/api/guardians?limit=100")
        disclosure = Disclosure.objects.get()
        assert disclosure.entity == "guardians"
        assert set(disclosure.students.values_list("student_id", flat=True)) == {school.child_a.pk, school.child_b.pk}

    def test_an_answer_without_children_logs_nothing(self, school, registered_partner):
        api = registered_partner("attendanceReporting")
        api.get("/api/students?search=nobody-by-this-name")
        api.get("/api/students/999999")
        assert not Disclosure.objects.exists()

    def test_children_left_out_for_lack_of_consent_are_not_logged(self, school, sharing):
        sharing.get("/api/students")
        assert list(DisclosedStudent.objects.values_list("student_id", flat=True)) == [school.child_b.pk]

    def test_the_log_holds_no_copy_of_the_data(self, school, registered_partner):
        api = registered_partner("attendanceReporting")
        api.get("/api/students?search=Amira")
        api.get(f"/api/students?search={school.child_b.last_name}&classGroup=7B")
        assert Disclosure.objects.count() == 2
        stored = [
            str(value)
            for row in Disclosure.objects.values()
            for value in row.values()
            if value is not None and not isinstance(value, int | datetime.datetime)
        ]
        stored += [str(row) for row in DisclosedStudent.objects.values()]
        for text in stored:
            for name in ("Amira", "Ahmed", "Bilal", "Brown", "A0001", "B0001", "2012-01-01"):
                assert name.lower() not in text.lower(), f"the disclosure log copies {name!r}: {text!r}"

    def test_a_user_token_through_a_partner_app_is_logged_on_behalf_of_the_user(self, school, user_api, password_app):
        api = user_api(school.teacher)
        assert ids(api.get("/api/students")) == {school.child_a.pk}  # the teacher's own class
        disclosure = Disclosure.objects.get()
        assert (disclosure.application, disclosure.on_behalf_of) == (password_app[0], school.teacher)
        assert list(disclosure.students.values_list("student_id", flat=True)) == [school.child_a.pk]

    def test_writes_and_failed_reads_are_not_logged_as_disclosures(self, school, registered_partner):
        api = registered_partner("attendanceReporting", scopes="students:read students:write")
        api.get("/api/students?limit=0")  # 400
        assert not Disclosure.objects.exists()

    def test_the_log_costs_the_same_queries_for_one_child_or_a_hundred(self, school, registered_partner):
        api = registered_partner("attendanceReporting")
        with CaptureQueriesContext(connection) as few:
            api.get("/api/students?limit=100")
        for _ in range(98):
            make_student(school.class_a)
        with CaptureQueriesContext(connection) as many:
            response = api.get("/api/students?limit=100")
        assert len(response.json()["data"]) == 100
        assert DisclosedStudent.objects.filter(disclosure=Disclosure.objects.first()).count() == 100
        # the token with its application, the application's purposes, the count, the page (class groups
        # joined), the disclosure, and its children in one bulk insert
        assert len(many) == len(few) == 6, [query["sql"] for query in many.captured_queries]
