"""One error shape for the whole API, and the domain errors services raise.

Every error answers `{"success": false, "error": title, "code": code, "details": [...], "requestId": id}`.
Services raise Django's `ValidationError` / `PermissionDenied` / `ObjectDoesNotExist` or a `DomainError`;
this module turns each into the documented status, so no view translates errors by hand.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions
from rest_framework.response import Response

from harmony.errors import DomainError

logger = logging.getLogger("harmony.api")


class InsufficientScope(exceptions.PermissionDenied):
    default_detail = "The token lacks the scope this request needs."
    default_code = "insufficient_scope"


class RateLimited(exceptions.Throttled):
    default_code = "rate_limited"


TITLES = {
    400: "Validation error",
    401: "Authentication required",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    429: "Too many requests",
    500: "Internal server error",
}

CODES = {
    400: "validation_error",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
}


def error_body(
    status_code: int,
    *,
    request: Any = None,
    code: str | None = None,
    details: list[Any] | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    return {
        "success": False,
        "error": title or TITLES.get(status_code, "Error"),
        "code": code or CODES.get(status_code, "error"),
        "details": details or [],
        "requestId": getattr(request, "request_id", None),
    }


def flatten_details(detail: Any, field: str | None = None) -> list[dict[str, Any]]:
    """Turn DRF's nested error detail into a flat list of {field, message, code}."""
    if isinstance(detail, dict):
        items: list[dict[str, Any]] = []
        for key, value in detail.items():
            if isinstance(key, int):  # a list serializer's errors, keyed by the index of each bad item
                items.extend(flatten_details(value, f"{field or ''}[{key}]"))
                continue
            name = None if key in ("non_field_errors", "__all__") else key
            path = ".".join(part for part in (field, str(name) if name is not None else None) if part) or None
            items.extend(flatten_details(value, path))
        return items
    if isinstance(detail, list):
        items = []
        for index, value in enumerate(detail):
            nested = isinstance(value, (dict, list))
            path = f"{field}[{index}]" if nested and field else (str(index) if nested else field)
            items.extend(flatten_details(value, path))
        return items
    return [{"field": field, "message": str(detail), "code": getattr(detail, "code", None) or "invalid"}]


def _as_drf_exception(exc: Exception) -> Exception:
    if isinstance(exc, Ratelimited):
        return RateLimited(wait=getattr(exc, "wait", None))
    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return exceptions.ValidationError(detail)
    return exc


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    if isinstance(exc, DomainError):
        details = [{"field": exc.field, "message": exc.message, "code": exc.code}]
        body = error_body(exc.status, request=request, code=exc.code, details=details)
        body.update(exc.extra)
        return Response(body, status=exc.status)
    from rest_framework.views import exception_handler  # DRF's views import this module's neighbours

    exc = _as_drf_exception(exc)
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in the API", exc_info=exc)
        return Response(error_body(500, request=request), status=500)

    status_code = response.status_code
    if isinstance(exc, exceptions.ValidationError):
        details = flatten_details(exc.detail)
        code = CODES[400]
    else:
        detail = getattr(exc, "detail", "")
        details = [{"field": None, "message": str(detail), "code": getattr(detail, "code", None)}]
        code = exc.default_code if isinstance(exc, (InsufficientScope, RateLimited)) else None
        if isinstance(exc, exceptions.AuthenticationFailed):
            code = "authentication_failed"
    response.data = error_body(status_code, request=request, code=code, details=details)
    return response
