"""Consent, requests, disclosures, retention and suppression: the records that prove how data was handled."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from students.models import Guardian, Student


class LawfulBasis(models.TextChoices):
    CONSENT = "consent", "Consent"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation"
    PUBLIC_TASK = "public_task", "Public task"
    VITAL_INTERESTS = "vital_interests", "Vital interests"
    LEGITIMATE_INTERESTS = "legitimate_interests", "Legitimate interests"
    CONTRACT = "contract", "Contract"


class Purpose(models.Model):
    """Why data is used: by the school (photos on the website, trips) or by a partner system it shares with.

    `visible_fields` names, per API entity, the fields a partner acting for this purpose receives; an entity
    not named there is returned whole. When `requires_consent` is on, no child without a granted consent
    for this purpose reaches a partner acting for it.
    """

    code = models.SlugField(max_length=50, unique=True)
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    lawful_basis = models.CharField(max_length=24, choices=LawfulBasis.choices, default=LawfulBasis.CONSENT)
    requires_consent = models.BooleanField(default=True)
    visible_fields = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def active_text(self) -> PurposeText | None:
        return self.texts.filter(status=PurposeText.Status.ACTIVE).first()


class PurposeText(models.Model):
    """One version of what parents are asked to agree to. Publishing a new one archives the old."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    purpose = models.ForeignKey(Purpose, on_delete=models.CASCADE, related_name="texts")
    version = models.PositiveIntegerField()
    text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    requires_reconsent = models.BooleanField(
        default=False, help_text="Publishing this version asks every family who agreed before to agree again."
    )
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["purpose", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["purpose", "version"], name="one_text_per_version"),
            models.UniqueConstraint(
                fields=["purpose"], condition=models.Q(status="active"), name="one_active_text_per_purpose"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose.code} v{self.version} ({self.status})"


class ConsentDecision(models.Model):
    """An entry in the append-only consent ledger: who decided what, for which child, on which text, how."""

    class Decision(models.TextChoices):
        GRANTED = "granted", "Granted"
        REFUSED = "refused", "Refused"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Method(models.TextChoices):
        FAMILY_PAGE = "family_page", "Family page"
        PAPER_FORM = "paper_form", "Paper form entered by staff"
        API = "api", "Partner app"

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="consent_decisions")
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="decisions")
    text = models.ForeignKey(PurposeText, on_delete=models.PROTECT, related_name="decisions")
    guardian = models.ForeignKey(Guardian, null=True, on_delete=models.SET_NULL, related_name="consent_decisions")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    method = models.CharField(max_length=12, choices=Method.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_by_app = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["student", "purpose", "created_at"], name="consent_ledger_idx")]

    def __str__(self) -> str:
        return f"{self.student_id} {self.purpose_id} {self.decision}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValidationError("The consent ledger is append-only: record a new decision instead.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class ConsentState(models.Model):
    """The current state per child and purpose, derived from the ledger (the ledger is the truth)."""

    class State(models.TextChoices):
        NOT_ASKED = "not_asked", "Not asked"
        GRANTED = "granted", "Granted"
        REFUSED = "refused", "Refused"
        WITHDRAWN = "withdrawn", "Withdrawn"
        NEEDS_RECONSENT = "needs_reconsent", "Needs re-consent"

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="consent_states")
    purpose = models.ForeignKey(Purpose, on_delete=models.CASCADE, related_name="states")
    state = models.CharField(max_length=16, choices=State.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["student", "purpose"], name="one_state_per_child_purpose")]
        indexes = [models.Index(fields=["purpose", "state"], name="consent_state_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.student_id} {self.purpose_id}: {self.state}"


class PartnerPurpose(models.Model):
    """A purpose a partner application is registered to serve; it may state no other."""

    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="purposes"
    )
    purpose = models.ForeignKey(Purpose, on_delete=models.CASCADE, related_name="applications")
    is_default = models.BooleanField(default=False, help_text="Used when a request names no X-Data-Purpose.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "purpose"], name="one_link_per_app_purpose")]

    def __str__(self) -> str:
        return f"{self.application_id} → {self.purpose.code}"


class Disclosure(models.Model):
    """One API answer that carried children's data to a partner application; no copy of the data itself."""

    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, null=True, on_delete=models.SET_NULL, related_name="disclosures"
    )
    purpose = models.ForeignKey(Purpose, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    entity = models.CharField(max_length=40)
    path = models.CharField(max_length=200)
    record_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.application_id} {self.entity} ×{self.record_count}"


class DisclosedStudent(models.Model):
    """Which children one disclosure was about (bulk-inserted, one row per child)."""

    disclosure = models.ForeignKey(Disclosure, on_delete=models.CASCADE, related_name="students")
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="disclosures")

    class Meta:
        indexes = [models.Index(fields=["student", "disclosure"], name="disclosed_student_idx")]

    def __str__(self) -> str:
        return f"{self.disclosure_id}: {self.student_id}"


def _due_date() -> timezone.datetime:
    return timezone.localdate() + timedelta(days=30)


class PrivacyRequest(models.Model):
    """A request for a copy of a person's data, or for its erasure, answered within a month."""

    class Kind(models.TextChoices):
        EXPORT = "export", "Copy of data"
        ERASURE = "erasure", "Erasure"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        READY = "ready", "Ready to download"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Failed (will be retried)"

    class Via(models.TextChoices):
        FAMILY_PAGE = "family_page", "Family page"
        STAFF = "staff", "Staff on their behalf"
        API = "api", "Partner app"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="privacy_requests"
    )
    subject_student = models.ForeignKey(
        Student, null=True, blank=True, on_delete=models.SET_NULL, related_name="privacy_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(max_length=12, choices=Via.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    due_on = models.DateField(default=_due_date)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    steps_done = models.JSONField(default=list, blank=True, help_text="Providers already processed, for retries.")
    outcome = models.JSONField(default=dict, blank=True, help_text="What was exported, erased or kept, and why.")
    last_error = models.TextField(blank=True)
    download_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    export_file = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"


class RetentionPolicy(models.Model):
    """How long one category of personal data is kept, from which event, and what happens then."""

    class Anchor(models.TextChoices):
        STUDENT_LEFT = "student_left", "The student left"
        RECORD_CREATED = "record_created", "The record was made"

    class Action(models.TextChoices):
        ANONYMISE = "anonymise", "Anonymise"
        DELETE = "delete", "Delete"

    category = models.SlugField(max_length=50, unique=True)
    description = models.CharField(max_length=200)
    period_days = models.PositiveIntegerField()
    anchor = models.CharField(max_length=16, choices=Anchor.choices)
    action = models.CharField(max_length=10, choices=Action.choices)
    lawful_basis = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["category"]
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return f"{self.category}: {self.action} {self.period_days} days after {self.get_anchor_display().lower()}"


class SuppressedRollNumber(models.Model):
    """Roll numbers of erased students: a later sync reports them instead of bringing the child back."""

    roll_number = models.CharField(max_length=32, unique=True)
    erased_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.roll_number
