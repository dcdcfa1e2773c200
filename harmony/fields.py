"""Model fields whose values are encrypted at rest (see `harmony.crypto`)."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.dateparse import parse_date

from harmony.crypto import key_ring


class EncryptedField(models.TextField):
    """Store a value sealed with AES-256-GCM; read it back as plain Python.

    The ciphertext is bound to its model and field (as GCM associated data), so a value copied into another
    column does not decrypt. Encrypted columns cannot be filtered or ordered by; use a blind index for exact
    matches. Subclasses convert between the Python value and the text that gets sealed.
    """

    def to_text(self, value: Any) -> str:
        return str(value)

    def from_text(self, text: str) -> Any:
        return text

    @property
    def encryption_context(self) -> str:
        return f"{self.model._meta.label_lower}.{self.name}"

    def get_prep_value(self, value: Any) -> Any:
        value = self.to_python(value)
        if value is None or value == "":
            return value
        return key_ring().encrypt(self.to_text(value), context=self.encryption_context)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return self.from_text(key_ring().decrypt(value, context=self.encryption_context))

    def get_internal_type(self) -> str:
        return "TextField"


class EncryptedTextField(EncryptedField):
    def to_python(self, value: Any) -> Any:
        return value if value is None else str(value)


class EncryptedDateField(EncryptedField):
    def to_text(self, value: datetime.date) -> str:
        return value.isoformat()

    def from_text(self, text: str) -> datetime.date:
        return datetime.date.fromisoformat(text)

    def to_python(self, value: Any) -> datetime.date | None:
        if value is None or value == "":
            return None
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        parsed = parse_date(str(value))
        if parsed is None:
            raise ValidationError("Enter a valid date (YYYY-MM-DD).", code="invalid")
        return parsed

    def formfield(self, **kwargs: Any) -> Any:
        from django import forms

        return super(models.TextField, self).formfield(form_class=forms.DateField, **kwargs)
