"""Writes to the register. Every mark is validated against the calendar, the code's rules and the edit window,
and every change is kept in the history."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from attendance.models import (
    AbsenceReport,
    AttendanceChange,
    AttendanceCode,
    AttendanceRecord,
    Closure,
    Register,
    Term,
    register_closes_at,
    session_names,
)
from attendance.signals import unexplained_absence_recorded
from harmony.errors import Conflict, PreconditionFailed
from harmony.models import Application
from harmony.sync.changes import ChangeRef, record_changes
from students.models import ClassGroup, Student

if TYPE_CHECKING:
    from harmony.models import User

    Actor = User | Application

Source = AttendanceRecord.Source
REPORT_CODES = {"illness": "I", "medical": "M", "religious": "R", "other": "C"}
# Marks an accepted absence report may overwrite: "absent, no reason yet" and plain unauthorised absence.
REPLACEABLE_BY_REPORT = {"N", "O"}


@dataclass(frozen=True)
class Mark:
    student_id: int
    code: AttendanceCode
    minutes_late: int | None = None
    remarks: str = ""


def is_office(actor: Actor) -> bool:
    """The office (and administrators) manage the whole register; so do partner systems of record."""
    return isinstance(actor, Application) or actor.sees_whole_school


def _user(actor: Actor) -> User | None:
    return None if isinstance(actor, Application) else actor


def _app(actor: Actor) -> Application | None:
    return actor if isinstance(actor, Application) else None


def school_day_problem(date: datetime.date) -> str | None:
    """Return why `date` cannot have a register (future, weekend, closure, outside every term), or None."""
    if date > timezone.localdate():
        return "A register cannot be taken for a future date."
    if date.weekday() >= 5:
        return "That date is a weekend."
    closure = Closure.objects.filter(starts_on__lte=date, ends_on__gte=date).first()
    if closure:
        return f"The school is closed that day ({closure.reason})."
    if Term.objects.exists() and not Term.objects.filter(starts_on__lte=date, ends_on__gte=date).exists():
        return "That date is outside every term."
    return None


def check_date_and_session(date: datetime.date, session: str) -> None:
    errors = {}
    if session not in session_names():
        errors["session"] = f"Unknown session {session!r}: use one of {', '.join(session_names())}."
    if problem := school_day_problem(date):
        errors["date"] = problem
    if errors:
        raise ValidationError(errors)


def check_edit_window(actor: Actor, date: datetime.date) -> None:
    window = settings.ATTENDANCE_EDIT_WINDOW_DAYS
    if not is_office(actor) and (timezone.localdate() - date).days > window:
        raise PermissionDenied(f"Marks older than {window} days can only be changed by the office.")


def check_code_usable(
    actor: Actor, code: AttendanceCode, field: str = "code", reported: Callable[[], str | None] | None = None
) -> None:
    """Refuse retired codes, and office-only codes to teachers.

    `reported` returns the code of an absence the office already accepted for this student and session (looked
    up only when needed): a teacher may record that one even when it is an office code.
    """
    if not code.is_active:
        raise ValidationError({field: f"The code {code.code} is retired and can no longer be used."})
    office_only = code.usable_by == AttendanceCode.UsableBy.OFFICE
    if office_only and not is_office(actor) and (reported is None or reported() != code.code):
        raise ValidationError({field: f"Only the office may use the code {code.code} ({code.label})."})


def check_may_mark(actor: Actor, class_group_id: int | None) -> None:
    """A teacher marks only the class groups they teach; the office and partner systems mark any."""
    if is_office(actor):
        return
    if class_group_id is None or not ClassGroup.objects.taught_by(actor).filter(pk=class_group_id).exists():
        raise PermissionDenied("You can only mark the registers of the class groups you teach.")


def _changes(record: AttendanceRecord, fields: dict[str, Any]) -> dict[str, list[Any]]:
    def show(name: str, value: Any) -> Any:
        return value.code if isinstance(value, AttendanceCode) else value

    return {
        name: [show(name, getattr(record, name)), show(name, value)]
        for name, value in fields.items()
        if getattr(record, name) != value
    }


def _history(actor: Actor, record: AttendanceRecord, action: str, changes: dict[str, Any], source: str):
    return AttendanceChange(
        record_id_at_change=record.pk,
        student_id=record.student_id,
        date=record.date,
        session=record.session,
        action=action,
        changes=changes,
        source=source,
        changed_by=_user(actor),
        changed_by_app=_app(actor),
    )


def attendance_change(record: AttendanceRecord, roll_number: str, *, deleted: bool = False) -> ChangeRef:
    """The change feed's entry for a written mark: its id and natural key (roll number, date, session)."""
    key = {"rollNumber": roll_number, "date": record.date.isoformat(), "session": record.session}
    return ChangeRef(record.pk, key, deleted)


