"""Access rules for server-rendered pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from harmony.roles import Role


def staff_required(*roles: Role) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Require a signed-in member of staff, holding one of `roles` when any are named.

    Anyone not signed in goes to the staff sign-in page; a signed-in user without the role gets 403.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("staff-login"))
            if not user.is_school_staff or (roles and not user.has_role(*roles)):
                raise PermissionDenied("This page is for school staff.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
