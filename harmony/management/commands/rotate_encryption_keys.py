"""Re-encrypt every encrypted field under the newest key in FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from harmony.crypto import key_id_of, key_ring
from harmony.fields import EncryptedField


def encrypted_fields() -> list[tuple[Any, list[str]]]:
    found = []
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        if names:
            found.append((model, names))
    return found


def rotate(batch_size: int = 500) -> dict[str, int]:
    """Re-seal, batch by batch, each row holding a value sealed with an older key. Safe to run again."""
    primary = key_ring().primary_id
    counts: dict[str, int] = {}
    for model, names in encrypted_fields():
        stale = [
            pk for pk, *values in _stored_values(model, names) if any(v and key_id_of(v) != primary for v in values)
        ]
        for start in range(0, len(stale), batch_size):
            with transaction.atomic():
                for row in model.objects.select_for_update().filter(pk__in=stale[start : start + batch_size]):
                    row.save(update_fields=names)  # writing a value seals it again with the primary key
        counts[model._meta.label] = len(stale)
    return counts


def _stored_values(model: Any, names: list[str]) -> list[tuple[Any, ...]]:
    """Return (pk, *stored texts) as they are in the table, without decrypting them."""
    quote = connection.ops.quote_name
    columns = [model._meta.pk.column, *(model._meta.get_field(name).column for name in names)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(map(quote, columns))} FROM {quote(model._meta.db_table)}")
        return cursor.fetchall()


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields with the first key of FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        for label, count in rotate(options["batch_size"]).items():
            self.stdout.write(f"{label}: {count} rows re-encrypted under key {key_ring().primary_id}")