def _record_changes(actor: Actor, source: str, entries: list[ChangeRef]) -> None:
    record_changes("attendance", entries, source=source, application=_app(actor))


def _announce_absences(marks: list[tuple[int, AttendanceCode]], date: datetime.date) -> None:
    """After the commit, tell listeners (absence alerts) about each child now absent without a reason."""
    students = {student_id for student_id, code in marks if code.is_unexplained_absence}
    for student_id in students:
        # robust: the marks are saved whatever a listener does; its failure is logged, not turned into an error
        transaction.on_commit(
            lambda s=student_id: unexplained_absence_recorded.send(sender=AttendanceRecord, student_id=s, date=date),
            robust=True,
        )


def _check_minutes_late(code: AttendanceCode, minutes_late: int | None) -> None:
    if minutes_late and not code.is_late_arrival:
        raise ValidationError({"minutesLate": "Minutes late go with a late mark only."})


def _reported_code(student_id: int, date: datetime.date, session: str) -> Callable[[], str | None]:
    return lambda: reported_absence_codes([student_id], date, session).get(student_id)


@transaction.atomic
def record_create(
    *,
    actor: Actor,
    student: Student,
    date: datetime.date,
    session: str,
    code: AttendanceCode,
    minutes_late: int | None = None,
    remarks: str = "",
    source: str = Source.API,
) -> AttendanceRecord:
    """Record one mark. A second mark for the same student, date and session is a conflict (409)."""
    check_date_and_session(date, session)
    check_may_mark(actor, student.class_group_id)
    check_edit_window(actor, date)
    check_code_usable(actor, code, reported=_reported_code(student.pk, date, session))
    _check_minutes_late(code, minutes_late)
    existing = AttendanceRecord.objects.filter(student=student, date=date, session=session).values("pk").first()
    if existing:
        raise _duplicate(existing["pk"])
    try:
        with transaction.atomic():
            record = AttendanceRecord.objects.create(
                student=student,
                date=date,
                session=session,
                code=code,
                minutes_late=minutes_late or None,
                remarks=remarks,
                source=source,
                recorded_by=_user(actor),
                recorded_by_app=_app(actor),
            )
    except IntegrityError:
        existing_pk = AttendanceRecord.objects.get(student=student, date=date, session=session).pk
        raise _duplicate(existing_pk) from None
    initial = {"code": code.code, "minutes_late": minutes_late, "remarks": remarks}
    created = {name: [None, value] for name, value in initial.items() if value not in (None, "")}
    _history(actor, record, AttendanceChange.Action.CREATED, created, source).save()
    _announce_absences([(student.pk, code)], date)
    _record_changes(actor, source, [attendance_change(record, student.roll_number)])
    return record


def _duplicate(existing_id: int) -> Conflict:
    return Conflict(
        "This student already has a mark for that date and session.",
        code="duplicate_record",
        existingId=existing_id,
    )


