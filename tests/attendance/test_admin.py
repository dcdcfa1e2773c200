"""The attendance admin: the office keeps terms, closures and codes; codes in use are retired, not deleted; the
register itself cannot be edited there by anyone."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from attendance.models import AbsenceReport, AttendanceChange, AttendanceCode, AttendanceRecord, Closure, Register, Term
from tests.attendance.helpers import MONDAY, code, make_closure, make_record, make_term
from tests.factories import make_user

pytestmark = pytest.mark.django_db

MODELS = ["attendancecode", "term", "closure", "register", "attendancerecord", "attendancechange", "absencereport"]
READ_ONLY = ["register", "attendancerecord", "attendancechange", "absencereport"]


@pytest.fixture
def office(school, client):
    """The office member, signed in to the admin (office staff are admin users, as the demo school sets up)."""
    school.office.is_staff = True
    school.office.save()
    client.force_login(school.office)
    return client


@pytest.fixture
def register_data(school) -> dict[str, Any]:
    register = Register.objects.create(class_group=school.class_a, date=MONDAY, session="AM", taken_by=school.teacher)
    record = make_record(school.child_a, register=register, letter="L", minutes_late=3)
    change = AttendanceChange.objects.create(
        record_id_at_change=record.pk,
        student=school.child_a,
        date=MONDAY,
        session="AM",
        action="created",
        changes={"code": [None, "L"]},
        source="register",
        changed_by=school.teacher,
    )
    report = AbsenceReport.objects.create(
        student=school.child_a,
        reported_by=school.guardian,
        starts_on=MONDAY,
        ends_on=MONDAY,
        sessions="PM",
        reason="medical",
    )
    make_term(datetime.date(2026, 9, 2), datetime.date(2026, 12, 18))
    make_closure(datetime.date(2026, 11, 2))
    return {
        "register": register,
        "attendancerecord": record,
        "attendancechange": change,
        "absencereport": report,
        "term": Term.objects.get(),
        "closure": Closure.objects.get(),
        "attendancecode": code("L"),
    }


class TestWhoGetsIn:
    @pytest.mark.parametrize("model", MODELS)
    def test_the_office_sees_every_attendance_list_and_page(self, office, register_data, model):
        assert office.get(f"/admin/attendance/{model}/").status_code == 200
        page = office.get(f"/admin/attendance/{model}/{register_data[model].pk}/change/")
        assert page.status_code == 200
        assert ('name="_save"' in page.content.decode()) is (model not in READ_ONLY)

    @pytest.mark.parametrize(
        "query",
        [
            "attendancerecord/?q=A0001",
            "attendancerecord/?code__category=late&session=AM",
            "attendancerecord/?date__year=2026&date__month=11",
            "register/?is_late=0&class_group__year_group=7",
            "attendancechange/?action=created&q=Amira",
            "absencereport/?status=pending&reason=medical",
            "attendancecode/?category=authorised_absence&is_active=1&q=illness",
            "closure/?q=training",
        ],
    )
    def test_the_lists_filter_and_search(self, office, register_data, query):
        response = office.get(f"/admin/attendance/{query}")
        assert response.status_code == 200
        assert "errornote" not in response.content.decode()

    @pytest.mark.parametrize("model", MODELS)
    def test_a_teacher_who_can_reach_the_admin_sees_no_attendance(self, school, client, register_data, model):
        school.teacher.is_staff = True
        school.teacher.save()
        client.force_login(school.teacher)
        assert client.get(f"/admin/attendance/{model}/").status_code == 403

    def test_a_guardian_is_sent_to_sign_in(self, school, client):
        client.force_login(school.guardian.user)
        response = client.get("/admin/attendance/term/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


class TestCalendar:
    def test_the_office_adds_a_term_and_a_closure(self, office):
        response = office.post(
            "/admin/attendance/term/add/", {"name": "Spring", "starts_on": "2027-01-05", "ends_on": "2027-03-26"}
        )
        assert response.status_code == 302, response.content.decode()
        response = office.post(
            "/admin/attendance/closure/add/",
            {"reason": "Snow day", "starts_on": "2027-01-12", "ends_on": "2027-01-12"},
        )
        assert response.status_code == 302
        assert Term.objects.get().name == "Spring" and Closure.objects.get().reason == "Snow day"

    def test_the_office_changes_and_deletes_a_closure(self, office):
        closure = make_closure(datetime.date(2026, 12, 14), reason="Trainig day")
        change = {"reason": "Training day", "starts_on": "2026-12-14", "ends_on": "2026-12-15"}
        assert office.post(f"/admin/attendance/closure/{closure.pk}/change/", change).status_code == 302
        closure.refresh_from_db()
        assert (closure.reason, closure.ends_on) == ("Training day", datetime.date(2026, 12, 15))
        assert office.post(f"/admin/attendance/closure/{closure.pk}/delete/", {"post": "yes"}).status_code == 302
        assert not Closure.objects.exists()

    def test_a_term_that_ends_before_it_starts_is_refused(self, office):
        response = office.post(
            "/admin/attendance/term/add/", {"name": "Backwards", "starts_on": "2027-03-26", "ends_on": "2027-01-05"}
        )
        assert response.status_code == 200  # the form again, with the error
        assert not Term.objects.exists()


class TestCodes:
    def test_an_unused_code_may_be_deleted(self, office, school):
        unused = code("G")
        assert office.post(f"/admin/attendance/attendancecode/{unused.pk}/delete/", {"post": "yes"}).status_code == 302
        assert not AttendanceCode.objects.filter(code="G").exists()

    def test_a_code_in_use_cannot_be_deleted(self, office, school):
        used = code("G")
        make_record(school.child_a, letter="G")
        assert office.get(f"/admin/attendance/attendancecode/{used.pk}/delete/").status_code == 403
        assert office.post(f"/admin/attendance/attendancecode/{used.pk}/delete/", {"post": "yes"}).status_code == 403
        assert AttendanceCode.objects.filter(code="G").exists()

    def test_a_code_in_use_is_not_deleted_with_others_in_bulk(self, office, school):
        used, unused = code("G"), code("E")
        make_record(school.child_a, letter="G")
        response = office.post(
            "/admin/attendance/attendancecode/",
            {"action": "delete_selected", "_selected_action": [used.pk, unused.pk], "post": "yes"},
            follow=True,
        )
        assert response.status_code == 200
        assert AttendanceCode.objects.filter(code="G").exists()

    def test_the_retire_action_retires_and_the_code_stays_on_old_marks(self, office, school):
        record = make_record(school.child_a, letter="G")
        response = office.post(
            "/admin/attendance/attendancecode/",
            {"action": "retire", "_selected_action": [code("G").pk, code("E").pk]},
            follow=True,
        )
        assert response.status_code == 200
        assert set(AttendanceCode.objects.filter(is_active=False).values_list("code", flat=True)) == {"G", "E"}
        assert AttendanceRecord.objects.get(pk=record.pk).code.code == "G"
        office.post("/admin/attendance/attendancecode/", {"action": "reinstate", "_selected_action": [code("E").pk]})
        assert code("E").is_active

    def test_what_a_code_in_use_means_cannot_be_changed(self, office, school):
        used = code("G")
        make_record(school.child_a, letter="G")
        office.post(
            f"/admin/attendance/attendancecode/{used.pk}/change/",
            {
                "code": "Z",
                "label": "Unagreed holiday",
                "category": "present",
                "counts_as_possible": "",
                "usable_by": "office",
                "api_default_for": "",
                "is_active": "on",
                "sort_order": 110,
            },
        )
        used.refresh_from_db()
        assert (used.code, used.category, used.counts_as_possible) == ("G", "unauthorised_absence", True)
        assert used.label == "Unagreed holiday"

    def test_the_office_adds_a_code_of_its_own(self, office):
        response = office.post(
            "/admin/attendance/attendancecode/add/",
            {
                "code": "W",
                "label": "Work experience",
                "category": "approved_activity",
                "counts_as_possible": "on",
                "usable_by": "teachers",
                "api_default_for": "",
                "is_active": "on",
                "sort_order": 125,
            },
        )
        assert response.status_code == 302, response.content.decode()
        assert code("W").is_attendance


class TestTheRegisterIsReadOnly:
    @pytest.mark.parametrize("model", READ_ONLY)
    @pytest.mark.parametrize("who", ["office", "superuser"])
    def test_nobody_adds_changes_or_deletes_register_entries_in_the_admin(
        self, school, client, register_data, model, who
    ):
        user = school.office if who == "office" else make_user("root@school.test", is_staff=True, is_superuser=True)
        user.is_staff = True
        user.save()
        client.force_login(user)
        pk = register_data[model].pk
        assert client.get(f"/admin/attendance/{model}/add/").status_code == 403
        assert client.post(f"/admin/attendance/{model}/{pk}/delete/", {"post": "yes"}).status_code == 403
        page = client.get(f"/admin/attendance/{model}/{pk}/change/")
        assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
        assert client.post(f"/admin/attendance/{model}/{pk}/change/", {}).status_code == 403
        assert type(register_data[model]).objects.filter(pk=pk).exists()
