"""Failed sign-in limits, per IP address and per username, shared by the sign-in pages and the token endpoint.

Only failures count, so a partner that fetches a token every few minutes is never locked out, while five
wrong passwords (SIGN_IN_RATE_LIMIT, default 5 in 15 minutes) lock the address and the account name until
the window ends.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import _split_rate, get_usage

GROUP = "sign-in"


def retry_after(usage: dict[str, Any], rate: str) -> int:
    """Seconds until the window of `usage` has ended (the whole period when the cache could not tell).

    django-ratelimit counts in a window until the clock's whole seconds pass its end, and reports the
    `time_left` in whole seconds; waiting one second more than that is what lets the caller through.
    """
    time_left = usage.get("time_left", -1)
    return int(time_left) + 1 if time_left is not None and time_left >= 0 else _split_rate(rate)[1]


def _usages(request: HttpRequest, username: str, *, increment: bool) -> list[dict[str, Any]]:
    rate = settings.SIGN_IN_RATE_LIMIT
    keys = [f"ip:{request.META.get('REMOTE_ADDR', '')}"]
    if username:
        keys.append(f"user:{username.strip().casefold()}")
    usages = []
    for value in keys:
        usage = get_usage(request, group=GROUP, key=lambda _g, _r, v=value: v, rate=rate, increment=increment)
        if usage is not None:
            usages.append(usage)
    return usages


def sign_in_wait(request: HttpRequest, username: str = "") -> int | None:
    """Return how many seconds the caller must wait before trying again, or None when it may try now."""
    rate = settings.SIGN_IN_RATE_LIMIT
    limit = _split_rate(rate)[0]
    waits = [retry_after(u, rate) for u in _usages(request, username, increment=False) if u["count"] >= limit]
    return max(waits) if waits else None


def record_failed_sign_in(request: HttpRequest, username: str = "") -> None:
    _usages(request, username, increment=True)
