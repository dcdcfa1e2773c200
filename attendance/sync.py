"""Synchronising attendance: a partner's marks upserted by student roll number, date and session.

Registered with the sync plumbing (`harmony.sync`) when the app is ready. The rules are those of one mark
through the API (`attendance.services.record_create`): a school day, a known and usable code, minutes late
only with a late mark. They are checked against the calendar and the codes loaded once per batch, so a batch
costs the same queries whatever its size, and every change is kept in the mark's history.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import serializers

from attendance import services
from attendance.api import STATUSES, AttendanceRecordSerializer
from attendance.models import (
    AttendanceChange,
    AttendanceCode,
    AttendanceRecord,
    Closure,
    Term,
    session_names,
)
from harmony.sync import records
from harmony.sync.changes import changed_since, record_changes
from harmony.sync.records import RecordError
from harmony.sync.registry import OnConflict, PushRequest, PushResult, SyncEntity, register
from privacy.enforcement import disclose_rows
from students.models import Student

# Fields a sync record may carry, and those it may send back unused (as the attendance API shows a mark).
ACCEPTED = frozenset(
    {"rollNumber", "date", "session", "status", "code", "minutesLate", "remarks"}
    | {"id", "studentId", "source", "registerId", "recordedAt", "updatedAt", "version"}
)
_roll_number = records.text_reader(32, allow_blank=False)
_date = records.date_reader(allow_null=False)
_status = records.choice_reader(STATUSES)
_code = records.text_reader(4, allow_blank=False)
_minutes_late = records.integer_reader(min_value=0, max_value=300)
_remarks = records.text_reader(500)
ATTEMPTS = 3
Source = AttendanceRecord.Source


class AttendanceSyncRecordSerializer(serializers.Serializer):
    """One mark in a sync batch (documentation only: batches are read by `read_mark`)."""

    rollNumber = serializers.CharField(max_length=32)
    date = serializers.DateField()
    session = serializers.ChoiceField(choices=session_names(), required=False, help_text="Defaults to the first")
    status = serializers.ChoiceField(choices=STATUSES, required=False)
    code = serializers.CharField(max_length=4, required=False)
    minutesLate = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=300)
    remarks = serializers.CharField(required=False, allow_blank=True, max_length=500)


def read_mark(record: Any, sessions: list[str], session: records.Reader) -> dict[str, Any]:
    """Return what a sync record says, checked without a query; RecordError names the first bad field.

    `session` reads a session among `sessions`, of which the first is the default.
    """
    record = records.check_fields(record, ACCEPTED)
    values: dict[str, Any] = {
        "roll_number": _roll_number(records.required(record, "rollNumber"), "rollNumber"),
        "date": _date(records.required(record, "date"), "date"),
        "session": records.choice_reader(sessions)(record["session"], "session")
        if "session" in record
        else sessions[0],
        "status": _status(record["status"], "status") if "status" in record else None,
        "code": _code(record["code"], "code") if "code" in record else None,
    }
    if "minutesLate" in record:
        values["minutes_late"] = _minutes_late(record["minutesLate"], "minutesLate")
    if "remarks" in record:
        values["remarks"] = _remarks(record["remarks"], "remarks")
    return values


class SchoolCalendar:
    """The terms and closures around a batch's dates, loaded once: `services.school_day_problem` per date."""

    def __init__(self, first: datetime.date, last: datetime.date) -> None:
        self.closures = list(Closure.objects.filter(starts_on__lte=last, ends_on__gte=first))
        self.terms = list(Term.objects.all())
        self.today = timezone.localdate()

    def problem(self, date: datetime.date) -> str | None:
        if date > self.today:
            return "A register cannot be taken for a future date."
        if date.weekday() >= 5:
            return "That date is a weekend."
        for closure in self.closures:
            if closure.starts_on <= date <= closure.ends_on:
                return f"The school is closed that day ({closure.reason})."
        if self.terms and not any(term.starts_on <= date <= term.ends_on for term in self.terms):
            return "That date is outside every term."
        return None


def _as_record_error(error: ValidationError | PermissionDenied, field: str) -> RecordError:
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        name, messages = next(iter(error.message_dict.items()))
        return RecordError(name, messages[0])
    return RecordError(field, str(error.messages[0] if isinstance(error, ValidationError) else error))


