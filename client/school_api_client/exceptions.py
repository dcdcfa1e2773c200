"""The errors the library raises: one class for every failed call, whether the server answered or not."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

#: Answers after which trying the same request again can succeed.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


class SchoolAPIError(Exception):
    """A call to the API failed.

    Attributes:
        status_code: the HTTP status, or ``None`` when no answer arrived (network error, timeout).
        code: the machine-readable code of the error envelope (``"not_found"``, ``"precondition_failed"``,
            ``"rate_limited"``, ``"insufficient_scope"``, ``"validation_error"``...); for the OAuth token endpoint,
            the RFC 6749 error (``"invalid_grant"``, ``"invalid_client"``...).
        error: the short human title (``"Not found"``).
        details: the list of ``{"field", "message", "code"}`` the server gave; empty when it gave none.
        request_id: the server's request id: quote it when you ask the school for help.
        body: the decoded answer (a dict for JSON, else the text), or ``None``.
        response: the ``requests.Response``, or ``None``.
        retry_after: the seconds the server asked to wait (``Retry-After``), or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        error: str | None = None,
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        body: Any = None,
        response: requests.Response | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.error = error
        self.details = details if details is not None else []
        self.request_id = request_id
        self.body = body
        self.response = response
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Say whether the same request may succeed later: no answer at all, 429, 502, 503 or 504."""
        return self.status_code is None or self.status_code in RETRYABLE_STATUSES

    @classmethod
    def from_response(cls, response: requests.Response) -> SchoolAPIError:
        """Build the error from an error answer, reading Harmony's envelope or an OAuth error body."""
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:1000] if response.text else None
        code = error = request_id = None
        details: list[dict[str, Any]] = []
        description = ""
        if isinstance(body, dict):
            code = _text(body.get("code")) or _text(body.get("error"))
            error = _text(body.get("error"))
            request_id = _text(body.get("requestId"))
            description = _text(body.get("error_description")) or ""
            if isinstance(body.get("details"), list):
                details = [d if isinstance(d, dict) else {"field": None, "message": str(d)} for d in body["details"]]
        request_id = request_id or response.headers.get("X-Request-ID")
        title = error or response.reason or "Error"
        messages = [description] if description else [_describe(d) for d in details if d.get("message")]
        text = f"{response.status_code} {title}"
        if code and code != title:
            text += f" ({code})"
        if messages:
            text += ": " + "; ".join(dict.fromkeys(messages))  # drop repeats, keep order
        if request_id:
            text += f" [request id {request_id}]"
        return cls(
            text,
            status_code=response.status_code,
            code=code,
            error=error,
            details=details,
            request_id=request_id,
            body=body,
            response=response,
            retry_after=retry_after_seconds(response),
        )


class BatchSyncError(SchoolAPIError):
    """A batch of a `BatchProcessor` run failed; the batches before it were applied.

    Attributes, besides those of `SchoolAPIError` (copied from the failure):
        results: the summed results of the batches that succeeded.
        batch_start: the index, in the list you passed, of the failed batch's first record: resume from there.
        batch_size: how many records the failed batch held.
        idempotency_key: the key the failed batch was sent with; send the same batch again with this key and
            the server applies it at most once, even if the failure hid a success.
    """

    def __init__(
        self,
        cause: SchoolAPIError,
        *,
        results: dict[str, Any],
        batch_start: int,
        batch_size: int,
        idempotency_key: str,
    ) -> None:
        super().__init__(
            f"The batch starting at record {batch_start} failed: {cause.message}",
            status_code=cause.status_code,
            code=cause.code,
            error=cause.error,
            details=cause.details,
            request_id=cause.request_id,
            body=cause.body,
            response=cause.response,
            retry_after=cause.retry_after,
        )
        self.results = results
        self.batch_start = batch_start
        self.batch_size = batch_size
        self.idempotency_key = idempotency_key


def retry_after_seconds(response: requests.Response) -> float | None:
    """Read Retry-After: seconds, or an HTTP date; None when absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _describe(detail: dict[str, Any]) -> str:
    field = detail.get("field")
    return f"{field}: {detail['message']}" if field else str(detail["message"])
