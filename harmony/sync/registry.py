"""The synchronised entities. Each domain app registers its own from its AppConfig.ready(), so that the
plumbing here (push, feed, status) never imports a domain app.

An entity says how to apply a batch of records (`push`), how to show records to a reader (`render`, which
also applies visibility, purpose limitation and the disclosure log), and how many records a reader may see
(`count`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class OnConflict:
    """What a push does with a record someone else changed after the caller's lastSyncTimestamp."""

    REJECT = "reject"  # report it with the server's values; change nothing (the default)
    SERVER_WINS = "server_wins"  # keep the server's version; report it the same way
    CLIENT_WINS = "client_wins"  # apply the caller's version
    CHOICES = (REJECT, SERVER_WINS, CLIENT_WINS)


@dataclass(frozen=True)
class PushRequest:
    records: list[Any]
    actor: Any  # the application, or the user its token acts for
    application: Any
    last_sync: datetime | None
    on_conflict: str


@dataclass
class PushResult:
    """One result per record, by index: {"index", "status", "id"?, "field"?, "reason"?, "server"?}.

    `subjects` names the students whose data the results carry (the server's values in a conflict).
    """

    results: list[dict[str, Any]]
    subjects: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class SyncEntity:
    name: str  # in paths (/api/sync/<name>) and in the feed (?entity=<name>)
    records_field: str  # the body's list of records: "students", "attendanceRecords"
    read_scope: str
    write_scope: str
    key_fields: tuple[str, ...]  # the natural key, as the API names its fields
    push: Callable[[PushRequest], PushResult]
    render: Callable[[Any, Any, list[int]], dict[int, dict[str, Any]]]  # (request, actor, ids) -> visible, by id
    disclose: Callable[[Any, list[dict[str, Any]]], list[dict[str, Any]]]  # (request, rows) -> rows as sent
    count: Callable[[Any], int]  # (actor) -> records the actor may see
    record_serializer: Any = None  # documents one record in the OpenAPI schema


_entities: dict[str, SyncEntity] = {}


def register(entity: SyncEntity) -> None:
    _entities[entity.name] = entity


def get(name: str) -> SyncEntity | None:
    return _entities.get(name)


def entities() -> list[SyncEntity]:
    return list(_entities.values())