@transaction.atomic
def record_update(
    *,
    actor: Actor,
    record: AttendanceRecord,
    fields: dict[str, Any],
    expected_version: int | None = None,
    source: str = Source.API,
) -> AttendanceRecord:
    """Change a mark's code, minutes late or remarks, keeping who changed what from what to what."""
    locked = AttendanceRecord.objects.select_for_update().select_related("code", "student").get(pk=record.pk)
    if expected_version is not None and expected_version != locked.version:
        raise PreconditionFailed(f"Record {locked.pk} is at version {locked.version}, not {expected_version}.")
    check_may_mark(actor, locked.student.class_group_id)
    check_edit_window(actor, locked.date)
    if "code" in fields and fields["code"] != locked.code:
        reported = _reported_code(locked.student_id, locked.date, locked.session)
        check_code_usable(actor, fields["code"], reported=reported)
        if not fields["code"].is_late_arrival and "minutes_late" not in fields:
            fields = {**fields, "minutes_late": None}  # a mark that is no longer late keeps no minutes late
    _check_minutes_late(fields.get("code", locked.code), fields.get("minutes_late", locked.minutes_late))
    changes = _changes(locked, fields)
    if not changes:
        return locked
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.source = source
    locked.recorded_by = _user(actor)
    locked.recorded_by_app = _app(actor)
    locked.version = F("version") + 1
    locked.save()
    _history(actor, locked, AttendanceChange.Action.CHANGED, changes, source).save()
    if "code" in changes:
        _announce_absences([(locked.student_id, locked.code)], locked.date)
    entry = attendance_change(locked, locked.student.roll_number)
    locked.refresh_from_db()
    _record_changes(actor, source, [entry])
    return locked


@transaction.atomic
def record_delete(
    *, actor: Actor, record: AttendanceRecord, expected_version: int | None = None, source: str = Source.API
) -> None:
    """Delete a mark; the history keeps who deleted it and what it was."""
    locked = AttendanceRecord.objects.select_for_update().select_related("code", "student").get(pk=record.pk)
    if expected_version is not None and expected_version != locked.version:
        raise PreconditionFailed(f"Record {locked.pk} is at version {locked.version}, not {expected_version}.")
    check_may_mark(actor, locked.student.class_group_id)
    check_edit_window(actor, locked.date)
    _history(actor, locked, AttendanceChange.Action.DELETED, {"code": [locked.code.code, None]}, source).save()
    entry = attendance_change(locked, locked.student.roll_number, deleted=True)
    locked.delete()
    _record_changes(actor, source, [entry])


@dataclass
class RegisterResult:
    register: Register
    created: int
    updated: int
    unchanged: int


def _lock_register(class_group: ClassGroup, date: datetime.date, session: str) -> Register:
    """Get or create the register row and lock it, so concurrent submissions of it take turns."""
    try:
        with transaction.atomic():
            register, _ = Register.objects.get_or_create(class_group=class_group, date=date, session=session)
    except IntegrityError:  # another submission created it first
        register = Register.objects.get(class_group=class_group, date=date, session=session)
    return Register.objects.select_for_update().get(pk=register.pk)


def reported_absence_codes(student_ids: Any, date: datetime.date, session: str) -> dict[int, str]:
    """Return, per student, the code of an accepted parent report covering this date and session."""
    reports = AbsenceReport.objects.filter(
        student_id__in=student_ids,
        status=AbsenceReport.Status.ACCEPTED,
        starts_on__lte=date,
        ends_on__gte=date,
        sessions__contains=session,
    ).values_list("student_id", "reason")
    return {student_id: REPORT_CODES[reason] for student_id, reason in reports}