class Codes:
    """The school's codes, loaded once per batch, found by letter or by the guide's status."""

    def __init__(self) -> None:
        codes = list(AttendanceCode.objects.all())
        self.by_code = {code.code: code for code in codes}
        self.by_status = {code.api_default_for: code for code in codes if code.api_default_for}

    def resolve(self, actor: Any, code: str | None, status: str | None) -> AttendanceCode | None:
        found = None
        if code is not None:
            found = self.by_code.get(code)
            if found is None:
                raise RecordError("code", f"Unknown attendance code {code!r}.")
            if status is not None and found.api_status != status:
                raise RecordError("status", f"The code {code} records {found.api_status!r}, not {status!r}.")
        elif status is not None:
            found = self.by_status.get(status)
            if found is None:
                raise RecordError("status", f"Unknown attendance status {status!r}.")
        if found is not None:
            try:
                services.check_code_usable(actor, found)
            except ValidationError as error:
                raise _as_record_error(error, "code") from None
        return found


def _keeps_no_minutes(code: AttendanceCode, minutes_late: int) -> bool:
    """Whether `code` may not carry minutes late (the services' rule decides)."""
    try:
        services._check_minutes_late(code, minutes_late)
    except ValidationError:
        return True
    return False


def attendance_push(push: PushRequest) -> PushResult:
    """Upsert a batch of marks by roll number, date and session (see the module docstring)."""
    sessions = session_names()
    session = records.choice_reader(sessions)
    results: list[dict[str, Any]] = [{} for _ in push.records]
    wanted: dict[int, dict[str, Any]] = {}
    first_seen: dict[tuple[str, datetime.date, str], int] = {}
    for index, record in enumerate(push.records):
        try:
            values = read_mark(record, sessions, session)
            key = (values["roll_number"], values["date"], values["session"])
            if key in first_seen:
                raise RecordError("rollNumber", f"This mark is already in this batch ({first_seen[key]}).")
        except RecordError as failure:
            results[index] = records.error(index, failure)
            continue
        first_seen[key] = index
        wanted[index] = values
    subjects: set[int] = set()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic():
                subjects = _apply(push, wanted, results) if wanted else set()
            break
        except IntegrityError:
            if attempt == ATTEMPTS:
                raise
    return PushResult(results, subjects)


