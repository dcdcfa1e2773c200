from __future__ import annotations

from django.contrib import admin

from harmony.sync.changes import changes_by
from students import services
from students.models import ClassGroup, Guardian, Guardianship, Student


class GuardianshipInline(admin.TabularInline):
    model = Guardianship
    extra = 0
    autocomplete_fields = ["guardian", "student"]


@admin.register(ClassGroup)
class ClassGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "year_group", "form_tutor"]
    list_filter = ["year_group"]
    search_fields = ["name"]
    filter_horizontal = ["teachers"]
    autocomplete_fields = ["form_tutor"]


@admin.register(Student)
class StudentAdmin(admin.ModelAdmin):
    # Encrypted fields (date of birth, address, notes) stay off list pages: they show only on a student's page.
    list_display = ["roll_number", "last_name", "first_name", "class_group", "status", "updated_at"]
    list_filter = ["status", "class_group__year_group", "class_group", "gender"]
    search_fields = ["roll_number", "first_name", "last_name", "email"]
    list_select_related = ["class_group"]
    readonly_fields = ["version", "created_at", "updated_at", "deleted_at"]
    inlines = [GuardianshipInline]
    fieldsets = [
        (None, {"fields": ["roll_number", "first_name", "last_name", "email", "gender", "class_group", "status"]}),
        ("Dates", {"fields": ["date_of_birth", "enrolled_on", "left_on"]}),
        ("Sensitive", {"fields": ["address", "medical_notes", "support_notes"], "classes": ["collapse"]}),
        ("Record", {"fields": ["version", "created_at", "updated_at", "deleted_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        # The roll number is the partners' key for a student: it never changes once set.
        return [*self.readonly_fields, "roll_number"] if obj else self.readonly_fields

    # Saves and deletions go through the services, like every other write: the version moves on, partners see
    # the change in the sync feed, and a deletion leaves a tombstone (registers kept by law stay).
    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        with changes_by("admin"):
            if change:
                data = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
                saved = services.student_update(student=obj, data=data)
            else:
                saved = services.student_create(data=dict(form.cleaned_data))
        for name in ("pk", "version", "created_at", "updated_at"):
            setattr(obj, name, getattr(saved, name))
        obj._state.adding, obj._state.db = False, saved._state.db

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        if obj.deleted_at is None:
            with changes_by("admin"):
                services.student_delete(student=obj)

    def delete_queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        with changes_by("admin"):
            for student in queryset.filter(deleted_at__isnull=True):
                services.student_delete(student=student)

    def get_deleted_objects(self, objs, request):  # type: ignore[no-untyped-def]
        # Deleting makes tombstones: guardianships go, attendance and the rest of the record stay.
        students = [str(student) for student in objs]
        return students, {Student._meta.verbose_name_plural: len(students)}, set(), []


@admin.register(Guardian)
class GuardianAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user_email", "created_at"]
    search_fields = ["user__first_name", "user__last_name", "user__email", "user__username"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    inlines = [GuardianshipInline]

    @admin.display(description="E-mail", ordering="user__email")
    def user_email(self, guardian: Guardian) -> str:
        return guardian.user.email


@admin.register(Guardianship)
class GuardianshipAdmin(admin.ModelAdmin):
    list_display = ["guardian", "student", "relationship", "parental_responsibility", "primary_contact"]
    list_filter = ["relationship", "parental_responsibility", "primary_contact"]
    search_fields = ["student__roll_number", "student__last_name", "guardian__user__last_name"]
    list_select_related = ["guardian__user", "student"]
    autocomplete_fields = ["guardian", "student"]
