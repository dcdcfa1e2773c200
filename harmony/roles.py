"""Staff roles. Each role is a Django group of the same name; `seed_roles` creates them."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", "Administrator"
    OFFICE = "office", "Office staff"
    TEACHER = "teacher", "Teacher"
    PRIVACY_OFFICER = "privacy_officer", "Privacy officer"


# Roles whose holders see and manage the whole school.
WHOLE_SCHOOL_ROLES = frozenset({Role.ADMINISTRATOR, Role.OFFICE})
STAFF_ROLES = frozenset(Role)
