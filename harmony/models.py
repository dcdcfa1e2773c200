"""The user account and the OAuth2 application: shared by every domain app."""

from __future__ import annotations

from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models
from oauth2_provider.models import AbstractApplication

from harmony.roles import STAFF_ROLES, WHOLE_SCHOOL_ROLES, Role


class User(AbstractUser):
    """A person who signs in: a member of staff or a guardian. Staff roles are Django groups."""

    email = models.EmailField("e-mail address", blank=True, db_index=True)

    class Meta:
        db_table = "harmony_user"
        ordering = ["last_name", "first_name", "id"]

    @cached_property
    def roles(self) -> frozenset[str]:
        if not self.is_active:
            return frozenset()
        names = frozenset(self.groups.values_list("name", flat=True))
        return frozenset(Role(name) for name in names if name in Role.values)

    def has_role(self, *roles: Role) -> bool:
        return self.is_superuser or bool(self.roles & set(roles))

    @property
    def sees_whole_school(self) -> bool:
        return self.is_superuser or bool(self.roles & WHOLE_SCHOOL_ROLES)

    @property
    def is_school_staff(self) -> bool:
        return self.is_superuser or bool(self.roles & STAFF_ROLES)


class Application(AbstractApplication):
    """A partner system registered by the school, with the scopes the school granted it."""

    allowed_scopes = models.CharField(
        max_length=500,
        blank=True,
        help_text="Space-separated scopes the school granted. The application can never obtain any other.",
    )
    description = models.TextField(blank=True)

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        db_table = "harmony_application"

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.allowed_scopes.split())


# The synchronisation plumbing's models (change feed, retried requests, sync state) live beside it.
from harmony.sync.models import Change, ChangeCounter, IdempotentRequest, SyncState  # noqa: E402

__all__ = ["Application", "Change", "ChangeCounter", "IdempotentRequest", "SyncState", "User"]
