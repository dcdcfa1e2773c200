"""The admin of the privacy records. The records that prove how data was handled are read-only here:

- the consent ledger is append-only (decisions are recorded on the family pages, on paper forms or through the
  API), and consent states are derived from it;
- consent texts are versioned: a change is a new version, published on the staff page (Privacy → Consent
  texts) so that earlier versions stay as parents saw them;
- privacy requests move only through their services (decided on the staff page, carried out by the task
  worker); only their due date may be extended here;
- the disclosure log and the suppression list are written by the system and kept for accountability.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from privacy.models import (
    ConsentDecision,
    ConsentState,
    DisclosedStudent,
    Disclosure,
    PartnerPurpose,
    PrivacyRequest,
    Purpose,
    PurposeText,
    RetentionPolicy,
    SuppressedRollNumber,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Show the records, never add, change or delete them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PurposeTextInline(admin.TabularInline):
    model = PurposeText
    fields = ["version", "status", "requires_reconsent", "published_at", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Purpose)
class PurposeAdmin(admin.ModelAdmin):
    list_display = ["title", "code", "lawful_basis", "requires_consent", "is_active"]
    list_filter = ["lawful_basis", "requires_consent", "is_active"]
    search_fields = ["code", "title"]
    inlines = [PurposeTextInline]
    readonly_fields = ["publish_link"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Partners name a purpose by its code (X-Data-Purpose): it never changes once set.
        return [*self.readonly_fields, "code"] if obj else self.readonly_fields

    @admin.display(description="Text")
    def publish_link(self, purpose: Purpose) -> str:
        if not purpose.pk:
            return "Save the purpose, then publish its text on the staff page."
        url = reverse("staff-privacy-text", args=[purpose.code])
        return format_html('<a href="{}">Publish a new version of the text</a>', url)


@admin.register(PurposeText)
class PurposeTextAdmin(ReadOnlyAdmin):
    list_display = ["purpose", "version", "status", "requires_reconsent", "published_at"]
    list_filter = ["status", "requires_reconsent", "purpose"]
    list_select_related = ["purpose"]
    search_fields = ["purpose__code", "purpose__title", "text"]


@admin.register(ConsentDecision)
class ConsentDecisionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "student", "purpose", "decision", "guardian", "method", "text_version", "recorded_by"]
    list_filter = ["decision", "method", "purpose"]
    list_select_related = ["student", "purpose", "guardian__user", "text", "recorded_by"]
    search_fields = ["student__roll_number", "student__last_name", "student__first_name", "guardian__user__last_name"]
    date_hierarchy = "created_at"

    @admin.display(description="Text version", ordering="text__version")
    def text_version(self, decision: ConsentDecision) -> int:
        return decision.text.version


@admin.register(ConsentState)
class ConsentStateAdmin(ReadOnlyAdmin):
    list_display = ["student", "purpose", "state", "updated_at"]
    list_filter = ["state", "purpose"]
    list_select_related = ["student", "purpose"]
    search_fields = ["student__roll_number", "student__last_name", "student__first_name"]


@admin.register(PartnerPurpose)
class PartnerPurposeAdmin(admin.ModelAdmin):
    list_display = ["application", "purpose", "is_default"]
    list_filter = ["purpose", "is_default"]
    list_select_related = ["application", "purpose"]
    search_fields = ["application__name", "purpose__code"]


@admin.register(Disclosure)
class DisclosureAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "application", "purpose", "entity", "record_count", "on_behalf_of"]
    list_filter = ["entity", "purpose", "application"]
    list_select_related = ["application", "purpose", "on_behalf_of"]
    search_fields = ["application__name", "path"]
    date_hierarchy = "created_at"


@admin.register(DisclosedStudent)
class DisclosedStudentAdmin(ReadOnlyAdmin):
    list_display = ["disclosure", "student"]
    list_select_related = ["disclosure__application", "student"]
    search_fields = ["student__roll_number", "student__last_name"]
    raw_id_fields = ["disclosure", "student"]


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "status", "subject_student", "subject_user", "requested_by", "via", "due_on"]
    list_filter = ["kind", "status", "via"]
    list_select_related = ["subject_student", "subject_user", "requested_by"]
    search_fields = ["subject_student__roll_number", "subject_user__username", "requested_by__username"]
    date_hierarchy = "created_at"
    fields = [
        "kind",
        "status",
        "subject_student",
        "subject_user",
        "requested_by",
        "via",
        "due_on",
        "decided_by",
        "decided_at",
        "decision_reason",
        "steps_done",
        "outcome",
        "last_error",
        "expires_at",
        "created_at",
        "completed_at",
    ]
    # Everything but the due date: a complex request may be extended (by up to two further months).
    readonly_fields = [name for name in fields if name != "due_on"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    list_display = ["category", "description", "period_days", "anchor", "action", "lawful_basis"]
    list_filter = ["anchor", "action"]


@admin.register(SuppressedRollNumber)
class SuppressedRollNumberAdmin(ReadOnlyAdmin):
    list_display = ["roll_number", "erased_at"]
    search_fields = ["roll_number"]
