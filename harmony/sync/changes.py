"""The change feed: every write to a synchronised record, numbered in the order the writes commit.

Services call `record_changes` inside the transaction that writes the records, after the writes. It takes the
next numbers from the one `ChangeCounter` row with an UPDATE, and so holds that row's lock until the
transaction commits or rolls back: a second writer waits there until the first has committed before it gets
the following numbers. Numbers therefore become visible in increasing order and without gaps (a rollback
returns its numbers), and a reader that sees change n sees every change before it. A cursor is the last
number a reader has seen, so a change committing late can never fall behind it: the trap of sequences and
timestamps, which are handed out before commit and become visible out of order. On SQLite, BEGIN IMMEDIATE
already makes writers take turns; the counter costs nothing more there.

The price is that writers of synchronised records take turns from the moment they record their changes until
they commit, which is why services record last. The feed keeps only each record's natural key: a reader gets
the record as it is now, and a deleted or erased record as a tombstone carrying only its key.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone

from harmony.middleware import current_request
from harmony.sync.bulk import insert_rows
from harmony.sync.models import Change, ChangeCounter

if TYPE_CHECKING:
    from harmony.models import Application

COUNTER = "changes"
CURSOR_PREFIX = "changes:"

_source: contextvars.ContextVar[tuple[str, Application | None] | None] = contextvars.ContextVar(
    "change_source", default=None
)


@dataclass(frozen=True)
class ChangeRef:
    """A record that was written: its id, the natural key partners know it by, and whether it is gone."""

    record_id: int
    key: dict[str, Any]
    deleted: bool = False


@contextmanager
def changes_by(source: str, application: Application | None = None) -> Iterator[None]:
    """Attribute the changes recorded inside the block to `source` (and `application`)."""
    token = _source.set((source, application))
    try:
        yield
    finally:
        _source.reset(token)


def current_source() -> tuple[str, Application | None]:
    """Return who is writing: the innermost `changes_by`, else what the current request is, else "system"."""
    if (explicit := _source.get()) is not None:
        return explicit
    request = current_request.get()
    if request is None:
        return "system", None
    path = request.path
    if path.startswith("/api/"):
        token = getattr(request, "auth", None)
        return "api", getattr(token, "application", None)
    for prefix, source in (("/admin/", "admin"), ("/staff/", "staff"), ("/family/", "family")):
        if path.startswith(prefix):
            return source, None
    return "system", None


def _take_numbers(count: int) -> int:
    """Reserve `count` change numbers and return the last; the counter row stays locked until commit."""
    table = connection.ops.quote_name(ChangeCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, value) VALUES (%s, %s) "
            f"ON CONFLICT (name) DO UPDATE SET value = {table}.value + excluded.value RETURNING value",
            [COUNTER, count],
        )
        return int(cursor.fetchone()[0])


def record_changes(
    entity: str, refs: Iterable[ChangeRef], *, source: str | None = None, application: Application | None = None
) -> None:
    """Add the written records to the change feed: one counter update and one insert, whatever their number.

    Call it inside the transaction that writes the records (a number taken outside one could commit late and be
    skipped), as its last step. `source` names who wrote (sync, api, admin...); without it, see `current_source`.
    """
    refs = list(refs)
    if not refs:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("record_changes runs inside the transaction that writes the records.")
    if source is None:
        source, application = current_source()
    last = _take_numbers(len(refs))
    changed_at = timezone.now()  # taken under the counter's lock, so it grows with the numbers
    first = last - len(refs) + 1
    application_id = application.pk if application is not None else None
    upsert, delete = Change.Operation.UPSERT, Change.Operation.DELETE
    insert_rows(
        Change,
        ["number", "entity", "record_id", "key", "operation", "source", "application", "changed_at"],
        [
            (
                first + offset,
                entity,
                ref.record_id,
                ref.key,
                delete if ref.deleted else upsert,
                source,
                application_id,
                changed_at,
            )
            for offset, ref in enumerate(refs)
        ],
    )


# Reading


def encode_cursor(number: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{number}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Return the change number a cursor stands for; ValueError for anything that is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("not a cursor") from None
    if not text.startswith(CURSOR_PREFIX) or not text[len(CURSOR_PREFIX) :].isdigit():
        raise ValueError("not a cursor")
    return int(text[len(CURSOR_PREFIX) :])


@dataclass(frozen=True)
class FeedRow:
    number: int
    record_id: int
    key: dict[str, Any]
    operation: str
    changed_at: Any

    @property
    def deleted(self) -> bool:
        return self.operation == Change.Operation.DELETE


@dataclass(frozen=True)
class FeedPage:
    rows: list[FeedRow]  # the latest change of each record in the page, in change order
    last_number: int  # the position after this page: the next cursor
    has_more: bool


def changes_after(entity: str, number: int, limit: int) -> FeedPage:
    """Return the next `limit` changes of `entity` after change `number`, in one query.

    A record changed more than once within the page appears once, at its last change: the feed gives each
    record as it is now, so the earlier entries would repeat it.
    """
    found = list(
        Change.objects.filter(entity=entity, number__gt=number)
        .order_by("number")
        .values_list("number", "record_id", "key", "operation", "changed_at")[: limit + 1]
    )
    has_more = len(found) > limit
    rows = [FeedRow(*values) for values in found[:limit]]
    latest = {row.record_id: row for row in rows}
    return FeedPage(
        rows=sorted(latest.values(), key=lambda row: row.number),
        last_number=rows[-1].number if rows else number,
        has_more=has_more,
    )


def feed_head(entity: str) -> dict[str, int]:
    """Return the last change number of `entity` (0 before any) and how many changes it has had."""
    head = Change.objects.filter(entity=entity).aggregate(last=Max("number"), total=Count("number"))
    return {"number": head["last"] or 0, "changes": head["total"]}


def changed_since(entity: str, record_ids: Iterable[int], since: Any, *, except_sync_by: Any) -> set[int]:
    """Return the records among `record_ids` that someone changed after `since`, other than `except_sync_by`'s
    own synchronisations (a partner's earlier batch is not a conflict with its next one)."""
    ids = list(record_ids)
    if not ids or since is None:
        return set()
    changed = (
        Change.objects.filter(entity=entity, record_id__any_of=ids, changed_at__gt=since)
        .exclude(source="sync", application=except_sync_by)
        .values_list("record_id", flat=True)
        .distinct()
    )
    return set(changed)
