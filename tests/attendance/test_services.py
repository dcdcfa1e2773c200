"""The register's rules, called as the pages and the API call them: calendar, codes, edit window, history,
whole registers and parents' absence reports.

Time is frozen on Monday 30 November 2026 at 16:00 in London.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from attendance import services
from attendance.models import AbsenceReport, AttendanceChange, AttendanceCode, AttendanceRecord, Register
from attendance.services import Mark
from harmony.errors import Conflict, PreconditionFailed
from tests.attendance.helpers import (
    FRIDAY,
    MONDAY,
    MONDAY_AFTERNOON,
    SATURDAY,
    TUESDAY,
    code,
    days_before,
    make_closure,
    make_record,
    make_term,
    snapshot,
)
from tests.factories import make_partner, make_student

pytestmark = pytest.mark.django_db

WEDNESDAY = datetime.date(2026, 11, 25)
THURSDAY = datetime.date(2026, 11, 26)


@pytest.fixture(autouse=True)
def _monday_afternoon(time_machine: Any) -> None:
    time_machine.move_to(MONDAY_AFTERNOON, tick=False)


@pytest.fixture
def partner(db: Any):
    return make_partner("attendance:read attendance:write")[0]


def create(actor: Any, student: Any, letter: str = "/", date: datetime.date = MONDAY, session: str = "AM", **kw: Any):
    return services.record_create(actor=actor, student=student, date=date, session=session, code=code(letter), **kw)


class TestSchoolDays:
    def test_a_weekday_is_a_school_day_when_no_terms_are_set_up(self, school):
        assert services.school_day_problem(MONDAY) is None
        assert services.school_day_problem(days_before(MONDAY, 364)) is None  # a Monday a year ago

    @pytest.mark.parametrize(
        ("date", "problem"),
        [(TUESDAY, "future"), (SATURDAY, "weekend"), (datetime.date(2026, 11, 29), "weekend")],
    )
    def test_a_future_day_or_a_weekend_is_not(self, school, date, problem):
        assert problem in services.school_day_problem(date)

    def test_today_is_a_school_day_but_tomorrow_is_not_yet(self, school, time_machine):
        time_machine.move_to(datetime.datetime(2026, 11, 30, 23, 59, tzinfo=MONDAY_AFTERNOON.tzinfo), tick=False)
        assert services.school_day_problem(MONDAY) is None
        assert services.school_day_problem(TUESDAY) is not None

    def test_a_closure_names_its_reason_on_each_of_its_days(self, school):
        make_closure(WEDNESDAY, FRIDAY, reason="Heating failure")
        for day in (WEDNESDAY, THURSDAY, FRIDAY):
            assert "Heating failure" in services.school_day_problem(day)
        assert services.school_day_problem(MONDAY) is None

    def test_once_terms_exist_only_days_inside_one_count(self, school):
        make_term(datetime.date(2026, 9, 2), datetime.date(2026, 10, 23), name="Autumn 1")
        make_term(datetime.date(2026, 11, 2), datetime.date(2026, 11, 27), name="Autumn 2a")
        assert services.school_day_problem(FRIDAY) is None
        assert services.school_day_problem(datetime.date(2026, 11, 2)) is None
        assert "outside every term" in services.school_day_problem(MONDAY)
        assert "outside every term" in services.school_day_problem(datetime.date(2026, 10, 28))

    def test_an_unknown_session_is_refused(self, school):
        with pytest.raises(ValidationError) as error:
            services.check_date_and_session(MONDAY, "EVE")
        assert set(error.value.message_dict) == {"session"}

    def test_the_sessions_follow_the_setting(self, school, settings):
        settings.ATTENDANCE_SESSIONS = {"AM": "09:00", "PM": "13:00", "EVE": "18:30"}
        services.check_date_and_session(MONDAY, "EVE")


class TestRecords:
    def test_a_new_mark_keeps_who_made_it_in_the_history(self, school):
        record = create(school.teacher, school.child_a, "L", minutes_late=4, remarks="Bus")
        assert (record.recorded_by, record.recorded_by_app, record.version) == (school.teacher, None, 1)
        change = AttendanceChange.objects.get()
        assert (change.action, change.changed_by, change.record_id_at_change) == ("created", school.teacher, record.pk)
        assert change.changes == {"code": [None, "L"], "minutes_late": [None, 4], "remarks": [None, "Bus"]}

    def test_a_partner_systems_mark_names_the_application(self, school, partner):
        record = create(partner, school.child_b, "N")
        assert (record.recorded_by, record.recorded_by_app) == (None, partner)
        assert AttendanceChange.objects.get().changed_by_app == partner

    def test_a_second_mark_for_the_same_session_is_a_conflict_naming_the_first(self, school):
        first = create(school.office, school.child_a)
        with pytest.raises(Conflict) as error:
            create(school.office, school.child_a, "N")
        assert (error.value.status, error.value.code, error.value.extra) == (
            409,
            "duplicate_record",
            {"existingId": first.pk},
        )
        assert AttendanceRecord.objects.count() == 1 and AttendanceChange.objects.count() == 1

    def test_the_database_itself_refuses_a_second_mark(self, school):
        make_record(school.child_a)
        with pytest.raises(IntegrityError), transaction.atomic():
            make_record(school.child_a, letter="N")

    def test_the_database_itself_refuses_a_second_register(self, school):
        Register.objects.create(class_group=school.class_a, date=MONDAY, session="AM")
        with pytest.raises(IntegrityError), transaction.atomic():
            Register.objects.create(class_group=school.class_a, date=MONDAY, session="AM")

    def test_a_teacher_marks_only_their_own_classes(self, school):
        with pytest.raises(PermissionDenied):
            create(school.teacher, school.child_b)
        with pytest.raises(PermissionDenied):
            create(school.teacher, make_student(None))
        assert not AttendanceRecord.objects.exists()

    @pytest.mark.parametrize(
        ("actor", "letter", "minutes", "field"),
        [
            ("teacher", "I", None, "code"),
            ("teacher", "U", None, "code"),
            ("teacher", "#", None, "code"),
            ("office", "/", 5, "minutesLate"),
            ("office", "N", 5, "minutesLate"),
            ("office", "O", 5, "minutesLate"),
            ("office", "P", 5, "minutesLate"),
        ],
    )
    def test_it_refuses_office_codes_to_teachers_and_minutes_late_without_a_late_code(
        self, school, actor, letter, minutes, field
    ):
        with pytest.raises(ValidationError) as error:
            create(getattr(school, actor), school.child_a, letter, minutes_late=minutes)
        assert set(error.value.message_dict) == {field}
        assert not AttendanceRecord.objects.exists()

    @pytest.mark.parametrize("letter", ["/", "L", "N", "V"])
    def test_teachers_use_the_codes_meant_for_them(self, school, letter):
        assert create(school.teacher, school.child_a, letter).code.code == letter

    def test_a_code_the_school_adds_for_teachers_is_usable_by_them(self, school):
        AttendanceCode.objects.create(
            code="W", label="Work experience", category="approved_activity", usable_by="teachers"
        )
        assert create(school.teacher, school.child_a, "W").code.is_attendance

    @pytest.mark.parametrize(("age", "allowed"), [(0, True), (7, True), (8, False)])
    def test_a_teacher_changes_marks_only_inside_the_edit_window(self, school, age, allowed):
        record = make_record(school.child_a, date=days_before(MONDAY, age), letter="N")
        change = {"actor": school.teacher, "record": record, "fields": {"code": code("/")}}
        if allowed:
            assert services.record_update(**change).code.code == "/"
        else:
            with pytest.raises(PermissionDenied):
                services.record_update(**change)
            assert AttendanceRecord.objects.get().code.code == "N"

    def test_the_office_and_partners_change_marks_of_any_age(self, school, partner):
        record = make_record(school.child_a, date=days_before(MONDAY, 200), letter="N")
        services.record_update(actor=school.office, record=record, fields={"code": code("I")})
        services.record_update(actor=partner, record=record, fields={"remarks": "Note from the GP"})
        changes = list(AttendanceChange.objects.order_by("id").values_list("changed_by", "changed_by_app", "changes"))
        assert changes == [
            (school.office.pk, None, {"code": ["N", "I"]}),
            (None, partner.pk, {"remarks": ["", "Note from the GP"]}),
        ]

    def test_a_teacher_cannot_create_a_mark_past_the_window_either(self, school):
        with pytest.raises(PermissionDenied):
            create(school.teacher, school.child_a, date=days_before(MONDAY, 10))
        assert create(school.office, school.child_a, date=days_before(MONDAY, 10)).pk

    def test_a_change_bumps_the_version_and_a_stale_one_is_refused(self, school):
        record = make_record(school.child_a, letter="N")
        updated = services.record_update(
            actor=school.office, record=record, fields={"code": code("I")}, expected_version=1
        )
        assert updated.version == 2
        with pytest.raises(PreconditionFailed) as error:
            services.record_update(actor=school.office, record=record, fields={"code": code("M")}, expected_version=1)
        assert error.value.status == 412
        assert AttendanceRecord.objects.get().code.code == "I"
        assert AttendanceChange.objects.count() == 1

    def test_deleting_keeps_the_mark_in_the_history(self, school):
        record = make_record(school.child_a, letter="O")
        services.record_delete(actor=school.office, record=record)
        change = AttendanceChange.objects.get()
        assert (change.action, change.changes, change.changed_by) == ("deleted", {"code": ["O", None]}, school.office)
        assert (change.record_id_at_change, change.student, change.date) == (record.pk, school.child_a, MONDAY)

    def test_a_stale_delete_is_refused(self, school):
        record = make_record(school.child_a, letter="O", version=3)
        with pytest.raises(PreconditionFailed):
            services.record_delete(actor=school.office, record=record, expected_version=2)
        assert AttendanceRecord.objects.exists() and not AttendanceChange.objects.exists()

    def test_a_full_history_reads_create_change_delete(self, school):
        record = create(school.teacher, school.child_a, "N")
        services.record_update(actor=school.office, record=record, fields={"code": code("I"), "remarks": "Flu"})
        services.record_delete(actor=school.office, record=record)
        history = list(AttendanceChange.objects.order_by("id").values_list("action", "changed_by", "changes"))
        assert history == [
            ("created", school.teacher.pk, {"code": [None, "N"]}),
            ("changed", school.office.pk, {"code": ["N", "I"], "remarks": ["", "Flu"]}),
            ("deleted", school.office.pk, {"code": ["I", None]}),
        ]


class TestCodes:
    def test_an_unused_code_may_be_deleted(self, school):
        services.code_delete(code=code("G"))
        assert not AttendanceCode.objects.filter(code="G").exists()

    def test_a_code_in_use_cannot_be_deleted_only_retired(self, school):
        record = make_record(school.child_a, letter="G")
        with pytest.raises(Conflict) as error:
            services.code_delete(code=code("G"))
        assert (error.value.status, error.value.code) == (409, "code_in_use")
        retired = services.code_retire(code=code("G"))
        assert retired.is_active is False
        assert AttendanceRecord.objects.get(pk=record.pk).code.code == "G"

    def test_a_retired_code_cannot_be_used_even_by_the_office(self, school, partner):
        services.code_retire(code=code("G"))
        for actor in (school.office, partner):
            with pytest.raises(ValidationError) as error:
                create(actor, school.child_a, "G")
            assert "retired" in str(error.value)

    @pytest.mark.parametrize(("status", "letter"), [("present", "/"), ("absent", "N"), ("late", "L"), ("excused", "C")])
    def test_the_guides_statuses_resolve_to_the_default_codes(self, school, status, letter):
        assert services.resolve_code(status=status).code == letter

    def test_unknown_codes_and_statuses_fail_validation(self, school):
        with pytest.raises(ValidationError) as by_code:
            services.resolve_code(code="Z")
        with pytest.raises(ValidationError) as by_status:
            services.resolve_code(status="sick")
        assert set(by_code.value.message_dict) == {"code"} and set(by_status.value.message_dict) == {"status"}

    @pytest.mark.parametrize(
        ("category", "status", "attended", "missed"),
        [
            ("present", "present", True, False),
            ("late", "late", True, False),
            ("approved_activity", "present", True, False),
            ("authorised_absence", "excused", False, True),
            ("unauthorised_absence", "absent", False, True),
            ("not_counted", "excused", False, False),
        ],
    )
    def test_each_category_reads_as_a_guide_status(self, school, category, status, attended, missed):
        assert AttendanceCode.objects.filter(category=category).exists()
        sample = AttendanceCode(code="?", label="?", category=category)
        assert (sample.api_status, sample.is_attendance, sample.is_absence) == (status, attended, missed)


class TestRegisterSubmission:
    @pytest.fixture
    def pupils(self, school):
        return [school.child_a, make_student(school.class_a), make_student(school.class_a)]

    def submit(self, actor: Any, class_group: Any, marks: list[Mark], date: datetime.date = MONDAY, session="AM"):
        return services.register_submit(actor=actor, class_group=class_group, date=date, session=session, marks=marks)

    def test_it_writes_every_mark_and_its_history(self, school, pupils):
        result = self.submit(school.teacher, school.class_a, [Mark(p.pk, code("/")) for p in pupils])
        assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
        assert result.register.submitted_at == MONDAY_AFTERNOON and result.register.is_late
        assert AttendanceRecord.objects.filter(register=result.register).count() == 3
        assert AttendanceChange.objects.filter(action="created", changed_by=school.teacher).count() == 3

    def test_a_new_marks_history_keeps_its_minutes_late_and_remarks(self, school, pupils):
        self.submit(school.teacher, school.class_a, [Mark(pupils[0].pk, code("L"), minutes_late=9, remarks="Bus")])
        assert AttendanceChange.objects.get().changes == {
            "code": [None, "L"],
            "minutes_late": [None, 9],
            "remarks": [None, "Bus"],
        }

    def test_one_bad_mark_and_nothing_is_written(self, school, pupils):
        before = snapshot()
        marks = [Mark(pupils[0].pk, code("/")), Mark(pupils[1].pk, code("I")), Mark(school.child_b.pk, code("/"))]
        with pytest.raises(ValidationError) as error:
            self.submit(school.teacher, school.class_a, marks)
        assert set(error.value.message_dict) == {"marks[1].code", "marks[2].studentId"}
        assert snapshot() == before

    def test_a_student_marked_twice_is_refused(self, school, pupils):
        with pytest.raises(ValidationError) as error:
            self.submit(school.office, school.class_a, [Mark(pupils[0].pk, code("/")), Mark(pupils[0].pk, code("N"))])
        assert set(error.value.message_dict) == {"marks[1].studentId"}
        assert not Register.objects.exists()

    def test_a_student_who_left_the_class_cannot_be_marked_in_it(self, school, pupils):
        pupils[2].class_group = school.class_b
        pupils[2].save()
        with pytest.raises(ValidationError):
            self.submit(school.office, school.class_a, [Mark(pupils[2].pk, code("/"))])

    @pytest.mark.parametrize("date", [TUESDAY, SATURDAY])
    def test_a_register_for_a_day_without_school_is_refused(self, school, pupils, date):
        with pytest.raises(ValidationError) as error:
            self.submit(school.office, school.class_a, [Mark(pupils[0].pk, code("/"))], date=date)
        assert set(error.value.message_dict) == {"date"}
        assert not Register.objects.exists()

    def test_each_session_has_its_own_register(self, school, pupils):
        am = self.submit(school.teacher, school.class_a, [Mark(pupils[0].pk, code("/"))], session="AM")
        pm = self.submit(school.teacher, school.class_a, [Mark(pupils[0].pk, code("N"))], session="PM")
        assert am.register.pk != pm.register.pk
        assert Register.objects.count() == 2 and AttendanceRecord.objects.count() == 2

    def test_a_mark_made_outside_the_register_is_updated_by_it(self, school, pupils):
        single = create(school.office, pupils[0], "N")
        result = self.submit(school.teacher, school.class_a, [Mark(pupils[0].pk, code("L"), minutes_late=6)])
        assert (result.created, result.updated) == (0, 1)
        single.refresh_from_db()
        assert (single.code.code, single.minutes_late, single.register, single.version) == ("L", 6, result.register, 2)

    def test_a_teacher_may_send_back_the_offices_marks_unchanged_but_not_give_them(self, school, pupils):
        make_record(pupils[0], letter="I", remarks="Rang in")
        make_record(pupils[1], letter="G")
        services.code_retire(code=code("G"))
        kept = [Mark(pupils[0].pk, code("I"), remarks="Rang in"), Mark(pupils[1].pk, code("G"))]
        result = self.submit(school.teacher, school.class_a, [*kept, Mark(pupils[2].pk, code("/"))])
        assert (result.created, result.updated, result.unchanged) == (1, 0, 2)
        before = snapshot()
        with pytest.raises(ValidationError) as error:
            self.submit(school.teacher, school.class_a, [*kept, Mark(pupils[2].pk, code("I"))])
        assert set(error.value.message_dict) == {"marks[2].code"}
        assert snapshot() == before

    def test_a_teacher_may_mark_the_office_code_of_an_accepted_report_but_no_other(self, school, pupils):
        AbsenceReport.objects.create(
            student=pupils[1], starts_on=MONDAY, ends_on=MONDAY, sessions="AM", reason="religious", status="accepted"
        )
        with pytest.raises(ValidationError):
            self.submit(school.teacher, school.class_a, [Mark(pupils[1].pk, code("I"))])
        with pytest.raises(ValidationError):
            self.submit(school.teacher, school.class_a, [Mark(pupils[1].pk, code("R"))], session="PM")
        result = self.submit(school.teacher, school.class_a, [Mark(pupils[1].pk, code("R"))])
        assert result.created == 1


class TestAbsenceReports:
    def report(self, school: Any, **changes: Any) -> AbsenceReport:
        values = {
            "guardian": school.guardian,
            "student": school.child_a,
            "starts_on": WEDNESDAY,
            "ends_on": TUESDAY,
            "sessions": ["AM", "PM"],
            "reason": "illness",
            "details": "Fever since Tuesday night",
            **changes,
        }
        return services.absence_report_create(**values)

    def test_a_guardian_reports_an_absence_of_their_own_child(self, school):
        report = self.report(school, sessions=["PM", "AM"])
        assert (report.status, report.sessions, report.reported_by) == ("pending", "AM PM", school.guardian)
        assert report.session_list == ["AM", "PM"]

    def test_a_guardian_cannot_report_for_another_familys_child(self, school):
        with pytest.raises(PermissionDenied):
            self.report(school, student=school.child_b)
        with pytest.raises(PermissionDenied):
            self.report(school, guardian=school.outsider)
        assert not AbsenceReport.objects.exists()

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"ends_on": days_before(WEDNESDAY, 1)}, "ends_on"),
            ({"ends_on": WEDNESDAY + datetime.timedelta(days=32)}, "ends_on"),
            ({"sessions": []}, "sessions"),
            ({"sessions": ["AM", "EVE"]}, "sessions"),
        ],
    )
    def test_a_bad_report_is_refused(self, school, changes, field):
        with pytest.raises(ValidationError) as error:
            self.report(school, **changes)
        assert field in error.value.message_dict
        assert not AbsenceReport.objects.exists()

    def test_accepting_marks_the_past_school_days_as_authorised_without_overwriting_presence(self, school):
        make_closure(THURSDAY, reason="Polling station")
        kept = {
            (WEDNESDAY, "PM"): make_record(school.child_a, WEDNESDAY, "PM", "/"),
            (FRIDAY, "PM"): make_record(school.child_a, FRIDAY, "PM", "L", minutes_late=20),
        }
        replaced = {
            (WEDNESDAY, "AM"): make_record(school.child_a, WEDNESDAY, "AM", "N"),
            (FRIDAY, "AM"): make_record(school.child_a, FRIDAY, "AM", "O"),
        }
        report = self.report(school)
        decided = services.absence_report_decide(actor=school.office, report=report, accept=True, note="GP letter")
        assert (decided.status, decided.decided_by, decided.decision_note) == ("accepted", school.office, "GP letter")
        marks = {(r.date, r.session): r for r in AttendanceRecord.objects.select_related("code")}
        # Wednesday, Friday and today: not Thursday (closed), the weekend, or Tuesday (still to come).
        assert set(marks) == {(d, s) for d in (WEDNESDAY, FRIDAY, MONDAY) for s in ("AM", "PM")}
        for key, record in kept.items():
            assert (marks[key].code.code, marks[key].version) == (record.code.code, 1)
        for key in [*replaced, (MONDAY, "AM"), (MONDAY, "PM")]:
            assert marks[key].code.code == "I"
            assert marks[key].remarks == "Reported by a parent: illness"
            assert marks[key].source == "parent_report"
        history = AttendanceChange.objects.filter(source="parent_report", changed_by=school.office)
        assert sorted(history.values_list("action", flat=True)) == ["changed", "changed", "created", "created"]
        assert history.get(date=WEDNESDAY, session="AM").changes["code"] == ["N", "I"]

    def test_accepting_marks_only_the_reported_sessions_and_days_inside_terms(self, school):
        make_term(datetime.date(2026, 11, 27), datetime.date(2026, 12, 18), name="Autumn 2b")
        report = self.report(school, sessions=["PM"], reason="medical")
        services.absence_report_decide(actor=school.office, report=report, accept=True)
        marks = set(AttendanceRecord.objects.values_list("date", "session", "code__code"))
        assert marks == {(FRIDAY, "PM", "M"), (MONDAY, "PM", "M")}

    def test_rejecting_changes_no_mark(self, school):
        make_record(school.child_a, WEDNESDAY, "AM", "N")
        report = self.report(school)
        before = snapshot()
        decided = services.absence_report_decide(actor=school.office, report=report, accept=False, note="No evidence")
        assert (decided.status, decided.decided_by) == ("rejected", school.office)
        after = snapshot()
        assert after["reports"] == [(report.pk, "rejected")]
        assert {**after, "reports": before["reports"]} == before

    @pytest.mark.parametrize("first", [True, False])
    def test_deciding_twice_is_a_conflict(self, school, first):
        report = self.report(school)
        services.absence_report_decide(actor=school.office, report=report, accept=first)
        before = snapshot()
        with pytest.raises(Conflict) as error:
            services.absence_report_decide(actor=school.admin, report=report, accept=not first)
        assert (error.value.status, error.value.code) == (409, "already_decided")
        assert snapshot() == before

    @pytest.mark.parametrize("persona", ["teacher", "colleague"])
    def test_only_the_office_decides(self, school, persona):
        report = self.report(school)
        with pytest.raises(PermissionDenied):
            services.absence_report_decide(actor=getattr(school, persona), report=report, accept=False)
        assert AbsenceReport.objects.get().status == "pending"

    def test_an_accepted_report_for_today_lets_the_teacher_mark_the_rest_of_the_day(self, school):
        report = self.report(school, starts_on=MONDAY, ends_on=TUESDAY, sessions=["AM"], reason="religious")
        services.absence_report_decide(actor=school.office, report=report, accept=True)
        record = AttendanceRecord.objects.get()
        # The teacher corrects it to the office's code again after a slip: still allowed for the reported code.
        services.record_update(actor=school.teacher, record=record, fields={"code": code("N")})
        services.record_update(actor=school.teacher, record=record, fields={"code": code("R")})
        with pytest.raises(ValidationError):
            services.record_update(actor=school.teacher, record=record, fields={"code": code("I")})
        assert AttendanceRecord.objects.get().code.code == "R"
