"""A request id on every request, response and log line, and one log line per request with its duration."""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from harmony.logging import current_request_id

logger = logging.getLogger("harmony.requests")
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# The request being served, for code that records who made a change (see harmony.sync.changes.current_source).
current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("request", default=None)


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get("X-Request-ID", "")
        request_id = offered if VALID_REQUEST_ID.match(offered) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = current_request_id.set(request_id)
        request_token = current_request.set(request)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "durationMs": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            return response
        finally:
            current_request.reset(request_token)
            current_request_id.reset(token)