def _validate_marks(actor: Actor, class_group: ClassGroup, date: datetime.date, session: str, marks: list[Mark]):
    members = set(Student.objects.live().filter(class_group=class_group).values_list("pk", flat=True))
    # A teacher may record the office's code for an absence the office already accepted from a parent, and
    # may send back unchanged any mark already on the register (the office's, or one with a retired code).
    reported = reported_absence_codes(members, date, session)
    current = dict(
        AttendanceRecord.objects.filter(student_id__in=members, date=date, session=session).values_list(
            "student_id", "code__code"
        )
    )
    errors: dict[str, Any] = {}
    seen: set[int] = set()
    for index, mark in enumerate(marks):
        if mark.student_id not in members:
            errors[f"marks[{index}].studentId"] = f"Student {mark.student_id} is not in {class_group.name}."
        elif mark.student_id in seen:
            errors[f"marks[{index}].studentId"] = f"Student {mark.student_id} is marked twice."
        seen.add(mark.student_id)
        try:
            if current.get(mark.student_id) != mark.code.code:
                check_code_usable(
                    actor,
                    mark.code,
                    field=f"marks[{index}].code",
                    reported=lambda sid=mark.student_id: reported.get(sid),
                )
            _check_minutes_late(mark.code, mark.minutes_late)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                name = f"marks[{index}].minutesLate" if field == "minutesLate" else field
                errors[name] = messages
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def register_submit(
    *,
    actor: Actor,
    class_group: ClassGroup,
    date: datetime.date,
    session: str,
    marks: list[Mark],
    source: str = Source.REGISTER,
) -> RegisterResult:
    """Take (or correct) a whole register, all or nothing: one bad mark and nothing is written.

    Marks that did not change are left alone; changed ones keep their history. A register submitted after it
    closes is flagged late. Concurrent submissions of the same register queue on its row, so each student
    still has exactly one mark.
    """
    check_date_and_session(date, session)
    check_may_mark(actor, class_group.pk)
    check_edit_window(actor, date)
    _validate_marks(actor, class_group, date, session, marks)
    register = _lock_register(class_group, date, session)
    existing = {
        r.student_id: r
        for r in AttendanceRecord.objects.select_related("code").filter(
            student_id__in=[m.student_id for m in marks], date=date, session=session
        )
    }
    new, changed, history = [], [], []
    for mark in marks:
        fields = {"code": mark.code, "minutes_late": mark.minutes_late or None, "remarks": mark.remarks}
        record = existing.get(mark.student_id)
        if record is None:
            new.append(
                AttendanceRecord(
                    student_id=mark.student_id,
                    date=date,
                    session=session,
                    register=register,
                    source=source,
                    recorded_by=_user(actor),
                    recorded_by_app=_app(actor),
                    **fields,
                )
            )
        elif changes := _changes(record, fields):
            for name, value in fields.items():
                setattr(record, name, value)
            record.register, record.source, record.version = register, source, record.version + 1
            record.recorded_by, record.recorded_by_app = _user(actor), _app(actor)
            changed.append(record)
            history.append(_history(actor, record, AttendanceChange.Action.CHANGED, changes, source))
    try:
        with transaction.atomic():
            AttendanceRecord.objects.bulk_create(new)
    except IntegrityError:
        # A single mark (POST /api/attendance) for one of these students committed since we read the marks:
        # it does not queue on the register row. Nothing of this register is kept; submitting again updates.
        raise Conflict(
            "Another request marked one of these students at the same time; nothing was saved. Submit again.",
            code="concurrent_mark",
        ) from None
    if changed:
        AttendanceRecord.objects.bulk_update(
            changed,
            ["code", "minutes_late", "remarks", "register", "source", "version", "recorded_by", "recorded_by_app"],
        )
        AttendanceRecord.objects.filter(pk__in=[r.pk for r in changed]).update(updated_at=timezone.now())
    for record in new:
        initial = {"code": record.code.code, "minutes_late": record.minutes_late, "remarks": record.remarks}
        created = {name: [None, value] for name, value in initial.items() if value not in (None, "")}
        history.append(_history(actor, record, AttendanceChange.Action.CREATED, created, source))
    AttendanceChange.objects.bulk_create(history)
    _announce_absences([(r.student_id, r.code) for r in [*new, *changed]], date)
    now = timezone.now()
    if register.submitted_at is None:
        register.submitted_at = now
        register.is_late = now > register_closes_at(date, session)
    register.taken_by = _user(actor) or register.taken_by
    register.save(update_fields=["submitted_at", "is_late", "taken_by"])
    if written := [*new, *changed]:
        roll_numbers = dict(
            Student.objects.filter(pk__in={r.student_id for r in written}).values_list("pk", "roll_number")
        )
        _record_changes(actor, source, [attendance_change(r, roll_numbers[r.student_id]) for r in written])
    return RegisterResult(
        register, created=len(new), updated=len(changed), unchanged=len(marks) - len(new) - len(changed)
    )


class CodeBook:
    """Every attendance code, read in one query, so that a whole register resolves its marks without more."""

    def __init__(self, codes: Iterable[AttendanceCode]) -> None:
        codes = list(codes)
        self.by_code = {c.code: c for c in codes}
        self.by_status = {c.api_default_for: c for c in codes if c.api_default_for}

    @classmethod
    def load(cls) -> CodeBook:
        return cls(AttendanceCode.objects.all())


