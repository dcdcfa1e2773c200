"""The admin for notifications. Message texts are personal data: list pages show titles only, never bodies.

Messages, notifications and deliveries are records of what happened, so the admin shows them and may delete
them but never edits them. Whole-school staff (administrators, office) may view them and change the absence
alert settings, by role, as in the staff portal.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from harmony.roles import Role
from notifications import services
from notifications.forms import AbsenceAlertSettingsAdminForm
from notifications.models import AbsenceAlert, AbsenceAlertSettings, Delivery, Message, Notification, Preference


def _whole_school(request: HttpRequest) -> bool:
    user: Any = request.user
    return user.is_active and user.has_role(Role.ADMINISTRATOR, Role.OFFICE)


class RecordAdmin(admin.ModelAdmin):
    """A read-only record: viewable by whole-school staff, deletable with the Django permission."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _whole_school(request) or super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _whole_school(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    fields = ["channel", "status", "attempts", "sent_at", "next_attempt_at", "last_error"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _whole_school(request) or super().has_view_permission(request, obj)


@admin.register(Message)
class MessageAdmin(RecordAdmin):
    list_display = ["title", "type", "priority", "audience", "sender", "sender_app", "recipient_count", "created_at"]
    list_filter = ["type", "priority", "audience", "created_at"]
    search_fields = ["title", "sender__first_name", "sender__last_name", "sender__email", "sender_app__name"]
    list_select_related = ["sender", "sender_app"]
    date_hierarchy = "created_at"
    fields = [
        "title",
        "body",
        "type",
        "priority",
        "audience",
        "class_group",
        "year_group",
        "student",
        "sender",
        "sender_app",
        "recipient_count",
        "created_at",
    ]
    readonly_fields = ["created_at"]


@admin.register(Notification)
class NotificationAdmin(RecordAdmin):
    list_display = ["message_title", "recipient", "created_at", "read_at"]
    list_filter = [("read_at", admin.EmptyFieldListFilter), "message__type", "message__priority", "created_at"]
    search_fields = ["message__title", "recipient__first_name", "recipient__last_name", "recipient__email"]
    list_select_related = ["message", "recipient"]
    date_hierarchy = "created_at"
    fields = ["message", "recipient", "created_at", "read_at"]
    readonly_fields = ["created_at"]
    inlines = [DeliveryInline]

    @admin.display(description="Title", ordering="message__title")
    def message_title(self, notification: Notification) -> str:
        return notification.message.title


@admin.register(Delivery)
class DeliveryAdmin(RecordAdmin):
    # The last error stays off the list: a mail server's refusal often quotes the recipient's address.
    list_display = ["pk", "message_title", "recipient", "channel", "status", "attempts", "sent_at", "next_attempt_at"]
    list_filter = ["channel", "status"]
    search_fields = ["notification__recipient__email", "notification__message__title"]
    list_select_related = ["notification__message", "notification__recipient"]
    fields = ["notification", "channel", "status", "attempts", "sent_at", "next_attempt_at", "last_error"]

    @admin.display(description="Title", ordering="notification__message__title")
    def message_title(self, delivery: Delivery) -> str:
        return delivery.notification.message.title

    @admin.display(description="Recipient", ordering="notification__recipient__last_name")
    def recipient(self, delivery: Delivery) -> str:
        user = delivery.notification.recipient
        return user.get_full_name() or user.username


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "email_types"]
    search_fields = ["user__first_name", "user__last_name", "user__email"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]


@admin.register(AbsenceAlert)
class AbsenceAlertAdmin(RecordAdmin):
    list_display = ["student", "date", "message", "created_at"]
    list_filter = ["date"]
    search_fields = ["student__roll_number", "student__first_name", "student__last_name"]
    list_select_related = ["student", "message"]
    date_hierarchy = "date"
    fields = ["student", "date", "message", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(AbsenceAlertSettings)
class AbsenceAlertSettingsAdmin(admin.ModelAdmin):
    """One row: the list page opens it directly; it can be changed but neither added nor deleted."""

    form = AbsenceAlertSettingsAdminForm
    list_display = ["__str__", "title"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _whole_school(request) or super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _whole_school(request) or super().has_view_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _whole_school(request) or super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: AbsenceAlertSettings, form: Any, change: bool) -> None:
        services.absence_alert_settings_update(enabled=obj.enabled, title=obj.title, body=obj.body)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        settings_row = AbsenceAlertSettings.current()
        return HttpResponseRedirect(reverse("admin:notifications_absencealertsettings_change", args=[settings_row.pk]))
