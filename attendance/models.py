"""The legal register: codes, the school calendar, registers, one record per student per session, and history."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

from students.models import ClassGroup, Guardian, Student

if TYPE_CHECKING:
    from harmony.models import Application, User


class AttendanceCode(models.Model):
    """A register mark, such as `/` (present) or `I` (illness). Codes in use are retired, never deleted."""

    class Category(models.TextChoices):
        PRESENT = "present", "Present"
        LATE = "late", "Late"
        AUTHORISED = "authorised_absence", "Authorised absence"
        UNAUTHORISED = "unauthorised_absence", "Unauthorised absence"
        APPROVED_ACTIVITY = "approved_activity", "Approved educational activity"
        NOT_COUNTED = "not_counted", "Not counted"

    class UsableBy(models.TextChoices):
        TEACHERS = "teachers", "Teachers and office"
        OFFICE = "office", "Office only"

    # The integration guide's statuses, and which category each stands for when a partner reads a record.
    class ApiStatus(models.TextChoices):
        PRESENT = "present", "present"
        ABSENT = "absent", "absent"
        LATE = "late", "late"
        EXCUSED = "excused", "excused"

    code = models.CharField(max_length=4, unique=True)
    label = models.CharField(max_length=100)
    category = models.CharField(max_length=24, choices=Category.choices)
    counts_as_possible = models.BooleanField(
        default=True, help_text="Whether a session with this mark counts as a possible session in rates."
    )
    usable_by = models.CharField(max_length=10, choices=UsableBy.choices, default=UsableBy.OFFICE)
    api_default_for = models.CharField(
        max_length=10,
        choices=ApiStatus.choices,
        blank=True,
        help_text="The code a partner's guide status (present, absent, late, excused) is recorded as.",
    )
    is_active = models.BooleanField(default=True, help_text="Retired codes stay on old records but cannot be used.")
    sort_order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["sort_order", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["api_default_for"],
                condition=~models.Q(api_default_for=""),
                name="one_code_per_api_status",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"

    @property
    def api_status(self) -> str:
        return CATEGORY_TO_API_STATUS[self.category]

    @property
    def is_attendance(self) -> bool:
        return self.category in ATTENDED_CATEGORIES

    @property
    def is_absence(self) -> bool:
        return self.category in MISSED_CATEGORIES

    @property
    def is_unexplained_absence(self) -> bool:
        """An unauthorised absence with the child out of school (late-after-close counts as unauthorised but
        the child is in school, so it raises no absence alert)."""
        return self.category == AttendanceCode.Category.UNAUTHORISED and self.code != LATE_AFTER_REGISTER_CLOSED

    @property
    def is_late_arrival(self) -> bool:
        """Late before the register closed (attended), or after it ("U": counted as an unauthorised absence)."""
        return self.category == self.Category.LATE or self.code == LATE_AFTER_REGISTER_CLOSED


# The one late mark that is not in the "late" category: the child came after the register closed.
LATE_AFTER_REGISTER_CLOSED = "U"
ATTENDED_CATEGORIES = frozenset(
    {AttendanceCode.Category.PRESENT, AttendanceCode.Category.LATE, AttendanceCode.Category.APPROVED_ACTIVITY}
)
MISSED_CATEGORIES = frozenset({AttendanceCode.Category.AUTHORISED, AttendanceCode.Category.UNAUTHORISED})
CATEGORY_TO_API_STATUS = {
    AttendanceCode.Category.PRESENT: "present",
    AttendanceCode.Category.APPROVED_ACTIVITY: "present",
    AttendanceCode.Category.LATE: "late",
    AttendanceCode.Category.AUTHORISED: "excused",
    AttendanceCode.Category.UNAUTHORISED: "absent",
    AttendanceCode.Category.NOT_COUNTED: "excused",
}


class Term(models.Model):
    name = models.CharField(max_length=60)
    starts_on = models.DateField()
    ends_on = models.DateField()

    class Meta:
        ordering = ["starts_on"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_on__gte=models.F("starts_on")), name="term_ends_after_start")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.starts_on:%d %b %Y} – {self.ends_on:%d %b %Y})"


class Closure(models.Model):
    """Days inside a term when the school is closed: bank holidays, training days, a snow day."""

    starts_on = models.DateField()
    ends_on = models.DateField()
    reason = models.CharField(max_length=120)

    class Meta:
        ordering = ["starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="closure_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reason} ({self.starts_on:%d %b %Y} – {self.ends_on:%d %b %Y})"


class RegisterQuerySet(models.QuerySet["Register"]):
    def visible_to(self, actor: User | Application | None) -> RegisterQuerySet:
        """Registers of the class groups whose students `actor` may see."""
        from harmony.models import Application

        if isinstance(actor, Application) or (actor is not None and getattr(actor, "sees_whole_school", False)):
            return self.all()
        if actor is None or not actor.is_authenticated:
            return self.none()
        return self.filter(class_group__in=ClassGroup.objects.taught_by(actor))


class Register(models.Model):
    """One class group's register for one date and session: who took it, when, and whether it was late."""

    class_group = models.ForeignKey(ClassGroup, on_delete=models.PROTECT, related_name="registers")
    date = models.DateField()
    session = models.CharField(max_length=8)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    is_late = models.BooleanField(default=False, help_text="Submitted after the register closed.")

    objects = RegisterQuerySet.as_manager()

    class Meta:
        ordering = ["-date", "session", "class_group__name"]
        constraints = [
            models.UniqueConstraint(fields=["class_group", "date", "session"], name="one_register_per_session")
        ]

    def __str__(self) -> str:
        return f"{self.class_group} {self.date:%Y-%m-%d} {self.session}"


