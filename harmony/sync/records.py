"""Reading one record of a batch: small, fast field readers that fail with the field and a reason.

A batch holds up to thousands of records, so each is read by plain functions rather than a serializer per
record (DRF's costs tens of microseconds a record, and its relation fields a query each); the messages are the
ones the rest of the API gives for the same mistakes. Each `*_reader` returns a function `(value, field)`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, validate_email
from django.utils.dateparse import parse_date

Reader = Callable[[Any, str], Any]


class RecordError(Exception):
    """A record that cannot be applied: which field (None for the whole record) and why."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def check_fields(record: Any, accepted: frozenset[str]) -> Mapping[str, Any]:
    """Return the record if it is an object whose fields are all `accepted`."""
    if not isinstance(record, Mapping):
        raise RecordError(None, "Each record must be a JSON object.")
    if unknown := record.keys() - accepted:
        raise RecordError(sorted(unknown)[0], "This field is not known.")
    return record


def required(record: Mapping[str, Any], field: str) -> Any:
    if field not in record:
        raise RecordError(field, "This field is required.")
    return record[field]


def text_reader(max_length: int, *, allow_blank: bool = True) -> Reader:
    too_long = f"Ensure this field has no more than {max_length} characters."

    def read(value: Any, field: str) -> str:
        if value.__class__ is not str:
            raise RecordError(field, "This field may not be null." if value is None else "Not a valid string.")
        value = value.strip()
        if len(value) > max_length:
            raise RecordError(field, too_long)
        if not value and not allow_blank:
            raise RecordError(field, "This field may not be blank.")
        return value

    return read


def date_reader(*, allow_null: bool = True) -> Reader:
    def read(value: Any, field: str) -> datetime.date | None:
        if value is None:
            if allow_null:
                return None
            raise RecordError(field, "This field may not be null.")
        try:
            parsed = parse_date(value) if value.__class__ is str else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise RecordError(field, "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.")
        return parsed

    return read


def integer_reader(*, allow_null: bool = True, min_value: int | None = None, max_value: int | None = None) -> Reader:
    def read(value: Any, field: str) -> int | None:
        if value is None:
            if allow_null:
                return None
            raise RecordError(field, "This field may not be null.")
        if value.__class__ is not int:
            raise RecordError(field, "A valid integer is required.")
        if min_value is not None and value < min_value:
            raise RecordError(field, f"Ensure this value is greater than or equal to {min_value}.")
        if max_value is not None and value > max_value:
            raise RecordError(field, f"Ensure this value is less than or equal to {max_value}.")
        return value

    return read


def choice_reader(choices: Collection[str], *, allow_blank: bool = False) -> Reader:
    accepted = frozenset(choices) | ({""} if allow_blank else set())

    def read(value: Any, field: str) -> str:
        if value.__class__ is not str or value not in accepted:
            raise RecordError(field, f'"{value}" is not a valid choice.')
        return value

    return read


# Django's own e-mail patterns, compiled once: its validator reaches them through a lazy object on every call.
_EMAIL_USER = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
_EMAIL_DOMAIN = re.compile(EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags)


def email_reader(max_length: int) -> Reader:
    as_text = text_reader(max_length)

    def read(value: Any, field: str) -> str:
        value = as_text(value, field)
        if value:
            user, _, domain = value.rpartition("@")
            if not (user and _EMAIL_USER.match(user) and _EMAIL_DOMAIN.match(domain)):
                try:  # the rarer forms (an address literal, localhost) get Django's whole verdict
                    validate_email(value)
                except ValidationError:
                    raise RecordError(field, "Enter a valid email address.") from None
        return value

    return read


def error(index: int, failure: RecordError) -> dict[str, Any]:
    return {"index": index, "status": "error", "field": failure.field, "reason": failure.reason}
