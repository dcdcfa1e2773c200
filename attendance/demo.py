"""The demo school's calendar and three weeks of registers (called by `manage.py seed_demo`)."""

from __future__ import annotations

import datetime
import random
from typing import Any

from django.utils import timezone

from attendance.models import (
    AttendanceCode,
    AttendanceRecord,
    Closure,
    Register,
    Term,
    register_closes_at,
    session_names,
)
from attendance.services import attendance_change
from harmony.sync.changes import record_changes
from students.models import ClassGroup, Student

SCHOOL_DAYS = 10
# How an ordinary pupil's sessions go; a few pupils are persistently or severely absent (see below).
ORDINARY = [("/", 930), ("L", 25), ("I", 20), ("M", 8), ("N", 9), ("O", 8)]


def _school_year(today: datetime.date) -> int:
    return today.year if today.month >= 8 else today.year - 1


def _seed_calendar(today: datetime.date) -> None:
    year = _school_year(today)
    Term.objects.bulk_create(
        [
            Term(name=f"Autumn {year}", starts_on=datetime.date(year, 9, 3), ends_on=datetime.date(year, 12, 18)),
            Term(
                name=f"Spring {year + 1}",
                starts_on=datetime.date(year + 1, 1, 5),
                ends_on=datetime.date(year + 1, 3, 26),
            ),
            Term(
                name=f"Summer {year + 1}",
                starts_on=datetime.date(year + 1, 4, 12),
                ends_on=datetime.date(year + 1, 7, 21),
            ),
        ]
    )
    Closure.objects.bulk_create(
        [
            Closure(starts_on=datetime.date(year, 10, 26), ends_on=datetime.date(year, 10, 30), reason="Half term"),
            Closure(
                starts_on=datetime.date(year + 1, 2, 15), ends_on=datetime.date(year + 1, 2, 19), reason="Half term"
            ),
            Closure(
                starts_on=datetime.date(year + 1, 5, 31), ends_on=datetime.date(year + 1, 6, 4), reason="Half term"
            ),
        ]
    )


def _recent_school_days(today: datetime.date) -> list[datetime.date]:
    closures = list(Closure.objects.all())
    terms = list(Term.objects.all())
    days, day = [], today - datetime.timedelta(days=1)
    while len(days) < SCHOOL_DAYS and day > today - datetime.timedelta(days=120):
        open_day = day.weekday() < 5 and not any(c.starts_on <= day <= c.ends_on for c in closures)
        if open_day and any(t.starts_on <= day <= t.ends_on for t in terms):
            days.append(day)
        day -= datetime.timedelta(days=1)
    return sorted(days)


def _weighted(rng: random.Random, weights: list[tuple[str, int]]) -> str:
    return rng.choices([code for code, _ in weights], [weight for _, weight in weights])[0]


def seed(*, rng: random.Random, stdout: Any) -> None:
    today = timezone.localdate()
    _seed_calendar(today)
    codes = {code.code: code for code in AttendanceCode.objects.all()}
    groups = list(ClassGroup.objects.select_related("form_tutor"))
    students = list(Student.objects.filter(class_group__isnull=False).order_by("pk"))
    absent_a_lot = {s.pk: 0.15 for s in rng.sample(students, 12)} | {s.pk: 0.55 for s in rng.sample(students, 2)}
    registers, records = [], []
    for day in _recent_school_days(today):
        for session in session_names():
            closes = register_closes_at(day, session)
            for group in groups:
                late = rng.random() < 0.05
                registers.append(
                    Register(
                        class_group=group,
                        date=day,
                        session=session,
                        taken_by=group.form_tutor,
                        submitted_at=closes
                        + datetime.timedelta(minutes=rng.randint(5, 40) if late else -rng.randint(5, 25)),
                        is_late=late,
                    )
                )
    Register.objects.bulk_create(registers)
    by_slot = {(r.class_group_id, r.date, r.session): r for r in Register.objects.all()}
    for register in by_slot.values():
        for student in (s for s in students if s.class_group_id == register.class_group_id):
            if rng.random() < absent_a_lot.get(student.pk, 0):
                code = _weighted(rng, [("N", 1), ("O", 2), ("I", 1)])
            else:
                code = _weighted(rng, ORDINARY)
            records.append(
                AttendanceRecord(
                    student=student,
                    date=register.date,
                    session=register.session,
                    code=codes[code],
                    minutes_late=rng.randint(3, 20) if code == "L" else None,
                    register=register,
                    source=AttendanceRecord.Source.REGISTER,
                    recorded_by_id=register.taken_by_id,
                )
            )
    AttendanceRecord.objects.bulk_create(records, batch_size=2000)
    # Partners syncing the demo school see these marks in the change feed like any others.
    rolls = {student.pk: student.roll_number for student in students}
    record_changes("attendance", [attendance_change(r, rolls[r.student_id]) for r in records], source="system")
    stdout.write(f"Attendance: {len(registers)} registers and {len(records)} marks over the last school days.")
