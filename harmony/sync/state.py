"""Each partner application's last push and pull per entity, for /api/sync/status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from harmony.sync.models import SyncState

PUSH_FIELDS = ["last_push_at", "last_push_outcome", "last_push_totals"]
PULL_FIELDS = ["last_pull_at", "last_pull_number", "last_pull_count", "last_pull_caught_up"]


def _save(state: SyncState, fields: list[str]) -> None:
    # One statement, whether or not the row exists yet; it leaves the other direction's fields alone.
    SyncState.objects.bulk_create(
        [state], update_conflicts=True, unique_fields=["application", "entity"], update_fields=fields
    )


def push_recorded(*, application: Any, entity: str, at: datetime, outcome: str, totals: dict[str, int]) -> None:
    """Record a push; one that was applied (even in part) moves lastSync to the time it began."""
    state = SyncState(application=application, entity=entity, last_push_at=at, last_push_outcome=outcome)
    state.last_push_totals = totals
    fields = list(PUSH_FIELDS)
    if outcome != "failed":
        state.last_synced_at = at
        fields.append("last_synced_at")
    _save(state, fields)


def pull_recorded(*, application: Any, entity: str, at: datetime, number: int, count: int, caught_up: bool) -> None:
    state = SyncState(
        application=application,
        entity=entity,
        last_pull_at=at,
        last_pull_number=number,
        last_pull_count=count,
        last_pull_caught_up=caught_up,
    )
    _save(state, PULL_FIELDS)


def states_of(application: Any) -> dict[str, SyncState]:
    return {state.entity: state for state in SyncState.objects.filter(application=application)}
