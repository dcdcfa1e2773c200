"""Writes to students, guardians and guardianships. Each validates first, then writes in one transaction."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from harmony.errors import Conflict, PreconditionFailed
from harmony.sync.changes import ChangeRef, record_changes
from students.models import Guardian, Guardianship, Student

# Everything a tombstone forgets: it keeps its id and roll number, so partners can match the deletion.
TOMBSTONE_CLEARED = {
    "first_name": "",
    "last_name": "",
    "email": "",
    "date_of_birth": None,
    "gender": "",
    "class_group": None,
    "enrolled_on": None,
    "left_on": None,
    "address": "",
    "medical_notes": "",
    "support_notes": "",
}


def student_change(student_id: int, roll_number: str, *, deleted: bool = False) -> ChangeRef:
    """The change feed's entry for a written student: its id and roll number, the partners' key."""
    return ChangeRef(student_id, {"rollNumber": roll_number}, deleted)


def _roll_number_taken(roll_number: str) -> Conflict:
    existing = Student.objects.filter(roll_number=roll_number).values("id", "deleted_at").first()
    reason = "belongs to a deleted student" if existing and existing["deleted_at"] else "is already in use"
    return Conflict(
        f"Roll number {roll_number} {reason}.",
        code="duplicate_roll_number",
        field="rollNumber",
        existingId=existing["id"] if existing else None,
    )


@transaction.atomic
def student_create(*, data: dict[str, Any]) -> Student:
    """Create a student from validated data; a roll number already in use (even by a tombstone) is a conflict."""
    if Student.objects.filter(roll_number=data["roll_number"]).exists():
        raise _roll_number_taken(data["roll_number"])
    try:
        with transaction.atomic():
            student = Student.objects.create(**data)
    except IntegrityError:  # another request took the roll number between our check and our insert
        raise _roll_number_taken(data["roll_number"]) from None
    record_changes("students", [student_change(student.pk, student.roll_number)])
    return student


def check_version(student: Student, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != student.version:
        raise PreconditionFailed(
            f"Student {student.pk} is at version {student.version}, not {expected_version}.",
            currentVersion=student.version,
        )


@transaction.atomic
def student_update(*, student: Student, data: dict[str, Any], expected_version: int | None = None) -> Student:
    """Apply validated changes; a stale `expected_version` (from If-Match) changes nothing and fails with 412.

    The version check and the write happen on a locked row, so two editors holding the same ETag cannot both
    win. The roll number is immutable.
    """
    locked = Student.objects.select_for_update().get(pk=student.pk)
    check_version(locked, expected_version)
    changed = {name: value for name, value in data.items() if getattr(locked, name) != value}
    if not changed:
        return locked
    for name, value in changed.items():
        setattr(locked, name, value)
    locked.version = F("version") + 1
    locked.save(update_fields=[*changed, "version", "updated_at"])
    locked.refresh_from_db()
    record_changes("students", [student_change(locked.pk, locked.roll_number)])
    return locked


@transaction.atomic
def student_delete(*, student: Student, expected_version: int | None = None) -> Student:
    """Turn the student into a tombstone that keeps only its roll number, and unlink its guardians."""
    locked = Student.objects.select_for_update().get(pk=student.pk)
    check_version(locked, expected_version)
    Guardianship.objects.filter(student=locked).delete()
    for name, value in TOMBSTONE_CLEARED.items():
        setattr(locked, name, value)
    locked.status = Student.Status.LEFT
    locked.deleted_at = timezone.now()
    locked.version = F("version") + 1
    locked.save()
    locked.refresh_from_db()
    record_changes("students", [student_change(locked.pk, locked.roll_number, deleted=True)])
    return locked


@transaction.atomic
def guardian_create(*, user_data: dict[str, Any], data: dict[str, Any]) -> Guardian:
    """Create a guardian and the account they will sign in with (no usable password until invited)."""
    User = get_user_model()
    email = user_data.get("email", "")
    username = email or f"guardian-{timezone.now():%Y%m%d%H%M%S%f}"
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"An account named {username} already exists.", code="duplicate_account", field="email")
    user = User(username=username, **user_data)
    user.set_unusable_password()
    user.save()
    return Guardian.objects.create(user=user, **data)


@transaction.atomic
def guardian_update(*, guardian: Guardian, user_data: dict[str, Any], data: dict[str, Any]) -> Guardian:
    user = guardian.user
    for name, value in user_data.items():
        setattr(user, name, value)
    if user_data:
        user.save(update_fields=list(user_data))
    for name, value in data.items():
        setattr(guardian, name, value)
    guardian.save()
    return guardian


@transaction.atomic
def guardian_delete(*, guardian: Guardian) -> None:
    """Remove a guardian: their links to children go, and their account can no longer sign in."""
    user = guardian.user
    guardian.delete()
    user.is_active = False
    user.set_unusable_password()
    user.save(update_fields=["is_active", "password"])


def guardianship_create(*, data: dict[str, Any]) -> Guardianship:
    if Guardianship.objects.filter(guardian=data["guardian"], student=data["student"]).exists():
        raise Conflict("This guardian is already linked to this student.", code="duplicate_guardianship")
    try:
        with transaction.atomic():
            return Guardianship.objects.create(**data)
    except IntegrityError:
        raise Conflict("This guardian is already linked to this student.", code="duplicate_guardianship") from None


def guardianship_update(*, guardianship: Guardianship, data: dict[str, Any]) -> Guardianship:
    for name, value in data.items():
        setattr(guardianship, name, value)
    guardianship.save()
    return guardianship


def guardianship_delete(*, guardianship: Guardianship) -> None:
    guardianship.delete()
