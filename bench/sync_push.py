"""Pushing 20,000 students through POST /api/sync/students, against COPY + INSERT ... ON CONFLICT.

On a fresh PostgreSQL database served by gunicorn (see `bench._sync_server`):

- baseline: the same 20,000 rows, as the table stores them (date of birth and address already encrypted),
  loaded with COPY into a temporary table and upserted with one INSERT ... ON CONFLICT (roll_number) DO UPDATE;
  once into the empty table (created), once more with a changed surname (updated); median of three rounds;
- sync: the same students through the API in batches of 1,000, each request with its Idempotency-Key: created,
  then again with a changed surname (updated); once one batch after the other, as the client library's
  BatchProcessor sends them, and once two batches at a time. This includes HTTP, JSON, validation, encryption,
  the conflict check, the change feed, the sync state and the kept answer. Encoding the bodies and decoding the
  answers (the partner's work) are left out of the time, as the baseline's encryption is.

Goal: the API at least 0.3 times the baseline's rows per second.

    python -m bench.sync_push
"""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from bench._sync_server import WORKERS, Server, harmony, student_records

STUDENTS = 20_000
BATCH = 1_000
ROUNDS = 3
GOAL = 0.3
# One batch at a time, as the client library's BatchProcessor sends them; then two at once (gunicorn has two
# workers), as a partner may.
IN_FLIGHT = (1, 2)
COLUMNS = [
    "roll_number",
    "first_name",
    "last_name",
    "email",
    "date_of_birth",
    "gender",
    "status",
    "address",
    "medical_notes",
    "support_notes",
    "version",
    "created_at",
    "updated_at",
]


def stored_rows(records: list[dict[str, str]]) -> list[tuple[Any, ...]]:
    """Return the records as the students table keeps them, encrypted as Harmony encrypts them."""
    from datetime import UTC, datetime

    from harmony.crypto import parse_key_ring
    from harmony.settings import FIELD_ENCRYPTION_KEYS

    ring = parse_key_ring(FIELD_ENCRYPTION_KEYS)
    now = datetime.now(UTC)
    return [
        (
            r["rollNumber"],
            r["firstName"],
            r["lastName"],
            r["email"],
            ring.encrypt(r["dateOfBirth"], context="students.student.date_of_birth"),
            r["gender"],
            r["status"],
            ring.encrypt(r["address"], context="students.student.address"),
            "",
            "",
            1,
            now,
            now,
        )
        for r in records
    ]


def baseline_upsert(database_url: str, rows: list[tuple[Any, ...]]) -> float:
    columns = ", ".join(COLUMNS)
    changed = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in ("roll_number", "created_at"))
    with psycopg.connect(database_url) as connection:
        started = time.perf_counter()
        with connection.transaction():
            connection.execute(
                f"CREATE TEMP TABLE incoming ON COMMIT DROP AS SELECT {columns} FROM students_student WITH NO DATA"
            )
            with connection.cursor().copy(f"COPY incoming ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            connection.execute(
                f"INSERT INTO students_student ({columns}) SELECT {columns} FROM incoming "
                f"ON CONFLICT (roll_number) DO UPDATE SET {changed}"
            )
        return time.perf_counter() - started


def empty_students(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("TRUNCATE students_student CASCADE")
        connection.execute("VACUUM ANALYZE students_student")


def push_all(
    server: Server, records: list[dict[str, str]], in_flight: int = 1
) -> tuple[float, dict[str, int], list[float]]:
    """Send the batches, `in_flight` at a time; return the time, the summed totals and each batch's latency."""
    # The partner's side of the work (encoding the JSON, reading the answer) is left out of the time.
    bodies = [json.dumps({"students": records[start : start + BATCH]}) for start in range(0, len(records), BATCH)]
    latencies: list[float] = []

    def send(body: str) -> bytes:
        sent = time.perf_counter()
        answer = server.post_raw("/api/sync/students", body)
        latencies.append(time.perf_counter() - sent)
        return answer

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        answers = list(pool.map(send, bodies))
    elapsed = time.perf_counter() - started
    totals: dict[str, int] = {}
    for answer in answers:
        for name, count in json.loads(answer)["data"]["totals"].items():
            totals[name] = totals.get(name, 0) + count
    return elapsed, totals, latencies


def main() -> int:
    records = student_records(STUDENTS)
    renamed = student_records(STUDENTS, surname="Renamed")
    rows, renamed_rows = stored_rows(records), stored_rows(renamed)
    figures = []
    with harmony("sync_push", "sync students:read students:write") as server:
        created_base, updated_base = [], []
        for _ in range(ROUNDS):
            empty_students(server.database_url)
            created_base.append(baseline_upsert(server.database_url, rows))
            updated_base.append(baseline_upsert(server.database_url, renamed_rows))
        base = {"created": statistics.median(created_base), "updated": statistics.median(updated_base)}
        for in_flight in IN_FLIGHT:
            empty_students(server.database_url)
            for label, batch in (("created", records), ("updated", renamed)):
                elapsed, totals, latencies = push_all(server, batch, in_flight)
                assert totals[label] == STUDENTS, totals
                figures.append((label, in_flight, elapsed, latencies))

    print(f"{STUDENTS} students in batches of {BATCH}, gunicorn ({WORKERS} workers) on PostgreSQL")
    for label in ("created", "updated"):
        print(f"  {label}: baseline (COPY + INSERT ... ON CONFLICT) {STUDENTS / base[label]:7.0f} rows/s")
    for label, in_flight, elapsed, latencies in figures:
        ratio = base[label] / elapsed
        print(
            f"  {label}, {in_flight} batch{'es' if in_flight > 1 else ''} at a time: API {STUDENTS / elapsed:7.0f} "
            f"rows/s ({elapsed:.2f} s, median batch {statistics.median(latencies) * 1000:.0f} ms), ratio {ratio:.2f}"
            f" (goal {GOAL}: {'met' if ratio >= GOAL else 'not met'})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