def _apply(push: PushRequest, wanted: dict[int, dict[str, Any]], results: list[dict[str, Any]]) -> set[int]:
    actor, application = push.actor, push.application
    user = None if actor is application else actor
    roll_numbers = {values["roll_number"] for values in wanted.values()}
    students = dict(
        Student.objects.visible_to(actor).filter(roll_number__any_of=roll_numbers).values_list("roll_number", "pk")
    )
    dates = {values["date"] for values in wanted.values()}
    calendar = SchoolCalendar(min(dates), max(dates))
    codes = Codes()
    existing = {
        (record.student_id, record.date, record.session): record
        for record in AttendanceRecord.objects.select_for_update(of=("self",))
        .select_related("student", "code")
        .filter(
            student_id__in=students.values(),
            date__any_of=list(dates),
            session__in={values["session"] for values in wanted.values()},
        )
    }
    conflicted = changed_since(
        "attendance", [record.pk for record in existing.values()], push.last_sync, except_sync_by=application
    )

    new: list[tuple[int, AttendanceRecord]] = []
    changed: list[AttendanceRecord] = []
    history: list[AttendanceChange] = []
    subjects: set[int] = set()
    for index, values in wanted.items():
        try:
            student_id = students.get(values["roll_number"])
            if student_id is None:
                raise RecordError(
                    "rollNumber", f"No student with roll number {values['roll_number']} that you may see."
                )
            if problem := calendar.problem(values["date"]):
                raise RecordError("date", problem)
            try:
                services.check_edit_window(actor, values["date"])  # partners and the office may correct any date
            except PermissionDenied as error:
                raise RecordError("date", str(error)) from None
            code = codes.resolve(actor, values["code"], values["status"])
            record = existing.get((student_id, values["date"], values["session"]))
            if record is None:
                if code is None:
                    raise RecordError("status", "Give a status (present, absent, late, excused) or a code.")
                fields = {"code": code, "minutes_late": values.get("minutes_late") or None}
                fields["remarks"] = values.get("remarks", "")
            else:
                fields = {"code": code} if code is not None else {}
                if "minutes_late" in values:
                    fields["minutes_late"] = values["minutes_late"] or None
                elif code is not None and record.minutes_late and _keeps_no_minutes(code, record.minutes_late):
                    fields["minutes_late"] = None  # a mark that is no longer late keeps no minutes late
                if "remarks" in values:
                    fields["remarks"] = values["remarks"]
            try:
                services._check_minutes_late(
                    fields.get("code", getattr(record, "code", None)),
                    fields.get("minutes_late", getattr(record, "minutes_late", None)),
                )
            except ValidationError as error:
                raise _as_record_error(error, "minutesLate") from None
        except RecordError as failure:
            results[index] = records.error(index, failure)
            continue
        if record is None:
            mark = AttendanceRecord(
                student_id=student_id,
                date=values["date"],
                session=values["session"],
                source=Source.SYNC,
                recorded_by=user,
                recorded_by_app=application,
                **fields,
            )
            new.append((index, mark))
            continue
        result: dict[str, Any] = {"index": index, "status": "unchanged", "id": record.pk}
        results[index] = result
        changes = services._changes(record, fields)
        if not changes:
            continue
        if record.pk in conflicted:
            if push.on_conflict != OnConflict.CLIENT_WINS:
                result.update(
                    status="conflict",
                    reason="Changed in Harmony after lastSyncTimestamp.",
                    resolution="rejected" if push.on_conflict == OnConflict.REJECT else "server_wins",
                    server=AttendanceRecordSerializer(record).data,
                )
                subjects.add(record.student_id)
                continue
            result["resolution"] = "client_wins"
        for name, value in fields.items():
            setattr(record, name, value)
        record.source, record.recorded_by, record.recorded_by_app = Source.SYNC, user, application
        record.version += 1
        changed.append(record)
        history.append(services._history(actor, record, AttendanceChange.Action.CHANGED, changes, Source.SYNC))
        result["status"] = "updated"

    created = [mark for _index, mark in new]
    if created:
        AttendanceRecord.objects.bulk_create(created)
        for index, mark in new:
            results[index] = {"index": index, "status": "created", "id": mark.pk}
            initial = {"code": [None, mark.code.code]}
            history.append(services._history(actor, mark, AttendanceChange.Action.CREATED, initial, Source.SYNC))
    if changed:
        AttendanceRecord.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["student", "date", "session"],
            update_fields=[
                "code",
                "minutes_late",
                "remarks",
                "source",
                "recorded_by",
                "recorded_by_app",
                "version",
                "updated_at",
            ],
        )
    AttendanceChange.objects.bulk_create(history)
    by_date: dict[datetime.date, list[tuple[int, AttendanceCode]]] = defaultdict(list)
    for mark in [*created, *changed]:
        by_date[mark.date].append((mark.student_id, mark.code))
    for date, marks in by_date.items():
        services._announce_absences(marks, date)
    roll_of = {pk: roll_number for roll_number, pk in students.items()}
    record_changes(
        "attendance",
        [services.attendance_change(mark, roll_of[mark.student_id]) for mark in [*created, *changed]],
        source="sync",
        application=application,
    )
    return subjects


def render(request: Any, actor: Any, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Return the marks among `ids` that `actor` may see, as the attendance API shows them (and log it)."""
    marks = AttendanceRecord.objects.visible_to(actor).select_related("student", "code").filter(pk__any_of=ids)
    rows = list(AttendanceRecordSerializer(marks, many=True).data)
    rows = disclose_rows(request, rows, entity="attendance", student_id_field="studentId")
    return {row["id"]: row for row in rows}


register(
    SyncEntity(
        name="attendance",
        records_field="attendanceRecords",
        read_scope="attendance:read",
        write_scope="attendance:write",
        key_fields=("rollNumber", "date", "session"),
        push=attendance_push,
        render=render,
        disclose=lambda request, rows: disclose_rows(request, rows, entity="attendance", student_id_field="studentId"),
        count=lambda actor: AttendanceRecord.objects.visible_to(actor).count(),
        record_serializer=AttendanceSyncRecordSerializer,
    )
)
