"""The attendance pages: who may open each, taking registers, corrections, reports, and parents' absence reports.

Time stands still on Monday 30 November 2026 at 10:00 in London: the morning register (AM) closed at 09:30, the
afternoon one (PM) closes at 13:45.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from attendance import services
from attendance.models import (
    AbsenceReport,
    AttendanceChange,
    AttendanceCode,
    AttendanceRecord,
    Closure,
    Register,
)
from harmony.roles import Role
from students.models import ClassGroup
from tests.conftest import School
from tests.factories import make_class_group, make_student, make_user

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
MONDAY = datetime.date(2026, 11, 30)
TUESDAY = MONDAY + datetime.timedelta(days=1)
SATURDAY = datetime.date(2026, 11, 28)
MONDAY_AT_9 = datetime.datetime(2026, 11, 30, 9, 10, tzinfo=LONDON)
PERSONAS = ["admin", "office", "teacher", "colleague", "guardian", "outsider", "anonymous"]


@pytest.fixture(autouse=True)
def monday_morning() -> Iterator[None]:
    with time_machine.travel(datetime.datetime(2026, 11, 30, 10, 0, tzinfo=LONDON), tick=False):
        yield


@pytest.fixture
def as_persona(school: School) -> Callable[[str], Client]:
    """Return a browser-like client signed in as a named persona ('anonymous' is not signed in)."""

    def make(name: str) -> Client:
        client = Client()
        users = {
            "admin": school.admin,
            "office": school.office,
            "teacher": school.teacher,
            "colleague": school.colleague,
            "guardian": school.guardian.user,
            "outsider": school.outsider.user,
        }
        if name != "anonymous":
            client.force_login(users[name])
        return client

    return make


def register_url(class_group: ClassGroup, date: datetime.date = MONDAY, session: str = "AM") -> str:
    return f"/staff/attendance/registers/{class_group.pk}/{date:%Y-%m-%d}/{session}/"


def code(letter: str) -> AttendanceCode:
    return AttendanceCode.objects.get(code=letter)


def mark(
    student: Any, letter: str, date: datetime.date = MONDAY, session: str = "AM", **extra: Any
) -> AttendanceRecord:
    return AttendanceRecord.objects.create(
        student=student, date=date, session=session, code=code(letter), source="register", **extra
    )


def form_data(response: Any, **overrides: Any) -> dict[str, Any]:
    """Return what the register form would send as it was shown, with `overrides` (field name: value)."""
    form = response.context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {name: "" if value is None else value for name, value in data.items()}
    return {**data, **overrides}


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# Who may open what ----------------------------------------------------------------------------------------------

STAFF_LOGIN, FAMILY_LOGIN = "/staff/login/", "/family/login/"
OFFICE_ONLY = {
    "admin": 200,
    "office": 200,
    "teacher": 403,
    "colleague": 403,
    "guardian": 403,
    "outsider": 403,
    "anonymous": STAFF_LOGIN,
}
ALL_STAFF = {**OFFICE_ONLY, "teacher": 200, "colleague": 200}
CLASS_A_STAFF = {**ALL_STAFF, "colleague": 404}
FAMILIES = {
    "admin": 403,
    "office": 403,
    "teacher": 403,
    "colleague": 403,
    "guardian": 200,
    "outsider": 200,
    "anonymous": FAMILY_LOGIN,
}
CHILD_A_FAMILY = {**FAMILIES, "outsider": 404}

PAGES: dict[str, tuple[Callable[[School, dict[str, Any]], str], dict[str, int | str]]] = {
    "registers": (lambda s, o: "/staff/attendance/", ALL_STAFF),
    "register": (lambda s, o: register_url(s.class_a), CLASS_A_STAFF),
    "completion": (lambda s, o: "/staff/attendance/completion/", OFFICE_ONLY),
    "correction": (lambda s, o: f"/staff/attendance/records/{o['record'].pk}/", OFFICE_ONLY),
    "student history": (lambda s, o: f"/staff/attendance/students/{s.child_a.pk}/", CLASS_A_STAFF),
    "reports": (lambda s, o: "/staff/attendance/reports/", ALL_STAFF),
    "students csv": (lambda s, o: "/staff/attendance/reports/students.csv", ALL_STAFF),
    "class groups csv": (lambda s, o: "/staff/attendance/reports/class-groups.csv", ALL_STAFF),
    "persistent absence csv": (lambda s, o: "/staff/attendance/reports/persistent-absence.csv", ALL_STAFF),
    "late arrivals csv": (lambda s, o: "/staff/attendance/reports/late-arrivals.csv", ALL_STAFF),
    "absence reports": (lambda s, o: "/staff/attendance/absence-reports/", OFFICE_ONLY),
    "family attendance": (lambda s, o: f"/family/children/{s.child_a.pk}/attendance/", CHILD_A_FAMILY),
    "family absences": (lambda s, o: "/family/absences/", FAMILIES),
    "family absence form": (lambda s, o: "/family/absences/new/", FAMILIES),
}
SWEEP = [(page, persona, expected[persona]) for page, (_, expected) in PAGES.items() for persona in PERSONAS]
# The URL routes this module's sweeps decide for every persona (tests/harmony/test_pages.py checks none is missed).
SWEPT_ROUTES = {
    "staff/attendance/",
    "staff/attendance/registers/<int:class_group>/<isodate:date>/<str:session>/",
    "staff/attendance/completion/",
    "staff/attendance/records/<int:pk>/",
    "staff/attendance/students/<int:pk>/",
    "staff/attendance/reports/",
    "staff/attendance/reports/<slug:kind>.csv",
    "staff/attendance/absence-reports/",
    "staff/attendance/absence-reports/<int:pk>/decide/",
    "family/children/<int:pk>/attendance/",
    "family/absences/",
    "family/absences/new/",
}


def _objects(school: School) -> dict[str, Any]:
    record = mark(school.child_a, "/")
    report = AbsenceReport.objects.create(
        student=school.child_a,
        reported_by=school.guardian,
        starts_on=TUESDAY,
        ends_on=TUESDAY,
        sessions="AM PM",
        reason="illness",
    )
    return {"record": record, "report": report}


@pytest.mark.parametrize(("page", "persona", "expected"), SWEEP, ids=[f"{p}-{who}" for p, who, _ in SWEEP])
def test_each_persona_gets_the_answer_the_page_promises(school, as_persona, page, persona, expected):
    url = PAGES[page][0](school, _objects(school))
    response = as_persona(persona).get(url)
    if isinstance(expected, str):
        assert response.status_code == 302
        assert response["Location"].startswith(expected)
    else:
        assert response.status_code == expected


DECIDE = {**OFFICE_ONLY, "admin": 302, "office": 302}


@pytest.mark.parametrize(("persona", "expected"), DECIDE.items())
def test_only_the_office_decides_an_absence_report(school, as_persona, persona, expected):
    report = _objects(school)["report"]
    response = as_persona(persona).post(
        f"/staff/attendance/absence-reports/{report.pk}/decide/", {"decision": "reject"}
    )
    if isinstance(expected, str):
        assert response["Location"].startswith(expected)
    else:
        assert response.status_code == expected
    report.refresh_from_db()
    assert report.status == ("rejected" if expected == 302 else "pending")


def test_a_privacy_officer_takes_no_registers_and_sees_no_reports(school):
    client = Client()
    client.force_login(make_user("privacy@school.test", Role.PRIVACY_OFFICER))
    assert client.get("/staff/attendance/").status_code == 403
    assert client.get("/staff/attendance/reports/").status_code == 403


def test_an_unknown_session_or_an_impossible_date_is_not_found(school, as_persona):
    teacher = as_persona("teacher")
    assert teacher.get(register_url(school.class_a, session="XX")).status_code == 404
    assert teacher.get(f"/staff/attendance/registers/{school.class_a.pk}/2026-02-30/AM/").status_code == 404
    assert as_persona("office").get("/staff/attendance/reports/nonsense.csv").status_code == 404


def test_the_navigation_shows_each_role_its_attendance_pages(school, as_persona):
    teacher = as_persona("teacher").get("/staff/").content.decode()
    assert "Registers" in teacher and "Reports" in teacher
    assert "Completion" not in teacher and "Absence reports" not in teacher
    office = as_persona("office").get("/staff/").content.decode()
    assert all(link in office for link in ("Registers", "Completion", "Reports", "Absence reports"))
    family = as_persona("guardian").get(f"/family/children/{school.child_a.pk}/").content.decode()
    assert f"/family/children/{school.child_a.pk}/attendance/" in family


# Taking a register ----------------------------------------------------------------------------------------------


def test_a_teacher_sees_the_groups_they_teach_for_today(school, as_persona):
    response = as_persona("teacher").get("/staff/attendance/")
    assert [slot.class_group for slot in response.context["slots"]] == [school.class_a, school.class_a]
    office = as_persona("office").get("/staff/attendance/")
    assert {slot.class_group for slot in office.context["slots"]} == {school.class_a, school.class_b}
    assert register_url(school.class_a) in response.content.decode()


def test_the_register_starts_everyone_present_and_says_who_is_not_yet_marked(school, as_persona):
    second = make_student(school.class_a, first_name="Ben", last_name="Bell")
    mark(second, "L", minutes_late=4)
    response = as_persona("teacher").get(register_url(school.class_a))
    assert response.status_code == 200
    rows = {row.student: row for row in response.context["rows"]}
    assert rows[school.child_a].selected == "/" and not rows[school.child_a].saved
    assert rows[second].selected == "L" and rows[second].minutes == 4 and rows[second].saved
    page = response.content.decode()
    assert "Not yet marked" in page and "1 not yet marked" in page
    assert 'src="/static/attendance/register.js"' in page


def test_a_teacher_takes_a_register_through_the_page(school, as_persona):
    late = make_student(school.class_a, first_name="Ben", last_name="Bell")
    present = make_student(school.class_a, first_name="Cara", last_name="Cole")
    teacher = as_persona("teacher")
    shown = teacher.get(register_url(school.class_a, session="PM"))
    data = form_data(
        shown,
        **{
            f"code-{school.child_a.pk}": "N",
            f"code-{late.pk}": "L",
            f"minutes-{late.pk}": "7",
            f"remarks-{late.pk}": "Bus was late",
        },
    )
    response = teacher.post(register_url(school.class_a, session="PM"), data)
    assert response.status_code == 302
    assert response["Location"] == "/staff/attendance/?date=2026-11-30"
    records = {r.student: r for r in AttendanceRecord.objects.select_related("code").filter(session="PM")}
    assert {s: r.code.code for s, r in records.items()} == {school.child_a: "N", late: "L", present: "/"}
    assert (records[late].minutes_late, records[late].remarks) == (7, "Bus was late")
    assert {r.source for r in records.values()} == {"register"}
    register = Register.objects.get()
    assert (register.class_group, register.session, register.taken_by) == (school.class_a, "PM", school.teacher)
    assert register.submitted_at is not None and not register.is_late
    listing = teacher.get(response["Location"])
    assert "7A PM register saved" in " ".join(messages_of(listing))


def test_a_second_submission_updates_the_marks_and_keeps_their_history(school, as_persona):
    teacher = as_persona("teacher")
    url = register_url(school.class_a)
    teacher.post(url, form_data(teacher.get(url), **{f"code-{school.child_a.pk}": "N"}))
    shown = teacher.get(url)
    assert shown.context["rows"][0].selected == "N"
    response = teacher.post(
        url, form_data(shown, **{f"code-{school.child_a.pk}": "L", f"minutes-{school.child_a.pk}": 12})
    )
    assert response.status_code == 302
    record = AttendanceRecord.objects.get()
    assert (record.code.code, record.minutes_late, record.version) == ("L", 12, 2)
    assert list(AttendanceChange.objects.order_by("id").values_list("action", flat=True)) == ["created", "changed"]
    assert Register.objects.get().is_late  # the morning register closed at 09:30


def test_the_office_chooses_any_code_from_the_other_codes(school, as_persona):
    office = as_persona("office")
    url = register_url(school.class_a)
    response = office.post(url, form_data(office.get(url), **{f"other-{school.child_a.pk}": "M"}))
    assert response.status_code == 302
    assert AttendanceRecord.objects.get().code.code == "M"


def _refused(response: Any, status: int, text: str) -> None:
    assert response.status_code == status
    assert text in response.content.decode()
    assert AttendanceRecord.objects.count() == 0
    assert Register.objects.count() == 0
    assert AttendanceChange.objects.count() == 0


def test_it_refuses_an_unknown_code_and_writes_nothing(school, as_persona):
    teacher = as_persona("teacher")
    second = make_student(school.class_a)
    url = register_url(school.class_a)
    data = form_data(teacher.get(url), **{f"code-{school.child_a.pk}": "Z"})
    response = teacher.post(url, data)
    _refused(response, 400, "Z is not an attendance code.")
    assert "The register was not saved" in response.content.decode()
    assert response.context["rows"][1].student == second


def test_it_refuses_an_office_code_from_a_teacher_and_writes_nothing(school, as_persona):
    teacher = as_persona("teacher")
    make_student(school.class_a)
    url = register_url(school.class_a)
    response = teacher.post(url, form_data(teacher.get(url), **{f"code-{school.child_a.pk}": "I"}))
    _refused(response, 400, "Only the office may use the code I")
    assert f'href="#student-{school.child_a.pk}"' in response.content.decode()


def test_it_refuses_minutes_late_with_a_present_mark(school, as_persona):
    teacher = as_persona("teacher")
    url = register_url(school.class_a)
    response = teacher.post(url, form_data(teacher.get(url), **{f"minutes-{school.child_a.pk}": "5"}))
    _refused(response, 400, "Minutes late go with a late mark only.")


def test_it_rejects_a_register_for_a_future_date(school, as_persona):
    teacher = as_persona("teacher")
    url = register_url(school.class_a, date=TUESDAY)
    shown = teacher.get(url)
    assert shown.status_code == 400
    assert "A register cannot be taken for a future date." in shown.content.decode()
    _refused(teacher.post(url, {f"code-{school.child_a.pk}": "/"}), 400, "future date")


def test_it_rejects_a_register_on_a_closed_day_or_a_weekend(school, as_persona):
    Closure.objects.create(starts_on=MONDAY, ends_on=MONDAY, reason="Staff training day")
    teacher = as_persona("teacher")
    _refused(teacher.post(register_url(school.class_a), {f"code-{school.child_a.pk}": "/"}), 400, "Staff training day")
    assert teacher.get(register_url(school.class_a, date=SATURDAY)).status_code == 400


def test_a_teacher_cannot_take_another_class_register(school, as_persona):
    colleague = as_persona("colleague")
    _refused(colleague.post(register_url(school.class_a), {f"code-{school.child_a.pk}": "/"}), 404, "")


def test_a_teacher_sees_an_old_register_but_cannot_change_it(school, as_persona):
    old = MONDAY - datetime.timedelta(days=14)
    teacher = as_persona("teacher")
    shown = teacher.get(register_url(school.class_a, date=old))
    assert shown.status_code == 200
    assert "only be changed by the office" in shown.content.decode()
    _refused(teacher.post(register_url(school.class_a, date=old), form_data(shown)), 403, "office")


def test_an_accepted_parent_report_fills_in_the_register_for_the_teacher(school, as_persona):
    report = services.absence_report_create(
        guardian=school.guardian,
        student=school.child_a,
        starts_on=TUESDAY,
        ends_on=TUESDAY,
        sessions=["AM"],
        reason="medical",
    )
    services.absence_report_decide(actor=school.office, report=report, accept=True)
    assert AttendanceRecord.objects.count() == 0  # Tuesday has not come yet
    with time_machine.travel(datetime.datetime(2026, 12, 1, 9, 0, tzinfo=LONDON), tick=False):
        teacher = as_persona("teacher")
        url = register_url(school.class_a, date=TUESDAY)
        shown = teacher.get(url)
        assert shown.context["rows"][0].selected == "M"
        assert "Absence reported by a parent" in shown.content.decode()
        assert teacher.post(url, form_data(shown)).status_code == 302
    assert AttendanceRecord.objects.get().code.code == "M"


# Completion and corrections -------------------------------------------------------------------------------------


def test_completion_shows_the_registers_still_missing_after_they_close(school, as_persona):
    services.register_submit(
        actor=school.teacher,
        class_group=school.class_a,
        date=MONDAY,
        session="AM",
        marks=[services.Mark(school.child_a.pk, code("/"))],
    )
    response = as_persona("office").get("/staff/attendance/completion/")
    missing = [(slot.class_group, slot.session) for slot in response.context["missing"]]
    assert missing == [(school.class_b, "AM")]  # PM is still open until 13:45
    page = response.content.decode()
    assert 'data-missing="7B AM"' in page and 'data-missing="7A AM"' not in page
    assert "Tara Teacher" in page


def test_the_office_corrects_a_mark_and_its_history_is_kept(school, as_persona):
    record = services.record_create(
        actor=school.teacher, student=school.child_a, date=MONDAY, session="AM", code=code("N"), source="register"
    )
    office = as_persona("office")
    url = f"/staff/attendance/records/{record.pk}/"
    data = {"code": "I", "minutes_late": "", "remarks": "Phoned in at 10:00", "version": record.version}
    response = office.post(url, data)
    assert response.status_code == 302
    record.refresh_from_db()
    assert (record.code.code, record.remarks, record.source, record.version) == ("I", "Phoned in at 10:00", "office", 2)
    history = list(AttendanceChange.objects.order_by("id").values_list("action", "changes"))
    assert history[0][0] == "created"
    assert history[1] == ("changed", {"code": ["N", "I"], "remarks": ["", "Phoned in at 10:00"]})
    page = office.get(url).content.decode()
    assert "Mark: N → I" in page and "Owen Office" in page and "Tara Teacher" in page

    stale = office.post(url, {**data, "code": "O", "version": 1})
    assert stale.status_code == 302
    assert "Someone changed this mark" in " ".join(messages_of(office.get(url)))
    record.refresh_from_db()
    assert record.code.code == "I"


def test_a_correction_that_breaks_a_rule_is_refused(school, as_persona):
    record = mark(school.child_a, "/")
    response = as_persona("office").post(
        f"/staff/attendance/records/{record.pk}/", {"code": "/", "minutes_late": "10", "remarks": "", "version": 1}
    )
    assert response.status_code == 400
    assert "Minutes late go with a late mark only." in response.content.decode()
    assert AttendanceChange.objects.count() == 0


def test_a_student_history_shows_the_rate_over_the_range(school, as_persona):
    _hand_checked_school(school)
    response = as_persona("teacher").get(f"/staff/attendance/students/{school.child_a.pk}/")
    assert response.context["figures"].rate == 0.8
    page = response.content.decode()
    assert 'data-figure="rate">80.0%' in page and "Persistent absence" in page
    narrow = as_persona("office").get(
        f"/staff/attendance/students/{school.child_a.pk}/?start=2026-11-02&end=2026-11-02"
    )
    assert narrow.context["figures"].possible == 2


# Reports --------------------------------------------------------------------------------------------------------


def _weekday_sessions() -> Iterator[tuple[datetime.date, str]]:
    day = datetime.date(2026, 11, 2)
    while True:
        if day.weekday() < 5:
            yield day, "AM"
            yield day, "PM"
        day += datetime.timedelta(days=1)


def _give(student: Any, letters: str) -> None:
    for letter, (day, session) in zip(letters.split(), _weekday_sessions(), strict=False):
        mark(student, letter, date=day, session=session)


def _hand_checked_school(school: School) -> dict[str, Any]:
    """7A: Amira Ahmed 8 present, 1 illness, 1 unauthorised; Cara Carter 9 present, 1 late after the register
    closed (U), 1 planned closure (not counted). 7B: Bilal Brown present, late, 2 unauthorised; Dan Davis 10
    present. One mark in August is outside the default range (from 1 September)."""
    carter = make_student(school.class_a, first_name="Cara", last_name="Carter", roll_number="A0002")
    davis = make_student(school.class_b, first_name="Dan", last_name="Davis", roll_number="B0002")
    _give(school.child_a, "/ / / / / / / / I N")
    _give(carter, "/ / / / / / / / / U #")
    _give(school.child_b, "/ L N N")
    _give(davis, "/ / / / / / / / / /")
    mark(school.child_b, "N", date=datetime.date(2026, 8, 20))
    return {"carter": carter, "davis": davis}


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="attendance-')
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_students_csv_has_the_hand_checked_figures(school, as_persona):
    _hand_checked_school(school)
    rows = _csv(as_persona("office").get("/staff/attendance/reports/students.csv"))
    assert rows[0] == [
        "Roll number",
        "First name",
        "Last name",
        "Class group",
        "Possible sessions",
        "Attended",
        "Authorised absence",
        "Unauthorised absence",
        "Late",
        "Attendance rate (%)",
        "Absence rate (%)",
        "Persistent",
        "Severe",
    ]
    assert rows[1:] == [
        ["A0001", "Amira", "Ahmed", "7A", "10", "8", "1", "1", "0", "80.0", "20.0", "yes", "no"],
        ["A0002", "Cara", "Carter", "7A", "10", "9", "0", "1", "1", "90.0", "10.0", "yes", "no"],
        ["B0001", "Bilal", "Brown", "7B", "4", "2", "0", "2", "1", "50.0", "50.0", "yes", "yes"],
        ["B0002", "Dan", "Davis", "7B", "10", "10", "0", "0", "0", "100.0", "0.0", "no", "no"],
    ]


def test_the_class_group_csv_adds_up_its_students(school, as_persona):
    _hand_checked_school(school)
    rows = _csv(as_persona("admin").get("/staff/attendance/reports/class-groups.csv"))
    assert rows[1:] == [
        ["7A", "7", "20", "17", "1", "2", "1", "85.0", "15.0"],
        ["7B", "7", "14", "12", "0", "2", "1", "85.7", "14.3"],
    ]


def test_the_persistent_absence_and_late_csvs_list_the_right_students(school, as_persona):
    _hand_checked_school(school)
    office = as_persona("office")
    persistent = _csv(office.get("/staff/attendance/reports/persistent-absence.csv"))
    assert [row[2] for row in persistent[1:]] == ["Brown", "Ahmed", "Carter"]
    assert persistent[1][-3:] == ["2", "50.0", "severe"] and persistent[3][-1] == "persistent"
    late = _csv(office.get("/staff/attendance/reports/late-arrivals.csv"))
    assert late[1:] == [["A0002", "Cara", "Carter", "7A", "1", "10"], ["B0001", "Bilal", "Brown", "7B", "1", "4"]]


def test_a_report_covers_the_range_asked_for(school, as_persona):
    _hand_checked_school(school)
    office = as_persona("office")
    rows = _csv(office.get("/staff/attendance/reports/students.csv?start=2026-08-01&end=2026-11-02"))
    by_name = {row[2]: row for row in rows[1:]}
    assert by_name["Brown"][4:8] == ["3", "2", "0", "1"]  # the August N, and Monday 2 November's / and L
    backwards = office.get("/staff/attendance/reports/students.csv?start=2026-12-01&end=2026-11-01")
    assert backwards.status_code == 400
    assert backwards.content.decode() == "The end of the range is before its start."


def test_a_teacher_reports_on_their_own_class_groups_only(school, as_persona):
    _hand_checked_school(school)
    rows = _csv(as_persona("teacher").get("/staff/attendance/reports/students.csv"))
    assert [row[2] for row in rows[1:]] == ["Ahmed", "Carter"]
    groups = _csv(as_persona("colleague").get("/staff/attendance/reports/class-groups.csv"))
    assert [row[0] for row in groups[1:]] == ["7B"]
    other = as_persona("teacher").get(f"/staff/attendance/reports/?class_group={school.class_b.pk}")
    assert other.context["form"].errors  # not one of hers: the choice is refused, her own groups are shown
    assert [group for group, _ in other.context["by_group"]] == [school.class_a]
    refused = as_persona("teacher").get(f"/staff/attendance/reports/students.csv?class_group={school.class_b.pk}")
    assert refused.status_code == 400 and "Brown" not in refused.content.decode()


def test_the_reports_page_shows_the_figures_and_the_lists(school, as_persona):
    _hand_checked_school(school)
    response = as_persona("office").get("/staff/attendance/reports/?start=2026-09-01&end=2026-11-30")
    page = response.content.decode()
    assert "85.7%" in page and "Severe" in page
    assert [s.last_name for s, _ in response.context["persistent"]] == ["Brown", "Ahmed", "Carter"]
    assert "/staff/attendance/reports/students.csv?start=2026-09-01&amp;end=2026-11-30" in page


def test_a_csv_keeps_a_formula_looking_name_as_text(school, as_persona):
    make_student(school.class_a, first_name="=HYPERLINK(1)", last_name="Zed")
    rows = _csv(as_persona("office").get("/staff/attendance/reports/students.csv"))
    assert [row[1] for row in rows if row[2] == "Zed"] == ["'=HYPERLINK(1)"]


# Parents' absence reports ---------------------------------------------------------------------------------------


def _report_absence(client: Client, child: Any, **extra: Any) -> Any:
    data = {
        "student": child.pk,
        "starts_on": "2026-11-30",
        "ends_on": "",
        "sessions": ["AM", "PM"],
        "reason": "illness",
        "details": "A temperature since last night.",
        **extra,
    }
    return client.post("/family/absences/new/", data)


def test_a_parent_reports_an_absence_the_office_accepts_it_and_the_register_shows_it(school, as_persona):
    guardian = as_persona("guardian")
    assert (
        f'value="{school.child_a.pk}" selected'
        in guardian.get(f"/family/absences/new/?child={school.child_a.pk}").content.decode()
    )
    response = _report_absence(guardian, school.child_a)
    assert response.status_code == 302
    assert response["Location"] == f"/family/children/{school.child_a.pk}/attendance/"
    report = AbsenceReport.objects.get()
    assert (report.status, report.sessions, report.ends_on, report.reported_by) == (
        "pending",
        "AM PM",
        MONDAY,
        school.guardian,
    )

    office = as_persona("office")
    listed = office.get("/staff/attendance/absence-reports/").content.decode()
    assert "Amira Ahmed" in listed and "A temperature since last night." in listed
    decided = office.post(f"/staff/attendance/absence-reports/{report.pk}/decide/", {"decision": "accept"})
    assert decided.status_code == 302
    assert "authorised on the register" in " ".join(messages_of(office.get(decided["Location"])))

    records = AttendanceRecord.objects.select_related("code").filter(student=school.child_a)
    assert {(r.session, r.code.code, r.source) for r in records} == {
        ("AM", "I", "parent_report"),
        ("PM", "I", "parent_report"),
    }
    register = as_persona("teacher").get(register_url(school.class_a))
    assert register.context["rows"][0].selected == "I"
    assert 'value="I" checked' in register.content.decode()

    family = guardian.get(f"/family/children/{school.child_a.pk}/attendance/").content.decode()
    assert "Accepted" in family and "Illness" in family

    again = office.post(f"/staff/attendance/absence-reports/{report.pk}/decide/", {"decision": "reject"})
    assert "already accepted" in " ".join(messages_of(office.get(again["Location"])))


def test_a_rejected_report_leaves_the_marks_alone(school, as_persona):
    services.register_submit(
        actor=school.teacher,
        class_group=school.class_a,
        date=MONDAY,
        session="AM",
        marks=[services.Mark(school.child_a.pk, code("N"))],
    )
    _report_absence(as_persona("guardian"), school.child_a)
    report = AbsenceReport.objects.get()
    as_persona("office").post(
        f"/staff/attendance/absence-reports/{report.pk}/decide/", {"decision": "reject", "note": "Seen in town"}
    )
    report.refresh_from_db()
    assert (report.status, report.decision_note) == ("rejected", "Seen in town")
    assert AttendanceRecord.objects.get().code.code == "N"
    assert AttendanceChange.objects.count() == 1
    assert "Seen in town" in as_persona("guardian").get("/family/absences/").content.decode()


def test_a_parent_cannot_report_for_another_familys_child(school, as_persona):
    response = _report_absence(as_persona("guardian"), school.child_b)
    assert response.status_code == 400
    assert AbsenceReport.objects.count() == 0


def test_a_parent_report_with_bad_dates_or_no_session_is_refused(school, as_persona):
    guardian = as_persona("guardian")
    backwards = _report_absence(guardian, school.child_a, ends_on="2026-11-27")
    assert backwards.status_code == 400 and "The last day is before the first." in backwards.content.decode()
    no_session = _report_absence(guardian, school.child_a, sessions=[])
    assert no_session.status_code == 400 and "Choose at least one session." in no_session.content.decode()
    assert AbsenceReport.objects.count() == 0


def test_a_parent_sees_their_childs_rate_and_no_one_elses(school, as_persona):
    _hand_checked_school(school)
    guardian = as_persona("guardian")
    response = guardian.get(f"/family/children/{school.child_a.pk}/attendance/")
    assert 'data-figure="rate">80.0%' in response.content.decode()
    assert guardian.get(f"/family/children/{school.child_b.pk}/attendance/").status_code == 404
    outsider_reports = as_persona("outsider").get("/family/absences/")
    _report_absence(guardian, school.child_a)
    assert "Amira" not in as_persona("outsider").get("/family/absences/").content.decode()
    assert outsider_reports.status_code == 200


# Query counts ---------------------------------------------------------------------------------------------------


def _queries(client: Client, url: str, method: str = "get", data: Any = None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(url, data) if data is not None else getattr(client, method)(url)
    assert response.status_code in (200, 302), response.status_code
    return len(queries)


def _more_students(school: School, count: int) -> None:
    for _ in range(count):
        student = make_student(school.class_a)
        mark(student, "L", minutes_late=3)
    make_student(school.class_a)  # and one not yet marked


def test_the_register_page_does_not_query_per_student(school, as_persona):
    teacher = as_persona("teacher")
    url = register_url(school.class_a)
    teacher.get(url)  # the session and the user's roles are warm from here on
    # Queries: session, user, roles, class group, closure, term, register slot (2), students, records, reports,
    # codes.
    baseline = _queries(teacher, url)
    _more_students(school, 5)
    AbsenceReport.objects.create(
        student=school.child_a, starts_on=MONDAY, ends_on=MONDAY, sessions="AM", reason="illness", status="accepted"
    )
    assert _queries(teacher, url) == baseline


def test_submitting_a_register_does_not_query_per_student(school, as_persona):
    teacher = as_persona("teacher")
    small = register_url(school.class_a, session="AM")
    teacher.get(small)
    baseline = _queries(teacher, small, "post", form_data(teacher.get(small)))
    for _ in range(5):
        make_student(school.class_a)
    big = register_url(school.class_a, session="PM")
    assert _queries(teacher, big, "post", form_data(teacher.get(big))) == baseline


def test_the_completion_page_and_the_register_list_do_not_query_per_group(school, as_persona):
    office = as_persona("office")
    office.get("/staff/attendance/completion/")
    completion = _queries(office, "/staff/attendance/completion/")
    registers = _queries(office, "/staff/attendance/")
    for n in range(4):
        group = make_class_group(f"8{n}", year_group=8, tutor=make_user(first_name="Tutor", last_name=str(n)))
        Register.objects.create(
            class_group=group, date=MONDAY, session="AM", taken_by=school.teacher, submitted_at=MONDAY_AT_9
        )
    assert _queries(office, "/staff/attendance/completion/") == completion
    assert _queries(office, "/staff/attendance/") == registers


@pytest.mark.parametrize(
    "url",
    [
        "/staff/attendance/reports/",
        "/staff/attendance/reports/students.csv",
        "/staff/attendance/reports/class-groups.csv",
        "/staff/attendance/reports/persistent-absence.csv",
        "/staff/attendance/reports/late-arrivals.csv",
    ],
)
def test_the_reports_do_not_query_per_student_or_group(school, as_persona, url):
    office = as_persona("office")
    office.get(url)
    baseline = _queries(office, url)
    _hand_checked_school(school)
    _more_students(school, 3)
    make_class_group("9Z", year_group=9)
    assert _queries(office, url) == baseline
