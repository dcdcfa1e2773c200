"""Reads of the register: lists, the register sheet, completion, and attendance rates."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from attendance.models import (
    ATTENDED_CATEGORIES,
    LATE_AFTER_REGISTER_CLOSED,
    AbsenceReport,
    AttendanceChange,
    AttendanceCode,
    AttendanceRecord,
    Register,
    register_closes_at,
    session_names,
)
from attendance.services import reported_absence_codes
from students.models import ClassGroup, Student

if TYPE_CHECKING:
    from harmony.models import Application, User

    Actor = User | Application | None

PERSISTENT_ABSENCE = 0.10
SEVERE_ABSENCE = 0.50
Category = AttendanceCode.Category


def record_list(
    *,
    actor: Actor,
    date: datetime.date | None = None,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    student_id: int | None = None,
    class_group: str = "",
    status: str = "",
    session: str = "",
) -> QuerySet[AttendanceRecord]:
    records = AttendanceRecord.objects.visible_to(actor).select_related("student", "code")
    if date:
        records = records.filter(date=date)
    if start:
        records = records.filter(date__gte=start)
    if end:
        records = records.filter(date__lte=end)
    if student_id:
        records = records.filter(student_id=student_id)
    if class_group:
        by_id = class_group.isdigit()
        records = records.filter(
            Q(student__class_group_id=int(class_group)) if by_id else Q(student__class_group__name__iexact=class_group)
        )
    if status:
        records = records.filter(code__category__in=categories_for_status(status))
    if session:
        records = records.filter(session=session)
    return records.order_by("-date", "session", "student__last_name", "student__first_name", "pk")


def categories_for_status(status: str) -> list[str]:
    from attendance.models import CATEGORY_TO_API_STATUS

    return [category for category, api_status in CATEGORY_TO_API_STATUS.items() if api_status == status]


def active_codes() -> QuerySet[AttendanceCode]:
    return AttendanceCode.objects.filter(is_active=True)


@dataclass
class SheetRow:
    student: Student
    record: AttendanceRecord | None
    reported_code: str | None

    @property
    def code(self) -> str:
        if self.record:
            return self.record.code.code
        return self.reported_code or "/"


def register_sheet(class_group: ClassGroup, date: datetime.date, session: str) -> list[SheetRow]:
    """Return each student of the class with their mark, if any, in three queries."""
    students = list(Student.objects.live().filter(class_group=class_group).order_by("last_name", "first_name"))
    records = {
        r.student_id: r
        for r in AttendanceRecord.objects.select_related("code").filter(
            student__in=students, date=date, session=session
        )
    }
    reported = reported_absence_codes([s.pk for s in students], date, session)
    return [SheetRow(s, records.get(s.pk), reported.get(s.pk)) for s in students]


@dataclass
class RegisterSlot:
    class_group: ClassGroup
    session: str
    register: Register | None
    closes_at: datetime.datetime

    @property
    def is_missing(self) -> bool:
        return (self.register is None or self.register.submitted_at is None) and timezone.now() > self.closes_at


def register_slots(*, class_groups: QuerySet[ClassGroup], date: datetime.date) -> list[RegisterSlot]:
    """Return every class group's registers for `date`, taken or not, in two queries."""
    groups = list(class_groups.order_by("year_group", "name"))
    registers = Register.objects.filter(class_group__in=groups, date=date).select_related("taken_by")
    taken = {(r.class_group_id, r.session): r for r in registers}
    return [
        RegisterSlot(group, session, taken.get((group.pk, session)), register_closes_at(date, session))
        for group in groups
        for session in session_names()
    ]


@dataclass
class AttendanceFigures:
    possible: int
    attended: int
    authorised: int
    unauthorised: int
    late: int

    @property
    def missed(self) -> int:
        return self.authorised + self.unauthorised

    @property
    def rate(self) -> float | None:
        return None if not self.possible else self.attended / self.possible

    @property
    def absence_rate(self) -> float | None:
        return None if not self.possible else self.missed / self.possible

    @property
    def persistent_absence(self) -> bool:
        return self.absence_rate is not None and self.absence_rate >= PERSISTENT_ABSENCE

    @property
    def severe_absence(self) -> bool:
        return self.absence_rate is not None and self.absence_rate >= SEVERE_ABSENCE


