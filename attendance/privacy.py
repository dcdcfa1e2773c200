"""What attendance holds about a person, why, for how long, and how it is exported and erased.

The privacy app discovers `PROVIDER` (its declarations plus `export` and `erase`) and never imports the rest of
attendance. Three kinds of person appear here: a student (their marks, the history of those marks, the
absences reported for them), a guardian (the absence reports they made) and a member of staff (the registers
they took and the marks they recorded, changed or decided on).

The attendance register is kept by law. The School Attendance (Pupil Registration) (England) Regulations 2024
require every entry, and every amendment with who made it and when, to be preserved for six years from the
date of the entry. So a parent's erasure request never deletes a mark or its history: free text that could
name someone (remarks, a parent's details) is cleared, and the marks are anonymised only when their
retention period ends. `erase` says what it kept and why.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from attendance.models import AbsenceReport, AttendanceChange, AttendanceRecord, Register
from attendance.services import attendance_change
from harmony.sync.changes import record_changes
from privacy.registry import Subject as RegistrySubject
from students.models import Guardian, Student

if TYPE_CHECKING:
    from harmony.models import User

    Subject = Student | Guardian | User

REGISTER_RETENTION_YEARS = 6
LEGAL_OBLIGATION = (
    "UK GDPR Article 6(1)(c), legal obligation: The School Attendance (Pupil Registration) (England) "
    "Regulations 2024 (SI 2024/208), which require every register entry and amendment to be kept for six years"
)
SPECIAL_CATEGORY = (
    "UK GDPR Article 9(2)(g) with the Data Protection Act 2018, Schedule 1, paragraph 6 (statutory purposes): "
    "a reason for absence may reveal health or religion"
)
PUBLIC_TASK = "UK GDPR Article 6(1)(e), public task: following up a child's absence"
REGISTER_RETENTION = (
    f"{REGISTER_RETENTION_YEARS} years from the date of the entry, then anonymised; never deleted on request"
)
# What replaces erased free text inside the history, so that the history still shows that a remark changed.
ERASED = "(erased)"


@dataclass(frozen=True)
class Declaration:
    """Personal data one model holds: which fields, of what kind, why, for how long, and what erasure does."""

    model: str
    fields: tuple[str, ...]
    category: str
    purpose: str
    retention: str
    lawful_basis: str
    kept_by_law: bool
    on_erasure: str


DECLARATIONS: tuple[Declaration, ...] = (
    Declaration(
        model="attendance.Register",
        fields=("taken_by",),
        category="staff identity",
        purpose="The legal register records who took each class's register and when.",
        retention=REGISTER_RETENTION,
        lawful_basis=LEGAL_OBLIGATION,
        kept_by_law=True,
        on_erasure="kept",
    ),
    Declaration(
        model="attendance.AttendanceRecord",
        fields=("student", "date", "session", "code", "minutes_late", "recorded_by"),
        category="attendance",
        purpose="The legal attendance register: each student's mark for each session, and who made it.",
        retention=REGISTER_RETENTION,
        lawful_basis=LEGAL_OBLIGATION,
        kept_by_law=True,
        on_erasure="kept",
    ),
    Declaration(
        model="attendance.AttendanceRecord",
        fields=("remarks",),
        category="free text about a child",
        purpose="A note on a mark (why a child was late, who rang in).",
        retention=REGISTER_RETENTION,
        lawful_basis=PUBLIC_TASK,
        kept_by_law=False,
        on_erasure="cleared",
    ),
    Declaration(
        model="attendance.AttendanceChange",
        fields=("student", "date", "session", "action", "changes", "changed_by"),
        category="attendance register amendments",
        purpose="Every change to the register: the original mark, the new one, who changed it and when.",
        retention=REGISTER_RETENTION,
        lawful_basis=LEGAL_OBLIGATION,
        kept_by_law=True,
        on_erasure="kept; remarks inside `changes` are replaced by “(erased)”",
    ),
    Declaration(
        model="attendance.AbsenceReport",
        fields=("student", "reported_by", "starts_on", "ends_on", "sessions", "reason", "status", "decided_by"),
        category="reason for absence (may be health or religion: special category)",
        purpose="A parent's report of an absence; once accepted, it is the evidence for the authorised marks.",
        retention=f"accepted reports: {REGISTER_RETENTION}; pending and rejected ones: until erased",
        lawful_basis=f"{LEGAL_OBLIGATION}; {SPECIAL_CATEGORY}",
        kept_by_law=True,
        on_erasure="accepted reports kept (without who reported them when a guardian is erased); others deleted",
    ),
    Declaration(
        model="attendance.AbsenceReport",
        fields=("details", "decision_note"),
        category="free text about a child and their family",
        purpose="What the parent wrote, and the office's note on its decision.",
        retention="with the report",
        lawful_basis=f"{PUBLIC_TASK}; {SPECIAL_CATEGORY}",
        kept_by_law=False,
        on_erasure="cleared",
    ),
)


KEPT_DESCRIPTIONS = {
    "attendance.Register": "registers (the legal register of attendance)",
    "attendance.AttendanceRecord": "register marks (the legal register of attendance)",
    "attendance.AttendanceChange": "register amendments (the legal register's history)",
    "attendance.AbsenceReport": "accepted absence reports (evidence for authorised absences in the register)",
}


@dataclass
class Erasure:
    """What `erase` did: how many rows it deleted and cleared, and what it kept under which basis."""

    deleted: dict[str, int] = field(default_factory=dict)
    cleared: dict[str, int] = field(default_factory=dict)
    kept: list[dict[str, Any]] = field(default_factory=list)

    def keep(self, model: str, count: int, why: str, basis: str = LEGAL_OBLIGATION, until: str = "") -> None:
        if count:
            what = f"{count} {KEPT_DESCRIPTIONS.get(model, model)}"
            item = {"what": what, "model": model, "count": count, "why": why, "lawfulBasis": basis}
            self.kept.append({**item, "until": until} if until else item)

    def as_dict(self) -> dict[str, Any]:
        return {"deleted": self.deleted, "cleared": self.cleared, "kept": self.kept}


def _date(value: datetime.date | datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _subjects(subject: Subject) -> tuple[Student | None, Guardian | None, User | None]:
    """Split a subject into the student, the guardian and the staff member it stands for (any may be None)."""
    if isinstance(subject, RegistrySubject):  # the privacy app's request subject: a student or a user
        subject = subject.student if subject.student is not None else subject.user
    if isinstance(subject, Student):
        return subject, None, None
    if isinstance(subject, Guardian):
        return None, subject, None
    guardian = Guardian.objects.filter(user=subject).first()
    return None, guardian, subject if subject.is_school_staff else None


def export(subject: Subject) -> dict[str, Any]:
    """Return, as JSON-ready data, what attendance holds about `subject`.

    For a student: their marks, the history of those marks and the absences reported for them. For a guardian
    (or their user): the absence reports they made. For a member of staff: the registers they took and how
    many marks they recorded and changed.
    """
    student, guardian, staff = _subjects(subject)
    data: dict[str, Any] = {}
    if student is not None:
        data["attendanceRecords"] = [
            {
                "date": _date(r.date),
                "session": r.session,
                "code": r.code.code,
                "meaning": r.code.label,
                "status": r.code.api_status,
                "minutesLate": r.minutes_late,
                "remarks": r.remarks,
                "source": r.source,
                "recordedAt": _date(r.recorded_at),
                "updatedAt": _date(r.updated_at),
            }
            for r in AttendanceRecord.objects.filter(student=student).select_related("code").order_by("date", "session")
        ]
        data["attendanceHistory"] = [
            {
                "date": _date(c.date),
                "session": c.session,
                "action": c.action,
                "changes": c.changes,
                "source": c.source,
                "changedAt": _date(c.changed_at),
            }
            for c in AttendanceChange.objects.filter(student=student).order_by("changed_at", "id")
        ]
        data["absenceReports"] = [_report(r) for r in student.absence_reports.order_by("created_at", "id")]
    if guardian is not None:
        reports = guardian.absence_reports.select_related("student").order_by("created_at", "id")
        data["absenceReportsMade"] = [
            {**_report(r), "studentId": r.student_id, "student": r.student.full_name} for r in reports
        ]
    if staff is not None:
        data["registersTaken"] = [
            {"classGroup": name, "date": _date(date), "session": session}
            for name, date, session in Register.objects.filter(taken_by=staff)
            .order_by("date", "session", "class_group__name")
            .values_list("class_group__name", "date", "session")
        ]
        data["marksRecorded"] = AttendanceRecord.objects.filter(recorded_by=staff).count()
        data["registerChangesMade"] = AttendanceChange.objects.filter(changed_by=staff).count()
        data["absenceReportsDecided"] = AbsenceReport.objects.filter(decided_by=staff).count()
    return data


def _report(report: AbsenceReport) -> dict[str, Any]:
    return {
        "startsOn": _date(report.starts_on),
        "endsOn": _date(report.ends_on),
        "sessions": report.session_list,
        "reason": report.reason,
        "details": report.details,
        "status": report.status,
        "decisionNote": report.decision_note,
        "reportedAt": _date(report.created_at),
        "decidedAt": _date(report.decided_at),
    }


@transaction.atomic
def erase(subject: Subject) -> dict[str, Any]:
    """Erase what attendance may erase about `subject`; keep what the law requires, and say what and why.

    A student's marks and their history stay (the legal register) with their remarks cleared, also inside the
    history; accepted absence reports stay as the evidence for authorised marks, without the parent's words;
    pending and rejected reports go. A guardian's reports stay with their child's record, no longer linked to
    the guardian and without what they wrote. A member of staff's name stays on what they recorded.
    """
    student, guardian, staff = _subjects(subject)
    result = Erasure()
    if student is not None:
        _erase_student(student, result)
    if guardian is not None:
        _erase_guardian(guardian, result)
    if staff is not None:
        registers = Register.objects.filter(taken_by=staff).count()
        marks = AttendanceRecord.objects.filter(recorded_by=staff).count()
        changes = AttendanceChange.objects.filter(changed_by=staff).count()
        why = "The register must show who took it and who amended each entry."
        result.keep("attendance.Register", registers, why, until=REGISTER_RETENTION)
        result.keep("attendance.AttendanceRecord", marks, why, until=REGISTER_RETENTION)
        result.keep("attendance.AttendanceChange", changes, why, until=REGISTER_RETENTION)
    return result.as_dict()


def _erase_student(student: Student, result: Erasure) -> None:
    records = AttendanceRecord.objects.filter(student=student)
    result.cleared["attendance.AttendanceRecord.remarks"] = records.exclude(remarks="").update(
        remarks="", version=F("version") + 1, updated_at=timezone.now()
    )
    # Partners' copies go: the change feed carries a tombstone (the natural key only) for each of the child's
    # marks, which Harmony itself keeps as the legal register.
    record_changes(
        "attendance",
        [
            attendance_change(record, student.roll_number, deleted=True)
            for record in records.only("pk", "date", "session")
        ],
        source="privacy",
    )
    result.keep(
        "attendance.AttendanceRecord",
        records.count(),
        "The attendance register is kept by law: each mark stays; its remarks were cleared.",
        until=REGISTER_RETENTION,
    )

    history = [
        change
        for change in AttendanceChange.objects.filter(student=student, changes__has_key="remarks")
        if any(value not in (None, "", ERASED) for value in change.changes["remarks"])
    ]
    for change in history:
        change.changes["remarks"] = [ERASED if value else value for value in change.changes["remarks"]]
    AttendanceChange.objects.bulk_update(history, ["changes"])
    result.cleared["attendance.AttendanceChange.changes.remarks"] = len(history)
    result.keep(
        "attendance.AttendanceChange",
        AttendanceChange.objects.filter(student=student).count(),
        "Amendments to the register are kept by law with who made them; remarks in them were erased.",
        until=REGISTER_RETENTION,
    )

    reports = AbsenceReport.objects.filter(student=student)
    accepted = reports.filter(status=AbsenceReport.Status.ACCEPTED)
    result.cleared["attendance.AbsenceReport.details"] = accepted.exclude(details="", decision_note="").update(
        details="", decision_note=""
    )
    result.keep(
        "attendance.AbsenceReport",
        accepted.count(),
        "An accepted report is the evidence for the authorised absences on the register; what was written in it "
        "was cleared.",
        basis=f"{LEGAL_OBLIGATION}; {SPECIAL_CATEGORY}",
        until=REGISTER_RETENTION,
    )
    result.deleted["attendance.AbsenceReport"] = reports.exclude(status=AbsenceReport.Status.ACCEPTED).delete()[0]


def _erase_guardian(guardian: Guardian, result: Erasure) -> None:
    reports = AbsenceReport.objects.filter(reported_by=guardian)
    count = reports.count()
    result.cleared["attendance.AbsenceReport.details"] = result.cleared.get(
        "attendance.AbsenceReport.details", 0
    ) + reports.exclude(details="").update(details="")
    reports.update(reported_by=None)
    result.keep(
        "attendance.AbsenceReport",
        count,
        "The absences you reported belong to your child's attendance record; they no longer name you and what "
        "you wrote was cleared.",
        basis=f"{LEGAL_OBLIGATION}; {SPECIAL_CATEGORY}",
        until=REGISTER_RETENTION,
    )


@dataclass(frozen=True)
class Provider:
    """What the privacy app needs from an app: its declarations, and how to export and erase a person."""

    app: str
    declarations: tuple[Declaration, ...]
    export: Callable[[Subject], dict[str, Any]]
    erase: Callable[[Subject], dict[str, Any]]


PROVIDER = Provider(app="attendance", declarations=DECLARATIONS, export=export, erase=erase)
