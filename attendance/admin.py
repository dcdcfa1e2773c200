"""The attendance admin: the office keeps the school calendar and the codes here.

The register itself (registers, marks, their history, parents' reports) is read-only in the admin, for everyone:
a mark changes only through the services, which check the rules and keep who changed what. A code in use is
never deleted, only retired, and what it means (its letter, category and whether it counts) stays as the old
marks recorded it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest

from attendance import services
from attendance.models import AbsenceReport, AttendanceChange, AttendanceCode, AttendanceRecord, Closure, Register, Term
from harmony.errors import Conflict


def _whole_school(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "sees_whole_school", False))


class OfficeManaged(admin.ModelAdmin):
    """Administrators and office staff manage these with their role alone; others need Django permissions."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _whole_school(request) or super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _whole_school(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _whole_school(request) or super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _whole_school(request) or super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _whole_school(request) or super().has_delete_permission(request, obj)


class ReadOnlyRegister(OfficeManaged):
    """Viewable by the office; added, changed and deleted only through the register's own services."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AttendanceCode)
class AttendanceCodeAdmin(OfficeManaged):
    list_display = [
        "code",
        "label",
        "category",
        "counts_as_possible",
        "usable_by",
        "api_default_for",
        "is_active",
        "in_use",
        "sort_order",
    ]
    list_filter = ["category", "usable_by", "is_active", "counts_as_possible"]
    search_fields = ["code", "label"]
    list_editable = ["sort_order"]
    actions = ["retire", "reinstate"]
    # What a code in use means stays as the old marks recorded it.
    fixed_once_used = ["code", "category", "counts_as_possible"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AttendanceCode]:
        used = AttendanceRecord.objects.filter(code=OuterRef("pk"))
        return super().get_queryset(request).annotate(used=Exists(used))

    @admin.display(boolean=True, description="In use", ordering="used")
    def in_use(self, code: AttendanceCode) -> bool:
        used = getattr(code, "used", None)  # annotated on every code the admin reads
        return code.records.exists() if used is None else used

    def get_readonly_fields(self, request: HttpRequest, obj: AttendanceCode | None = None) -> list[str]:
        return self.fixed_once_used if obj is not None and self.in_use(obj) else []

    def has_delete_permission(self, request: HttpRequest, obj: AttendanceCode | None = None) -> bool:
        if obj is not None and self.in_use(obj):
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: AttendanceCode) -> None:
        services.code_delete(code=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AttendanceCode]) -> None:
        refused = []
        for code in queryset:
            try:
                services.code_delete(code=code)
            except Conflict:
                refused.append(code.code)
        if refused:
            message = f"Not deleted, because marks use them: {', '.join(refused)}. Retire them instead."
            self.message_user(request, message, messages.ERROR)

    @admin.action(description="Retire the selected codes (they stay on old marks)")
    def retire(self, request: HttpRequest, queryset: QuerySet[AttendanceCode]) -> None:
        codes = [services.code_retire(code=code).code for code in queryset.filter(is_active=True)]
        self.message_user(request, f"Retired: {', '.join(codes) or 'none'}.", messages.SUCCESS)

    @admin.action(description="Reinstate the selected codes")
    def reinstate(self, request: HttpRequest, queryset: QuerySet[AttendanceCode]) -> None:
        count = queryset.update(is_active=True)
        self.message_user(request, f"Reinstated {count} codes.", messages.SUCCESS)


@admin.register(Term)
class TermAdmin(OfficeManaged):
    list_display = ["name", "starts_on", "ends_on"]
    search_fields = ["name"]
    date_hierarchy = "starts_on"


@admin.register(Closure)
class ClosureAdmin(OfficeManaged):
    list_display = ["reason", "starts_on", "ends_on"]
    search_fields = ["reason"]
    date_hierarchy = "starts_on"


@admin.register(Register)
class RegisterAdmin(ReadOnlyRegister):
    list_display = ["class_group", "date", "session", "taken_by", "submitted_at", "is_late"]
    list_filter = ["session", "is_late", "class_group__year_group", "class_group"]
    search_fields = ["class_group__name", "taken_by__first_name", "taken_by__last_name"]
    list_select_related = ["class_group", "taken_by"]
    date_hierarchy = "date"


@admin.register(AttendanceRecord)
class AttendanceRecordAdmin(ReadOnlyRegister):
    list_display = ["date", "session", "student", "code", "minutes_late", "source", "recorded_by", "version"]
    list_filter = ["session", "source", "code__category", "code", "student__class_group"]
    search_fields = ["student__roll_number", "student__first_name", "student__last_name"]
    list_select_related = ["student", "code", "recorded_by"]
    date_hierarchy = "date"


@admin.register(AttendanceChange)
class AttendanceChangeAdmin(ReadOnlyRegister):
    list_display = ["changed_at", "action", "student", "date", "session", "changes", "source", "changed_by"]
    list_filter = ["action", "source", "session"]
    search_fields = ["student__roll_number", "student__first_name", "student__last_name"]
    list_select_related = ["student", "changed_by"]
    date_hierarchy = "changed_at"


@admin.register(AbsenceReport)
class AbsenceReportAdmin(ReadOnlyRegister):
    list_display = ["student", "starts_on", "ends_on", "sessions", "reason", "status", "reported_by", "decided_by"]
    list_filter = ["status", "reason"]
    search_fields = ["student__roll_number", "student__first_name", "student__last_name"]
    list_select_related = ["student", "reported_by__user", "decided_by"]
    date_hierarchy = "starts_on"
