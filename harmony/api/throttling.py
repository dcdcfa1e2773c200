"""The API's per-client rate limit, counted by django-ratelimit in the shared cache."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from harmony.ratelimits import retry_after


def client_key(request: Request) -> str:
    token = getattr(request, "auth", None)
    if token is not None:
        return f"client:{token.application.client_id}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


class ClientRateThrottle(BaseThrottle):
    """Allow each partner client API_RATE_LIMIT requests per window; the 429 carries Retry-After."""

    group = "api"

    def allow_request(self, request: Request, view: Any) -> bool:
        rate = settings.API_RATE_LIMIT
        usage = get_usage(request, group=self.group, key=lambda _g, req: client_key(req), rate=rate, increment=True)
        if usage is None or not usage["should_limit"]:
            return True
        self._wait = retry_after(usage, rate)
        return False

    def wait(self) -> float:
        return float(getattr(self, "_wait", 60))
