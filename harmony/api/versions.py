"""Optimistic concurrency: records carry an ETag `"<id>-<version>"`; `If-Match` names the version a write expects."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from harmony.errors import PreconditionFailed


def expected_version(request: Request, record: Any, noun: str = "record") -> int | None:
    """Read If-Match: None when absent or `*`; the version it names; 412 when it names another record."""
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return None
    record_id, _, version = header.removeprefix("W/").strip('"').partition("-")
    if record_id != str(record.pk) or not version.isdigit():
        raise PreconditionFailed(f"If-Match {header} does not name a version of {noun} {record.pk}.")
    return int(version)


def with_etag(response: Response, record: Any) -> Response:
    response["ETag"] = record.etag
    return response
