"""Who is calling, and whether their token carries the scope the request needs.

A view names its scopes as `read_scope` (safe methods) and `write_scope` (the rest). A partner system's
token (client credentials) acts as its application; a token issued for a user acts as that user, limited
to the token's scopes.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from harmony.api.errors import InsufficientScope
from harmony.models import Application, User


def api_actor(request: Request) -> User | Application | None:
    """Return the user a token acts for, or the partner application when it acts for itself."""
    token = getattr(request, "auth", None)
    if token is None:
        return None
    if token.user_id is not None:
        return token.user
    return token.application


def api_person(request: Request, refusal: str) -> User:
    """Return the user a token acts for; a partner's own token is refused with `refusal` (403)."""
    actor = api_actor(request)
    if actor is None or isinstance(actor, Application):
        raise exceptions.PermissionDenied(refusal)
    return actor


def scopes_for(view: Any, method: str) -> list[str]:
    scope = getattr(view, "read_scope" if method in SAFE_METHODS else "write_scope", None)
    extra = getattr(view, "extra_scopes", ())
    return [s for s in (scope, *extra) if s]


class HasRequiredScope(BasePermission):
    """Require a valid OAuth2 token that holds the view's scope for this method."""

    def has_permission(self, request: Request, view: Any) -> bool:
        token = getattr(request, "auth", None)
        if token is None:
            raise exceptions.NotAuthenticated()
        if token.user_id is not None and not token.user.is_active:
            raise exceptions.AuthenticationFailed("The account behind this token is disabled.")
        required = scopes_for(view, request.method or "GET")
        if required and not token.allow_scopes(required):
            raise InsufficientScope(f"This request needs the scope: {' '.join(required)}.")
        return True


class CanManageSchoolRecords(BasePermission):
    """Writes by a user token need a whole-school role; partner applications are bound by scope alone."""

    message = "Only administrators and office staff may change these records."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        actor = api_actor(request)
        return isinstance(actor, Application) or bool(actor and actor.sees_whole_school)