class AttendanceRecordQuerySet(models.QuerySet["AttendanceRecord"]):
    def visible_to(self, actor: User | Application | None) -> AttendanceRecordQuerySet:
        return self.filter(student__in=Student.objects.visible_to(actor))


class AttendanceRecord(models.Model):
    """The mark of one student for one date and session: at most one, enforced by the database."""

    class Source(models.TextChoices):
        REGISTER = "register", "Register"
        OFFICE = "office", "Office"
        API = "api", "Partner API"
        PARENT_REPORT = "parent_report", "Parent report"
        SYNC = "sync", "Synchronisation"

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="attendance_records")
    date = models.DateField()
    session = models.CharField(max_length=8)
    code = models.ForeignKey(AttendanceCode, on_delete=models.PROTECT, related_name="records")
    minutes_late = models.PositiveSmallIntegerField(null=True, blank=True)
    remarks = models.CharField(max_length=500, blank=True)
    register = models.ForeignKey(Register, null=True, blank=True, on_delete=models.SET_NULL, related_name="records")
    source = models.CharField(max_length=16, choices=Source.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_by_app = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    version = models.PositiveIntegerField(default=1)

    objects = AttendanceRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-date", "session", "student_id"]
        constraints = [
            models.UniqueConstraint(fields=["student", "date", "session"], name="one_mark_per_student_session")
        ]
        indexes = [models.Index(fields=["date", "session"])]

    def __str__(self) -> str:
        return f"{self.student_id} {self.date} {self.session}: {self.code_id}"

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'


class AttendanceChange(models.Model):
    """Who changed which mark, from what to what. Kept for every create, change and deletion."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        CHANGED = "changed", "Changed"
        DELETED = "deleted", "Deleted"

    record_id_at_change = models.BigIntegerField()
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="attendance_changes")
    date = models.DateField()
    session = models.CharField(max_length=8)
    action = models.CharField(max_length=8, choices=Action.choices)
    changes = models.JSONField(default=dict, help_text='{"field": [from, to]}')
    source = models.CharField(max_length=16, choices=AttendanceRecord.Source.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_by_app = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.student_id} {self.date} {self.session}"


class AbsenceReport(models.Model):
    """A parent's report that their child is or was away; the office accepts or rejects it."""

    class Reason(models.TextChoices):
        ILLNESS = "illness", "Illness"
        MEDICAL = "medical", "Medical or dental appointment"
        RELIGIOUS = "religious", "Religious observance"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the office"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="absence_reports")
    reported_by = models.ForeignKey(Guardian, null=True, on_delete=models.SET_NULL, related_name="absence_reports")
    starts_on = models.DateField()
    ends_on = models.DateField()
    sessions = models.CharField(max_length=20, help_text="Space-separated sessions, e.g. 'AM PM'.")
    reason = models.CharField(max_length=12, choices=Reason.choices)
    details = models.TextField(blank=True, max_length=1000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="absence_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.student_id} {self.starts_on}–{self.ends_on} ({self.status})"

    @property
    def session_list(self) -> list[str]:
        return self.sessions.split()


def session_names() -> list[str]:
    return list(settings.ATTENDANCE_SESSIONS)


def register_closes_at(date: datetime.date, session: str) -> datetime.datetime:
    from django.utils import timezone

    hour, minute = (int(part) for part in settings.ATTENDANCE_SESSIONS[session].split(":"))
    return timezone.make_aware(datetime.datetime.combine(date, datetime.time(hour, minute)))
