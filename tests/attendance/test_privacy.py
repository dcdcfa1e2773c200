"""What attendance tells the privacy app: its declarations, a person's export, and an erasure that keeps the
legal register but none of the free text that could name someone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.db import models

from attendance import privacy, services
from attendance.models import AbsenceReport, AttendanceChange, AttendanceRecord, Register
from students.models import Guardian, Student
from tests.attendance.helpers import FRIDAY, MONDAY, MONDAY_AFTERNOON, code, make_record
from tests.factories import make_guardian, make_student

pytestmark = pytest.mark.django_db

SECRET = "Mum says Amira saw Dr Patel about her asthma"


@pytest.fixture(autouse=True)
def _monday_afternoon(time_machine: Any) -> None:
    time_machine.move_to(MONDAY_AFTERNOON, tick=False)


@pytest.fixture
def history(school) -> dict[str, Any]:
    """Amira's register with remarks, a change, a deletion and three reports; Bilal's mark with a remark."""
    services.register_submit(
        actor=school.teacher,
        class_group=school.class_a,
        date=FRIDAY,
        session="AM",
        marks=[services.Mark(school.child_a.pk, code("N"), remarks=SECRET)],
    )
    friday = AttendanceRecord.objects.get()
    services.record_update(actor=school.office, record=friday, fields={"code": code("M"), "remarks": SECRET + "!"})
    monday = services.record_create(
        actor=school.teacher, student=school.child_a, date=MONDAY, session="AM", code=code("L"), minutes_late=5
    )
    deleted = services.record_create(
        actor=school.teacher, student=school.child_a, date=MONDAY, session="PM", code=code("/"), remarks=SECRET
    )
    services.record_delete(actor=school.teacher, record=deleted)
    reports = {}
    for status in ("accepted", "rejected", "pending"):
        report = services.absence_report_create(
            guardian=school.guardian,
            student=school.child_a,
            starts_on=FRIDAY,
            ends_on=FRIDAY,
            sessions=["AM"],
            reason="medical",
            details=f"{SECRET} ({status})",
        )
        if status != "pending":
            services.absence_report_decide(
                actor=school.office, report=report, accept=status == "accepted", note="Letter from Dr Patel"
            )
        reports[status] = report
    bilal = make_record(school.child_b, remarks="Bilal's own note")
    return {"friday": friday, "monday": monday, "reports": reports, "bilal": bilal}


def everything_stored() -> str:
    """Every attendance row, serialised: where an erased value must no longer appear."""
    rows = [row for model in apps.get_app_config("attendance").get_models() for row in model.objects.all()]
    return serializers.serialize("json", rows)


class TestDeclarations:
    def test_every_field_that_points_to_a_person_is_declared(self):
        person_models = {Student, Guardian, apps.get_model(settings.AUTH_USER_MODEL)}
        declared = {(d.model, name) for d in privacy.DECLARATIONS for name in d.fields}
        missing = [
            f"{model._meta.label}.{field.name}"
            for model in apps.get_app_config("attendance").get_models()
            for field in model._meta.get_fields()
            if isinstance(field, models.ForeignKey)
            and field.related_model in person_models
            and (model._meta.label, field.name) not in declared
        ]
        assert missing == []

    @pytest.mark.parametrize(
        ("model", "field"),
        [
            ("attendance.AttendanceRecord", "student"),
            ("attendance.AttendanceRecord", "remarks"),
            ("attendance.AttendanceChange", "changes"),
            ("attendance.AbsenceReport", "details"),
            ("attendance.AbsenceReport", "reason"),
            ("attendance.AbsenceReport", "reported_by"),
            ("attendance.Register", "taken_by"),
        ],
    )
    def test_each_piece_of_personal_data_has_a_category_purpose_and_retention(self, model, field):
        (declaration,) = [d for d in privacy.DECLARATIONS if d.model == model and field in d.fields]
        assert declaration.category and declaration.purpose and declaration.retention and declaration.lawful_basis
        assert apps.get_model(model)._meta.get_field(field)

    @pytest.mark.parametrize(
        "model", ["attendance.Register", "attendance.AttendanceRecord", "attendance.AttendanceChange"]
    )
    def test_the_register_is_kept_by_law_under_a_named_basis_and_never_deleted_on_request(self, model):
        for declaration in [d for d in privacy.DECLARATIONS if d.model == model and d.kept_by_law]:
            assert "Regulations 2024" in declaration.lawful_basis and "6(1)(c)" in declaration.lawful_basis
            assert "6 years" in declaration.retention and "anonymised" in declaration.retention
            assert "never deleted on request" in declaration.retention
            assert declaration.on_erasure.startswith("kept")

    def test_free_text_is_cleared_on_erasure(self):
        free_text = {(d.model, f) for d in privacy.DECLARATIONS if d.on_erasure == "cleared" for f in d.fields}
        assert {("attendance.AttendanceRecord", "remarks"), ("attendance.AbsenceReport", "details")} <= free_text

    def test_the_provider_gathers_the_declarations_and_both_functions(self, school):
        assert privacy.PROVIDER.app == "attendance"
        assert privacy.PROVIDER.declarations is privacy.DECLARATIONS
        assert privacy.PROVIDER.export(school.child_b) == privacy.export(school.child_b)


class TestExport:
    def test_a_students_export_holds_their_marks_history_and_reports(self, school, history):
        data = privacy.export(school.child_a)
        json.dumps(data)
        assert [(r["date"], r["session"], r["code"], r["status"]) for r in data["attendanceRecords"]] == [
            ("2026-11-27", "AM", "M", "excused"),
            ("2026-11-30", "AM", "L", "late"),
        ]
        assert data["attendanceRecords"][0]["remarks"] == SECRET + "!"
        assert data["attendanceRecords"][1]["minutesLate"] == 5
        assert [c["action"] for c in data["attendanceHistory"]] == [
            "created",
            "changed",
            "created",
            "created",
            "deleted",
        ]
        assert data["attendanceHistory"][1]["changes"]["code"] == ["N", "M"]
        assert sorted(r["status"] for r in data["absenceReports"]) == ["accepted", "pending", "rejected"]
        assert "Bilal's own note" not in json.dumps(data)

    def test_a_student_with_nothing_recorded_exports_empty_lists(self, school):
        assert privacy.export(make_student(school.class_a)) == {
            "attendanceRecords": [],
            "attendanceHistory": [],
            "absenceReports": [],
        }

    @pytest.mark.parametrize("as_user", [True, False])
    def test_a_guardians_export_holds_the_reports_they_made(self, school, history, as_user):
        subject = school.guardian.user if as_user else school.guardian
        data = privacy.export(subject)
        json.dumps(data)
        assert set(data) == {"absenceReportsMade"}
        assert {(r["studentId"], r["student"]) for r in data["absenceReportsMade"]} == {
            (school.child_a.pk, "Amira Ahmed")
        }
        assert len(data["absenceReportsMade"]) == 3
        assert privacy.export(school.outsider.user) == {"absenceReportsMade": []}

    def test_a_staff_members_export_holds_what_they_recorded(self, school, history):
        data = privacy.export(school.teacher)
        json.dumps(data)
        assert data["registersTaken"] == [{"classGroup": "7A", "date": "2026-11-27", "session": "AM"}]
        assert (data["marksRecorded"], data["registerChangesMade"], data["absenceReportsDecided"]) == (1, 4, 0)
        assert privacy.export(school.office)["absenceReportsDecided"] == 2


class TestErasure:
    def test_erasing_a_student_keeps_their_register_without_any_remark(self, school, history):
        result = privacy.erase(school.child_a)
        json.dumps(result)
        records = AttendanceRecord.objects.filter(student=school.child_a).select_related("code")
        assert sorted((r.date, r.session, r.code.code, r.remarks) for r in records) == [
            (FRIDAY, "AM", "M", ""),
            (MONDAY, "AM", "L", ""),
        ]
        assert AttendanceChange.objects.filter(student=school.child_a).count() == 5
        changed = AttendanceChange.objects.get(student=school.child_a, action="changed")
        assert changed.changes == {"code": ["N", "M"], "remarks": [privacy.ERASED, privacy.ERASED]}
        stored = everything_stored()
        assert SECRET not in stored and "Dr Patel" not in stored
        assert "Bilal's own note" in stored

    def test_a_cleared_remark_shows_as_a_new_version_to_partners(self, school, history):
        version = AttendanceRecord.objects.get(pk=history["friday"].pk).version
        privacy.erase(school.child_a)
        assert AttendanceRecord.objects.get(pk=history["friday"].pk).version == version + 1
        assert AttendanceRecord.objects.get(pk=history["monday"].pk).version == 1  # had no remark

    def test_erasing_a_student_keeps_accepted_reports_and_deletes_the_others(self, school, history):
        privacy.erase(school.child_a)
        report = AbsenceReport.objects.get()
        assert (report.pk, report.status, report.reason) == (history["reports"]["accepted"].pk, "accepted", "medical")
        assert (report.details, report.decision_note) == ("", "")

    def test_erasure_says_what_it_kept_and_why(self, school, history):
        result = privacy.erase(school.child_a)
        kept = {item["model"]: item for item in result["kept"]}
        assert kept["attendance.AttendanceRecord"]["count"] == 2
        assert kept["attendance.AttendanceChange"]["count"] == 5
        assert kept["attendance.AbsenceReport"]["count"] == 1
        for item in kept.values():
            assert item["why"] and "Regulations 2024" in item["lawfulBasis"] and "6 years" in item["until"]
        assert result["deleted"] == {"attendance.AbsenceReport": 2}
        assert result["cleared"] == {
            "attendance.AttendanceRecord.remarks": 1,
            "attendance.AttendanceChange.changes.remarks": 3,
            "attendance.AbsenceReport.details": 1,
        }

    def test_erasing_twice_finds_nothing_more_to_clear(self, school, history):
        privacy.erase(school.child_a)
        before = everything_stored()
        again = privacy.erase(school.child_a)
        assert again["cleared"] == {
            "attendance.AttendanceRecord.remarks": 0,
            "attendance.AttendanceChange.changes.remarks": 0,
            "attendance.AbsenceReport.details": 0,
        }
        assert again["deleted"] == {"attendance.AbsenceReport": 0}
        assert everything_stored() == before

    @pytest.mark.parametrize("as_user", [True, False])
    def test_erasing_a_guardian_unlinks_and_clears_their_reports(self, school, history, as_user):
        other_parent = make_guardian(school.child_a)
        theirs = services.absence_report_create(
            guardian=other_parent,
            student=school.child_a,
            starts_on=MONDAY,
            ends_on=MONDAY,
            sessions=["PM"],
            reason="other",
            details="Dad's note",
        )
        result = privacy.erase(school.guardian.user if as_user else school.guardian)
        json.dumps(result)
        assert AbsenceReport.objects.filter(reported_by=school.guardian).count() == 0
        assert AbsenceReport.objects.filter(reported_by=None).count() == 3
        assert set(AbsenceReport.objects.exclude(pk=theirs.pk).values_list("details", flat=True)) == {""}
        assert AbsenceReport.objects.get(pk=theirs.pk).details == "Dad's note"
        assert result["kept"][0]["count"] == 3
        assert AttendanceRecord.objects.get(pk=history["friday"].pk).remarks == SECRET + "!"

    def test_erasing_a_member_of_staff_keeps_their_name_on_the_register(self, school, history):
        result = privacy.erase(school.teacher)
        assert Register.objects.get().taken_by == school.teacher
        assert {item["model"]: item["count"] for item in result["kept"]} == {
            "attendance.Register": 1,
            "attendance.AttendanceRecord": 1,
            "attendance.AttendanceChange": 4,
        }
        assert result["deleted"] == {} and result["cleared"] == {}

    def test_a_student_with_nothing_recorded_has_nothing_to_keep(self, school):
        result = privacy.erase(make_student(school.class_a))
        assert result["kept"] == []

    def test_erasing_a_student_does_not_touch_their_guardian_or_another_child(self, school, history):
        privacy.erase(school.child_b)
        assert AttendanceRecord.objects.get(pk=history["bilal"].pk).remarks == ""
        assert AbsenceReport.objects.count() == 3
        assert Guardian.objects.count() == 2 and Student.objects.count() == 2