def resolve_code(*, code: str | None = None, status: str | None = None, book: CodeBook | None = None) -> AttendanceCode:
    """Find the code a partner named, by its letter or by the guide's status; unknown ones fail validation."""
    book = book or CodeBook.load()
    found = book.by_code.get(code) if code else book.by_status.get(status or "")
    if found is None:
        field, value = ("code", code) if code else ("status", status)
        raise ValidationError({field: f"Unknown attendance {field} {value!r}."})
    return found


def code_retire(*, code: AttendanceCode) -> AttendanceCode:
    code.is_active = False
    code.save(update_fields=["is_active"])
    return code


def code_delete(*, code: AttendanceCode) -> None:
    """Delete a code nobody has used; a code in use can only be retired."""
    if code.records.exists():
        raise Conflict(f"The code {code.code} is in use: retire it instead.", code="code_in_use")
    code.delete()


@transaction.atomic
def absence_report_create(
    *,
    guardian: Any,
    student: Student,
    starts_on: datetime.date,
    ends_on: datetime.date,
    sessions: list[str],
    reason: str,
    details: str = "",
) -> AbsenceReport:
    errors = {}
    if ends_on < starts_on:
        errors["ends_on"] = "The last day is before the first."
    elif (ends_on - starts_on).days > 31:
        errors["ends_on"] = "Report at most a month at a time."
    unknown = [s for s in sessions if s not in session_names()]
    if not sessions or unknown:
        errors["sessions"] = f"Choose sessions among {', '.join(session_names())}."
    if errors:
        raise ValidationError(errors)
    if not student.guardianships.filter(guardian=guardian).exists():
        raise PermissionDenied("You can only report absences for your own children.")
    return AbsenceReport.objects.create(
        student=student,
        reported_by=guardian,
        starts_on=starts_on,
        ends_on=ends_on,
        sessions=" ".join(s for s in session_names() if s in sessions),
        reason=reason,
        details=details,
    )


def _school_days(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += datetime.timedelta(days=1)
    closed = Closure.objects.filter(starts_on__lte=end, ends_on__gte=start)
    terms = list(Term.objects.filter(starts_on__lte=end, ends_on__gte=start))
    has_terms = Term.objects.exists()
    return [
        d
        for d in days
        if not any(c.starts_on <= d <= c.ends_on for c in closed)
        and (not has_terms or any(t.starts_on <= d <= t.ends_on for t in terms))
    ]


@transaction.atomic
def absence_report_decide(*, actor: User, report: AbsenceReport, accept: bool, note: str = "") -> AbsenceReport:
    """Accept or reject a parent's report; an accepted one becomes authorised absence on the register.

    Sessions already marked with anything but "no reason yet" or plain unauthorised absence keep their mark:
    a child the register saw in school stays present. Dates still to come are marked when they arrive: the
    register page shows the accepted report to the teacher.
    """
    if not actor.sees_whole_school:
        raise PermissionDenied("Only the office decides on absence reports.")
    report = AbsenceReport.objects.select_for_update().get(pk=report.pk)
    if report.status != AbsenceReport.Status.PENDING:
        raise Conflict(f"This report was already {report.status}.", code="already_decided")
    report.status = AbsenceReport.Status.ACCEPTED if accept else AbsenceReport.Status.REJECTED
    report.decided_by, report.decided_at, report.decision_note = actor, timezone.now(), note
    report.save()
    if accept:
        _apply_report(actor, report)
    return report


def _apply_report(actor: User, report: AbsenceReport) -> None:
    code = AttendanceCode.objects.get(code=REPORT_CODES[report.reason])
    today = timezone.localdate()
    days = [d for d in _school_days(report.starts_on, min(report.ends_on, today))]
    existing = {
        (r.date, r.session): r
        for r in AttendanceRecord.objects.select_related("code").filter(
            student=report.student, date__in=days, session__in=report.session_list
        )
    }
    remark = f"Reported by a parent: {report.get_reason_display().lower()}"
    for day in days:
        for session in report.session_list:
            record = existing.get((day, session))
            if record is None:
                record_create(
                    actor=actor,
                    student=report.student,
                    date=day,
                    session=session,
                    code=code,
                    remarks=remark,
                    source=Source.PARENT_REPORT,
                )
            elif record.code.code in REPLACEABLE_BY_REPORT:
                record_update(
                    actor=actor, record=record, fields={"code": code, "remarks": remark}, source=Source.PARENT_REPORT
                )