def _figure_annotations(prefix: str) -> dict[str, Any]:
    counted = Q(**{f"{prefix}code__counts_as_possible": True})
    late_arrival = Q(**{f"{prefix}code__category": Category.LATE}) | Q(
        **{f"{prefix}code__code": LATE_AFTER_REGISTER_CLOSED}
    )
    return {
        "possible": Count("pk" if not prefix else f"{prefix}pk", filter=counted),
        "attended": Count(f"{prefix}pk", filter=counted & Q(**{f"{prefix}code__category__in": ATTENDED_CATEGORIES})),
        "authorised": Count(f"{prefix}pk", filter=counted & Q(**{f"{prefix}code__category": Category.AUTHORISED})),
        "unauthorised": Count(f"{prefix}pk", filter=counted & Q(**{f"{prefix}code__category": Category.UNAUTHORISED})),
        "late": Count(f"{prefix}pk", filter=late_arrival),
    }


def _records_between(start: datetime.date, end: datetime.date) -> QuerySet[AttendanceRecord]:
    return AttendanceRecord.objects.filter(date__gte=start, date__lte=end)


def figures_by_student(
    students: QuerySet[Student], start: datetime.date, end: datetime.date
) -> list[tuple[Student, AttendanceFigures]]:
    """Return each student's attendance figures over [start, end], in one query."""
    rows = (
        _records_between(start, end)
        .filter(student__in=students)
        .values("student_id")
        .annotate(**_figure_annotations(""))
    )
    figures = {row.pop("student_id"): AttendanceFigures(**row) for row in rows}
    empty = AttendanceFigures(0, 0, 0, 0, 0)
    ordered = students.select_related("class_group").order_by("class_group__name", "last_name", "first_name")
    return [(student, figures.get(student.pk, empty)) for student in ordered]


def figures_by_class_group(
    class_groups: QuerySet[ClassGroup], start: datetime.date, end: datetime.date
) -> list[tuple[ClassGroup, AttendanceFigures]]:
    rows = (
        _records_between(start, end)
        .filter(student__class_group__in=class_groups)
        .values("student__class_group_id")
        .annotate(**_figure_annotations(""))
    )
    figures = {row.pop("student__class_group_id"): AttendanceFigures(**row) for row in rows}
    empty = AttendanceFigures(0, 0, 0, 0, 0)
    return [(group, figures.get(group.pk, empty)) for group in class_groups.order_by("year_group", "name")]


def figures_for_student(student: Student, start: datetime.date, end: datetime.date) -> AttendanceFigures:
    row = _records_between(start, end).filter(student=student).aggregate(**_figure_annotations(""))
    return AttendanceFigures(**row)


def student_history(student: Student, start: datetime.date, end: datetime.date) -> QuerySet[AttendanceRecord]:
    return _records_between(start, end).filter(student=student).select_related("code").order_by("-date", "session")


def mark_history(record: AttendanceRecord) -> QuerySet[AttendanceChange]:
    """Return every change to this student's mark for the record's date and session, newest first.

    The history is found by student, date and session, so it also shows a mark that was deleted and recorded
    again (under a new record id).
    """
    return AttendanceChange.objects.filter(
        student_id=record.student_id, date=record.date, session=record.session
    ).select_related("changed_by", "changed_by_app")


def absence_reports_of(students: QuerySet[Student]) -> QuerySet[AbsenceReport]:
    """Return the absence reports about `students` (a family's children), newest first."""
    return AbsenceReport.objects.filter(student__in=students).select_related("student", "reported_by__user")


def absence_reports_for_office(status: str = AbsenceReport.Status.PENDING) -> QuerySet[AbsenceReport]:
    reports = AbsenceReport.objects.select_related("student__class_group", "reported_by__user")
    return reports.filter(status=status) if status else reports


def default_report_range() -> tuple[datetime.date, datetime.date]:
    """From the start of the current school year (1 September) to today."""
    today = timezone.localdate()
    year = today.year if today.month >= 9 else today.year - 1
    return datetime.date(year, 9, 1), today
