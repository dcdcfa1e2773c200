"""Large syncs in batches: split the records, send each batch with its own Idempotency-Key, add up the results."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from itertools import islice
from typing import Any, Protocol

from school_api_client.client import new_idempotency_key
from school_api_client.exceptions import BatchSyncError, SchoolAPIError

#: The counters of a result, and the per-record status each one counts.
COUNTERS = {"created": "created", "updated": "updated", "unchanged": "unchanged", "conflicts": "conflict"}


class SyncClient(Protocol):
    """What a `BatchProcessor` needs of its client: the sync methods of `SchoolAPIClient`."""

    def sync_students(
        self,
        students: Iterable[Mapping[str, Any]],
        last_sync_timestamp: str | datetime | None = None,
        on_conflict: str | None = None,
        idempotency_key: str | None = None,
    ) -> Mapping[str, Any]: ...

    def sync_attendance(
        self,
        records: Iterable[Mapping[str, Any]],
        last_sync_timestamp: str | datetime | None = None,
        on_conflict: str | None = None,
        idempotency_key: str | None = None,
    ) -> Mapping[str, Any]: ...


def empty_results() -> dict[str, Any]:
    """Return the results of a sync that has sent nothing yet."""
    return {
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "conflicts": 0,
        "errors": [],
        "conflicted": [],
        "results": [],
        "batches": 0,
    }


class BatchProcessor:
    """Sync any number of records through `sync_students` / `sync_attendance`, `batch_size` at a time.

    The results add up every batch's answer::

        {"created": 40, "updated": 7, "unchanged": 2, "conflicts": 1,
         "errors": [{"index": 12, "status": "error", "field": "dateOfBirth", "reason": "..."}],
         "conflicted": [{"index": 30, "status": "conflict", "id": 981, "reason": "..."}],
         "results": [...every record's result...], "batches": 2}

    Every ``index`` is the record's position in the list you passed, not in its batch. Each batch is sent with
    a new Idempotency-Key, so the client's own retries of a batch never apply it twice. Records may come from
    any iterable (a generator reading a file, for instance); only one batch is held at a time.

    When a batch fails as a whole (no answer after the retries, 401, 403, 413...), the batches before it stay
    applied and `BatchSyncError` is raised, carrying their results, the failed batch's `batch_start` (resume
    from there) and its `idempotency_key`.
    """

    def __init__(self, client: SyncClient, batch_size: int = 50) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.client = client
        self.batch_size = batch_size

    def process_students_batch(
        self,
        students: Iterable[Mapping[str, Any]],
        last_sync_timestamp: str | datetime | None = None,
        on_conflict: str | None = None,
    ) -> dict[str, Any]:
        """Sync `students` in batches and return the summed results (see the class)."""
        return self._process(self.client.sync_students, students, last_sync_timestamp, on_conflict)

    def process_attendance_batch(
        self,
        records: Iterable[Mapping[str, Any]],
        last_sync_timestamp: str | datetime | None = None,
        on_conflict: str | None = None,
    ) -> dict[str, Any]:
        """Sync attendance `records` in batches and return the summed results (see the class)."""
        return self._process(self.client.sync_attendance, records, last_sync_timestamp, on_conflict)

    def _process(
        self,
        sync: Callable[..., Mapping[str, Any]],
        records: Iterable[Mapping[str, Any]],
        last_sync_timestamp: str | datetime | None,
        on_conflict: str | None,
    ) -> dict[str, Any]:
        results = empty_results()
        remaining = iter(records)
        start = 0
        while batch := list(islice(remaining, self.batch_size)):
            key = new_idempotency_key()
            try:
                answer = sync(
                    batch, last_sync_timestamp=last_sync_timestamp, on_conflict=on_conflict, idempotency_key=key
                )
                _add_batch(results, answer, start=start, size=len(batch))
            except SchoolAPIError as error:
                raise BatchSyncError(
                    error, results=results, batch_start=start, batch_size=len(batch), idempotency_key=key
                ) from error
            results["batches"] += 1
            start += len(batch)
        return results


def _add_batch(results: dict[str, Any], answer: Mapping[str, Any], *, start: int, size: int) -> None:
    """Add one batch's answer to `results`, moving each record's index from the batch to the whole list."""
    data = answer.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("results", []), list):
        raise SchoolAPIError("The sync answer has no data.results list.", body=dict(answer))
    entries = []
    for position, item in enumerate(data.get("results", [])):
        index = item.get("index", position)
        if not isinstance(index, int) or not 0 <= index < size:
            raise SchoolAPIError(f"The sync answer names record {index!r} of a batch of {size}.", body=dict(answer))
        entries.append({**item, "index": start + index})
    # Validate the whole answer before adding any of it, so a bad answer leaves the results untouched.
    statuses = Counter(entry.get("status") for entry in entries)
    totals = data.get("totals")
    for counter, status in COUNTERS.items():
        told = totals.get(counter) if isinstance(totals, Mapping) else None
        results[counter] += told if isinstance(told, int) else statuses[status]
    results["results"].extend(entries)
    results["errors"].extend(entry for entry in entries if entry.get("status") == "error")
    results["conflicted"].extend(entry for entry in entries if entry.get("status") == "conflict")
