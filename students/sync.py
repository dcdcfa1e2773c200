"""Synchronising students: a partner's batch upserted by roll number, and the students' part of the change feed.

Registered with the sync plumbing (`harmony.sync`) when the app is ready. A batch costs the same handful of
queries whatever its size: the suppression list, the class groups named, the students matched (locked), which
of them the caller may see (when it may not see every student), their changes since lastSyncTimestamp, one
insert for the new students, one update for the changed ones (`harmony.sync.bulk`), and the change feed's
entries.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from harmony.sync import records
from harmony.sync.bulk import insert_rows, update_rows
from harmony.sync.changes import ChangeRef, changed_since, record_changes
from harmony.sync.records import RecordError
from harmony.sync.registry import OnConflict, PushRequest, PushResult, SyncEntity, register
from privacy.enforcement import disclose_rows
from privacy.models import SuppressedRollNumber
from students.api import ROLL_NUMBER, StudentSerializer
from students.models import ClassGroup, Student
from students.services import student_change

# Fields a sync record may carry (as the students API names them) and those it may send back unused.
READ_ONLY = frozenset({"id", "classGroup", "user", "version", "createdAt", "updatedAt"})
ATTEMPTS = 3  # a record whose student another request creates meanwhile is matched again, this many times
_dated = records.date_reader()
READERS: dict[str, tuple[str, records.Reader]] = {
    "firstName": ("first_name", records.text_reader(100, allow_blank=False)),
    "lastName": ("last_name", records.text_reader(100, allow_blank=False)),
    "email": ("email", records.email_reader(254)),
    "dateOfBirth": ("date_of_birth", _dated),  # and in the past: see `read_student`
    "gender": ("gender", records.choice_reader(Student.Gender.values, allow_blank=True)),
    "classGroupId": ("class_group_id", records.integer_reader()),
    "status": ("status", records.choice_reader(Student.Status.values)),
    "enrolledOn": ("enrolled_on", _dated),
    "leftOn": ("left_on", _dated),
    "address": ("address", records.text_reader(500)),
    "medicalNotes": ("medical_notes", records.text_reader(4000)),
    "supportNotes": ("support_notes", records.text_reader(4000)),
}
ACCEPTED = frozenset({"rollNumber", *READERS, *READ_ONLY})
_roll_number = records.text_reader(32, allow_blank=False)
FIELD_NAMES = {attribute: name for name, (attribute, _reader) in READERS.items()}
# The columns a sync sets: model attributes (class_group_id), the model fields they belong to, their defaults.
ATTRIBUTES = [attribute for attribute, _reader in READERS.values()]
FIELD_OF = {attribute: Student._meta.get_field(attribute).name for attribute in ATTRIBUTES}
FIELDS = [FIELD_OF[attribute] for attribute in ATTRIBUTES]
DEFAULTS = {attribute: Student._meta.get_field(attribute).get_default() for attribute in ATTRIBUTES}
STORED = ["id", "roll_number", "deleted_at", "version", *ATTRIBUTES]


def read_student(record: Any, today: datetime.date) -> dict[str, Any]:
    """Return the model values a sync record sets, by attribute name; RecordError names the first bad field.

    The rules are the students API's (`StudentSerializer`), checked without a query.
    """
    record = records.check_fields(record, ACCEPTED)
    roll_number = _roll_number(records.required(record, "rollNumber"), "rollNumber")
    if not ROLL_NUMBER.match(roll_number):
        raise RecordError("rollNumber", "Use letters, digits, '/', '_' or '-' (at most 32).")
    values = {"roll_number": roll_number}
    for name, value in record.items():
        if (reader := READERS.get(name)) is not None:
            values[reader[0]] = reader[1](value, name)
    if (born := values.get("date_of_birth")) and born >= today:
        raise RecordError("dateOfBirth", "A date of birth must be in the past.")
    return values


def _check_dates(enrolled_on: Any, left_on: Any) -> None:
    if enrolled_on and left_on and left_on < enrolled_on:
        raise RecordError("leftOn", "The leaving date is before the enrolment date.")


def students_push(push: PushRequest) -> PushResult:
    """Upsert a batch of students by roll number (see the module docstring); every record gets a result."""
    results: list[dict[str, Any]] = [{} for _ in push.records]
    wanted: dict[int, dict[str, Any]] = {}
    first_seen: dict[str, int] = {}
    today = timezone.localdate()
    for index, record in enumerate(push.records):
        try:
            values = read_student(record, today)
            roll_number = values["roll_number"]
            if roll_number in first_seen:
                raise RecordError(
                    "rollNumber", f"Roll number {roll_number} is already in this batch ({first_seen[roll_number]})."
                )
        except RecordError as failure:
            results[index] = records.error(index, failure)
            continue
        first_seen[roll_number] = index
        wanted[index] = values
    applied: list[ChangeRef] = []
    subjects: set[int] = set()
    for _attempt in range(ATTEMPTS):
        if not wanted:
            break
        # Students another request created meanwhile come back, to be matched again as the updates they now are.
        wanted = _apply(push, wanted, results, applied, subjects)
    for index in wanted:
        failure = RecordError("rollNumber", "Other requests keep creating this student; send it again.")
        results[index] = records.error(index, failure)
    record_changes("students", applied, source="sync", application=push.application)
    return PushResult(results, subjects)


def _apply(
    push: PushRequest,
    wanted: dict[int, dict[str, Any]],
    results: list[dict[str, Any]],
    applied: list[ChangeRef],
    subjects: set[int],
) -> dict[int, dict[str, Any]]:
    """Match, check and write `wanted`; return the records that lost a race to create their student."""
    roll_numbers = [values["roll_number"] for values in wanted.values()]
    suppressed = set(
        SuppressedRollNumber.objects.filter(roll_number__any_of=roll_numbers).values_list("roll_number", flat=True)
    )
    group_ids = {values["class_group_id"] for values in wanted.values() if values.get("class_group_id") is not None}
    groups = set(ClassGroup.objects.filter(pk__in=group_ids).values_list("pk", flat=True)) if group_ids else set()
    existing = {
        row[1]: dict(zip(STORED, row, strict=True))
        for row in Student.objects.select_for_update()
        .filter(roll_number__any_of=roll_numbers)
        .order_by()
        .values_list(*STORED)
    }
    visible = _visible(push.actor, [current["id"] for current in existing.values() if current["deleted_at"] is None])
    conflicted = changed_since("students", visible, push.last_sync, except_sync_by=push.application)

    now = timezone.now()
    new: dict[str, int] = {}
    new_rows: list[tuple[Any, ...]] = []
    changed: list[tuple[dict[str, Any], dict[str, Any]]] = []
    changed_fields: set[str] = set()
    for index, values in wanted.items():
        roll_number = values["roll_number"]
        current = existing.get(roll_number)
        try:
            if roll_number in suppressed:
                raise RecordError(
                    "rollNumber",
                    f"The student with roll number {roll_number} was erased at the family's request; "
                    "a sync cannot bring them back.",
                )
            group_id = values.get("class_group_id")
            if group_id is not None and group_id not in groups:
                raise RecordError("classGroupId", f'Invalid pk "{group_id}" - object does not exist.')
            if current is None:
                for attribute in ("first_name", "last_name"):
                    if attribute not in values:
                        raise RecordError(FIELD_NAMES[attribute], "This field is required to create a student.")
                _check_dates(values.get("enrolled_on"), values.get("left_on"))
                new[roll_number] = index
                new_rows.append((roll_number, *[values.get(a, DEFAULTS[a]) for a in ATTRIBUTES], 1, now, now))
                continue
            if current["deleted_at"] is not None:
                raise RecordError(
                    "rollNumber", f"Roll number {roll_number} belongs to a deleted student and cannot be used again."
                )
            if current["id"] not in visible:
                raise RecordError("rollNumber", f"Roll number {roll_number} is already in use.")
            changes = {name: value for name, value in values.items() if current[name] != value}
            _check_dates(changes.get("enrolled_on", current["enrolled_on"]), changes.get("left_on", current["left_on"]))
        except RecordError as failure:
            results[index] = records.error(index, failure)
            continue
        result: dict[str, Any] = {"index": index, "status": "unchanged", "id": current["id"]}
        results[index] = result
        if not changes:
            continue
        if current["id"] in conflicted:
            if push.on_conflict != OnConflict.CLIENT_WINS:
                resolution = "rejected" if push.on_conflict == OnConflict.REJECT else "server_wins"
                result.update(status="conflict", reason="Changed in Harmony after lastSyncTimestamp.")
                result.update(resolution=resolution, server=None)  # the server's values follow below
                continue
            result["resolution"] = "client_wins"
        result["status"] = "updated"
        changed.append((current, changes))
        changed_fields.update(changes)

    _show_the_servers_values(results, subjects)
    inserted = insert_rows(
        Student,
        ["roll_number", *FIELDS, "version", "created_at", "updated_at"],
        new_rows,
        skip_conflicts_on=["roll_number"],
        returning=["id", "roll_number"],
    )
    for student_id, roll_number in inserted:
        index = new.pop(roll_number)
        results[index] = {"index": index, "status": "created", "id": student_id}
        applied.append(student_change(student_id, roll_number))
    if changed:
        attributes = sorted(changed_fields)
        update_rows(
            Student,
            [*(FIELD_OF[a] for a in attributes), "version", "updated_at"],
            [
                (current["id"], *[changes.get(a, current[a]) for a in attributes], current["version"] + 1, now)
                for current, changes in changed
            ],
        )
        applied.extend(student_change(current["id"], current["roll_number"]) for current, _changes in changed)
    return {index: wanted[index] for index in new.values()}


def _visible(actor: Any, live: list[int]) -> set[int]:
    """Return the students among `live` that `actor` may see (and so change).

    `visible_to` decides, as everywhere. When it narrows nothing (the usual partner system, or the office,
    sees every live student) its query is the live students' own, and the rows already locked answer.
    """
    may_see = Student.objects.visible_to(actor)
    if str(may_see.query) == str(Student.objects.live().query):
        return set(live)
    return set(may_see.filter(pk__any_of=live).order_by().values_list("pk", flat=True))


def _show_the_servers_values(results: list[dict[str, Any]], subjects: set[int]) -> None:
    """Fill in the server's version of each conflicting student, as the students API shows it."""
    conflicts = {result["id"]: result for result in results if result.get("server", False) is None}
    if not conflicts:
        return
    for student in Student.objects.select_related("class_group").filter(pk__in=conflicts):
        conflicts[student.pk]["server"] = StudentSerializer(student).data
        subjects.add(student.pk)


def render(request: Any, actor: Any, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Return the students among `ids` that `actor` may see, as the students API shows them (and log it)."""
    students = Student.objects.visible_to(actor).select_related("class_group").filter(pk__any_of=ids)
    rows = disclose_rows(request, list(StudentSerializer(students, many=True).data), entity="students")
    return {row["id"]: row for row in rows}


register(
    SyncEntity(
        name="students",
        records_field="students",
        read_scope="students:read",
        write_scope="students:write",
        key_fields=("rollNumber",),
        push=students_push,
        render=render,
        disclose=lambda request, rows: disclose_rows(request, rows, entity="students"),
        count=lambda actor: Student.objects.visible_to(actor).count(),
        record_serializer=StudentSerializer,
    )
)
