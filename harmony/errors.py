"""Errors a service raises when a request cannot be carried out; the API turns each into its status code."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra
        if code:
            self.code = code


class Conflict(DomainError):
    """The request clashes with a record that exists (a duplicate natural key, for instance)."""

    status = 409
    code = "conflict"


class PreconditionFailed(DomainError):
    """The caller's copy is stale: its If-Match no longer names the current version."""

    status = 412
    code = "precondition_failed"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"
