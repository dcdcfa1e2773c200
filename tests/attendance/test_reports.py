"""Attendance figures on examples checked by hand: possible sessions, attendance, absence, late arrivals, and
the persistent (10 %) and severe (50 %) absence thresholds exactly at their boundaries."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from attendance import selectors
from attendance.selectors import AttendanceFigures
from students.models import ClassGroup, Student
from tests.attendance.helpers import make_record
from tests.factories import make_class_group, make_student

pytestmark = pytest.mark.django_db

START = datetime.date(2026, 11, 16)  # a Monday
END = datetime.date(2026, 11, 30)


def school_sessions(start: datetime.date = START):
    """Yield (date, session) for each school session from `start`: AM then PM, weekdays only."""
    day = start
    while True:
        if day.weekday() < 5:
            yield day, "AM"
            yield day, "PM"
        day += datetime.timedelta(days=1)


def mark(student: Student, marks: str) -> None:
    """Mark `student` one code per session from START on: "/N" is Monday 16th present AM, absent PM."""
    for (date, session), letter in zip(school_sessions(), marks, strict=False):
        if letter != ".":
            make_record(student, date, session, letter)


# name: (marks, possible, attended, authorised, unauthorised, late)
EXAMPLES = {
    "half day": ("/N", 2, 1, 0, 1, 0),
    "late twice": ("LU", 2, 1, 0, 1, 2),  # L: late and in; U: came after the register closed, counted absent
    "not counted": ("/X#", 1, 1, 0, 0, 0),  # not required to attend, and a planned closure: not possible
    "approved activity": ("VPB", 3, 3, 0, 0, 0),  # a trip, sport, educated off site: all attended
    "persistent at the boundary": ("/////////I", 10, 9, 1, 0, 0),  # 1 in 10 missed: exactly 10 %
    "just under persistent": ("//////////I", 11, 10, 1, 0, 0),  # 1 in 11: 9.1 %
    "severe at the boundary": ("/N/M", 4, 2, 1, 1, 0),  # 2 in 4 missed: exactly 50 %
    "just under severe": ("/N/M/", 5, 3, 1, 1, 0),  # 2 in 5: 40 %
    "a gap in the register": ("/./.N", 3, 2, 0, 1, 0),  # unmarked sessions count for nothing
    "nothing recorded": ("", 0, 0, 0, 0, 0),
}


@pytest.fixture
def pupils(school) -> dict[str, Student]:
    """One student per example, in 7A for the first four and 7B for the rest, named so they sort in order."""
    students = {}
    for index, (name, (marks, *_)) in enumerate(EXAMPLES.items()):
        group = school.class_a if index < 4 else school.class_b
        students[name] = make_student(group, last_name=f"Pupil{index:02d}", first_name=name)
        mark(students[name], marks)
    # Outside the period: never counted.
    make_record(students["half day"], datetime.date(2026, 11, 13), "AM", "N")
    make_record(students["half day"], datetime.date(2026, 12, 1), "AM", "N")
    return students


def expected(name: str) -> AttendanceFigures:
    _, possible, attended, authorised, unauthorised, late = EXAMPLES[name]
    return AttendanceFigures(possible, attended, authorised, unauthorised, late)


class TestFiguresForStudent:
    @pytest.mark.parametrize("name", list(EXAMPLES))
    def test_it_counts_each_example_as_checked_by_hand(self, school, pupils, name):
        assert selectors.figures_for_student(pupils[name], START, END) == expected(name)

    def test_a_half_day_is_fifty_percent(self, school, pupils):
        figures = selectors.figures_for_student(pupils["half day"], START, END)
        assert (figures.rate, figures.absence_rate, figures.missed) == (0.5, 0.5, 1)

    def test_late_marks_are_attended_and_counted_as_late_arrivals(self, school, pupils):
        figures = selectors.figures_for_student(pupils["late twice"], START, END)
        assert (figures.attended, figures.late, figures.rate) == (1, 2, 0.5)

    def test_sessions_that_do_not_count_are_left_out_of_possible_sessions(self, school, pupils):
        figures = selectors.figures_for_student(pupils["not counted"], START, END)
        assert (figures.possible, figures.rate, figures.absence_rate) == (1, 1.0, 0.0)
        assert not figures.persistent_absence

    def test_approved_educational_activity_counts_as_attendance(self, school, pupils):
        assert selectors.figures_for_student(pupils["approved activity"], START, END).rate == 1.0

    @pytest.mark.parametrize(
        ("name", "absence_rate", "persistent", "severe"),
        [
            ("persistent at the boundary", 0.1, True, False),
            ("just under persistent", 1 / 11, False, False),
            ("severe at the boundary", 0.5, True, True),
            ("just under severe", 0.4, True, False),
            ("approved activity", 0.0, False, False),
        ],
    )
    def test_the_absence_thresholds_hold_exactly_at_their_boundaries(
        self, school, pupils, name, absence_rate, persistent, severe
    ):
        figures = selectors.figures_for_student(pupils[name], START, END)
        assert figures.absence_rate == pytest.approx(absence_rate)
        assert (figures.persistent_absence, figures.severe_absence) == (persistent, severe)

    def test_a_student_with_no_possible_sessions_has_no_rate_and_no_flag(self, school, pupils):
        for name in ("nothing recorded",):
            figures = selectors.figures_for_student(pupils[name], START, END)
            assert (figures.rate, figures.absence_rate) == (None, None)
            assert not figures.persistent_absence and not figures.severe_absence
        only_not_counted = make_student(school.class_a)
        mark(only_not_counted, "XX#")
        assert selectors.figures_for_student(only_not_counted, START, END).rate is None

    def test_the_period_bounds_are_inclusive(self, school, pupils):
        student = pupils["half day"]
        assert selectors.figures_for_student(student, START, START).possible == 2
        assert selectors.figures_for_student(student, datetime.date(2026, 11, 13), END).possible == 3
        assert selectors.figures_for_student(student, datetime.date(2026, 11, 17), END).possible == 0

    def test_a_code_the_school_adds_is_counted_by_its_category(self, school):
        from attendance.models import AttendanceCode

        AttendanceCode.objects.create(code="W", label="Work experience", category="approved_activity")
        AttendanceCode.objects.create(
            code="Y", label="Partial closure", category="not_counted", counts_as_possible=False
        )
        student = make_student(school.class_a)
        mark(student, "WYN")
        assert selectors.figures_for_student(student, START, END) == AttendanceFigures(2, 1, 0, 1, 0)


class TestFiguresByStudent:
    def test_it_lists_every_student_with_their_figures_in_class_and_name_order(self, school, pupils):
        rows = selectors.figures_by_student(Student.objects.all(), START, END)
        assert [student for student, _ in rows] == [
            *sorted(
                [school.child_a, *(pupils[n] for n in list(EXAMPLES)[:4])],
                key=lambda s: (s.last_name, s.first_name),
            ),
            *sorted(
                [school.child_b, *(pupils[n] for n in list(EXAMPLES)[4:])],
                key=lambda s: (s.last_name, s.first_name),
            ),
        ]
        figures = dict(rows)
        for name, student in pupils.items():
            assert figures[student] == expected(name), name
        assert figures[school.child_a] == AttendanceFigures(0, 0, 0, 0, 0)

    def test_it_takes_only_the_students_it_is_given(self, school, pupils):
        rows = selectors.figures_by_student(Student.objects.filter(class_group=school.class_b), START, END)
        assert {student.class_group_id for student, _ in rows} == {school.class_b.pk}

    def test_it_costs_the_same_queries_for_three_students_or_thirty(self, school):
        group = make_class_group("7C")
        for _ in range(3):
            mark(make_student(group), "/NL")
        with CaptureQueriesContext(connection) as few:
            selectors.figures_by_student(Student.objects.filter(class_group=group), START, END)
        for _ in range(27):
            mark(make_student(group), "/NLI")
        with CaptureQueriesContext(connection) as many:
            rows = selectors.figures_by_student(Student.objects.filter(class_group=group), START, END)
        assert len(rows) == 30
        # the figures grouped by student, and the students with their class groups
        assert len(many) == len(few) == 2, [q["sql"] for q in many.captured_queries]


class TestFiguresByClassGroup:
    def test_it_adds_up_each_class_group(self, school, pupils):
        make_class_group("7C", year_group=7)
        rows = selectors.figures_by_class_group(ClassGroup.objects.all(), START, END)
        assert [(group.name, figures) for group, figures in rows] == [
            # 7A: half day, late twice, not counted, approved activity
            ("7A", AttendanceFigures(possible=8, attended=6, authorised=0, unauthorised=2, late=2)),
            # 7B: the four threshold examples, a gap in the register, nothing recorded
            ("7B", AttendanceFigures(possible=33, attended=26, authorised=4, unauthorised=3, late=0)),
            ("7C", AttendanceFigures(0, 0, 0, 0, 0)),
        ]
        seven_a = rows[0][1]
        assert (seven_a.rate, seven_a.absence_rate) == (0.75, 0.25)

    def test_it_costs_the_same_queries_for_few_students_or_many(self, school):
        groups = [make_class_group(f"8{letter}", year_group=8) for letter in "ABC"]
        mark(make_student(groups[0]), "/N")
        with CaptureQueriesContext(connection) as few:
            selectors.figures_by_class_group(ClassGroup.objects.filter(year_group=8), START, END)
        for group in groups:
            for _ in range(10):
                mark(make_student(group), "/NL")
        with CaptureQueriesContext(connection) as many:
            rows = selectors.figures_by_class_group(ClassGroup.objects.filter(year_group=8), START, END)
        assert [figures.possible for _, figures in rows] == [32, 30, 30]
        # the figures grouped by class group, and the class groups
        assert len(many) == len(few) == 2, [q["sql"] for q in many.captured_queries]

    def test_figures_for_one_student_cost_one_query(self, school, pupils: dict[str, Any]):
        with CaptureQueriesContext(connection) as queries:
            selectors.figures_for_student(pupils["late twice"], START, END)
        assert len(queries) == 1
