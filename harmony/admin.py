from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from oauth2_provider.admin import ApplicationAdmin

from harmony.models import Application, User

admin.site.site_header = "Harmony administration"
admin.site.site_title = "Harmony"


@admin.register(User)
class HarmonyUserAdmin(UserAdmin):
    list_display = ["username", "first_name", "last_name", "email", "is_staff", "is_active", "role_names"]
    list_filter = ["groups", "is_staff", "is_superuser", "is_active"]

    @admin.display(description="Roles")
    def role_names(self, user: User) -> str:
        return ", ".join(group.name for group in user.groups.all())

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).prefetch_related("groups")


if admin.site.is_registered(Application):
    admin.site.unregister(Application)


@admin.register(Application)
class PartnerApplicationAdmin(ApplicationAdmin):
    list_display = ["name", "client_id", "authorization_grant_type", "allowed_scopes", "created"]
    list_filter = ["authorization_grant_type", "client_type"]
    search_fields = ["name", "client_id"]
