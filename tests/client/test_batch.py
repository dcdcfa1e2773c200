"""BatchProcessor: splitting, summing and index mapping, against a stand-in for the client's sync methods.

The sync endpoints are not on the server yet; the stand-in answers in the shape they are designed to have:
{"success": true, "data": {"results": [{"index", "status", ...}], "totals": {...}}}.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pytest

from school_api_client import BatchProcessor, BatchSyncError, SchoolAPIError

TOTALS = {"created": "created", "updated": "updated", "unchanged": "unchanged", "conflicts": "conflict"}


class StandInSync:
    """Answers each batch as the server will: every record's status is the record's own `outcome` field."""

    def __init__(self, *, fail_on_call: int | None = None, with_totals: bool = True) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_on_call = fail_on_call
        self.with_totals = with_totals

    def sync_students(self, students: Iterable[Mapping[str, Any]], **options: Any) -> dict[str, Any]:
        return self._answer("students", list(students), options)

    def sync_attendance(self, records: Iterable[Mapping[str, Any]], **options: Any) -> dict[str, Any]:
        return self._answer("attendance", list(records), options)

    def _answer(self, kind: str, batch: list[Mapping[str, Any]], options: dict[str, Any]) -> dict[str, Any]:
        self.calls.append({"kind": kind, "batch": batch, **options})
        if len(self.calls) == self.fail_on_call:
            raise SchoolAPIError("413 Payload too large", status_code=413, code="payload_too_large")
        results = []
        for index, record in enumerate(batch):
            result: dict[str, Any] = {"index": index, "status": record["outcome"]}
            if record["outcome"] in ("error", "conflict"):
                result.update(field="dateOfBirth", reason=f"bad {record['name']}")
            else:
                result["id"] = 1000 + len(self.calls) * 100 + index
            results.append(result)
        data: dict[str, Any] = {"results": results}
        if self.with_totals:
            counted = Counter(r["status"] for r in results)
            data["totals"] = {name: counted[status] for name, status in TOTALS.items()} | {"errors": counted["error"]}
        return {"success": True, "data": data}


def records(*outcomes: str) -> list[dict[str, Any]]:
    return [{"name": f"record {n}", "outcome": outcome} for n, outcome in enumerate(outcomes)]


def test_the_guides_batch_snippet_works_as_written():
    batch_processor = BatchProcessor(StandInSync(), batch_size=25)
    results = batch_processor.process_students_batch(records(*["created"] * 30, "updated", "error"))
    assert (results["created"], results["updated"], len(results["errors"])) == (30, 1, 1)


def test_it_splits_into_batches_and_sums_their_results():
    sync = StandInSync()
    students = records("created", "updated", "unchanged", "conflict", "created", "error", "updated")

    results = BatchProcessor(sync, batch_size=3).process_students_batch(students)

    assert [len(call["batch"]) for call in sync.calls] == [3, 3, 1]
    assert [record for call in sync.calls for record in call["batch"]] == students
    assert (results["created"], results["updated"], results["unchanged"], results["conflicts"]) == (2, 2, 1, 1)
    assert results["batches"] == 3


def test_errors_and_conflicts_carry_the_index_in_the_original_list():
    students = records("created", "created", "created", "created", "error", "conflict", "created", "error")

    results = BatchProcessor(StandInSync(), batch_size=3).process_students_batch(students)

    assert results["errors"] == [
        {"index": 4, "status": "error", "field": "dateOfBirth", "reason": "bad record 4"},
        {"index": 7, "status": "error", "field": "dateOfBirth", "reason": "bad record 7"},
    ]
    assert results["conflicted"] == [
        {"index": 5, "status": "conflict", "field": "dateOfBirth", "reason": "bad record 5"}
    ]
    assert [r["index"] for r in results["results"]] == list(range(8))
    assert results["results"][6] == {"index": 6, "status": "created", "id": 1300}  # third batch, first record


def test_each_batch_has_its_own_idempotency_key_and_the_same_options():
    sync = StandInSync()
    BatchProcessor(sync, batch_size=2).process_students_batch(
        records("created", "created", "created"), last_sync_timestamp="2024-01-01T00:00:00Z", on_conflict="reject"
    )
    keys = [call["idempotency_key"] for call in sync.calls]
    assert len(keys) == len(set(keys)) == 2
    assert all(key for key in keys)
    assert {(c["last_sync_timestamp"], c["on_conflict"]) for c in sync.calls} == {("2024-01-01T00:00:00Z", "reject")}


def test_records_may_come_from_a_generator_read_one_batch_at_a_time():
    read: list[dict[str, Any]] = []

    def source() -> Iterator[dict[str, Any]]:
        for record in records(*["created"] * 5):
            read.append(record)
            yield record

    class Watching(StandInSync):
        def __init__(self) -> None:
            super().__init__()
            self.read_at_each_call: list[int] = []

        def sync_students(self, students: Iterable[Mapping[str, Any]], **options: Any) -> dict[str, Any]:
            self.read_at_each_call.append(len(read))
            return super().sync_students(students, **options)

    sync = Watching()
    results = BatchProcessor(sync, batch_size=2).process_students_batch(source())

    assert results["created"] == 5
    assert sync.read_at_each_call == [2, 4, 5]  # never more than one batch read ahead


def test_an_empty_list_sends_nothing():
    sync = StandInSync()
    results = BatchProcessor(sync).process_students_batch([])
    assert sync.calls == []
    assert results == {
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "conflicts": 0,
        "errors": [],
        "conflicted": [],
        "results": [],
        "batches": 0,
    }


def test_without_totals_it_counts_the_results():
    students = records("created", "updated", "updated", "unchanged", "conflict")
    results = BatchProcessor(StandInSync(with_totals=False), batch_size=2).process_students_batch(students)
    assert (results["created"], results["updated"], results["unchanged"], results["conflicts"]) == (1, 2, 1, 1)


def test_a_failed_batch_raises_with_what_was_done_and_where_to_resume():
    sync = StandInSync(fail_on_call=2)
    students = records(*["created"] * 7)

    with pytest.raises(BatchSyncError) as raised:
        BatchProcessor(sync, batch_size=3).process_students_batch(students)

    error = raised.value
    assert isinstance(error, SchoolAPIError)
    assert (error.status_code, error.code) == (413, "payload_too_large")
    assert (error.batch_start, error.batch_size) == (3, 3)
    assert error.idempotency_key == sync.calls[1]["idempotency_key"]
    assert (error.results["created"], error.results["batches"]) == (3, 1)
    assert len(sync.calls) == 2  # nothing after the failed batch
    assert "starting at record 3" in str(error)


def test_an_answer_naming_a_record_outside_the_batch_is_refused():
    class Confused(StandInSync):
        def sync_students(self, students: Iterable[Mapping[str, Any]], **options: Any) -> dict[str, Any]:
            return {"success": True, "data": {"results": [{"index": 5, "status": "created"}]}}

    with pytest.raises(BatchSyncError, match="names record 5 of a batch of 2"):
        BatchProcessor(Confused(), batch_size=2).process_students_batch(records("created", "created"))


def test_attendance_goes_through_sync_attendance():
    sync = StandInSync()
    results = BatchProcessor(sync, batch_size=2).process_attendance_batch(records("created", "error", "updated"))
    assert {call["kind"] for call in sync.calls} == {"attendance"}
    assert (results["created"], results["updated"]) == (1, 1)
    assert [e["index"] for e in results["errors"]] == [1]


def test_a_batch_holds_at_least_one_record():
    with pytest.raises(ValueError, match="batch_size"):
        BatchProcessor(StandInSync(), batch_size=0)
