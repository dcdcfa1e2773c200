"""Paging through 20,000 changes of GET /api/sync/changes, against a bare SELECT of the same rows.

On a fresh PostgreSQL database served by gunicorn (see `bench._sync_server`), after 20,000 students were pushed
through the sync API (so the feed holds 20,000 changes):

- baseline: the same 20,000 students read with plain SELECTs, 1,000 at a time in id order (keyset paging),
  ciphertext and all, without decrypting or encoding anything;
- feed: the partner's reading, `?entity=students&limit=1000` from the start, each page following the
  `nextCursor` of the one before: the changes, visibility and consent, each record decrypted and shown as the
  students API shows it, the disclosure log written for every page, the sync state kept.

Each is the median of three rounds; the ratio says what share of the baseline's rows per second the feed
reaches.

    python -m bench.sync_pull
"""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg

from bench._sync_server import WORKERS, Server, harmony, student_records

STUDENTS = 20_000
PAGE = 1_000
ROUNDS = 3


def fill(server: Server) -> None:
    records = student_records(STUDENTS)
    bodies = [json.dumps({"students": records[start : start + PAGE]}) for start in range(0, STUDENTS, PAGE)]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(lambda body: server.post_raw("/api/sync/students", body), bodies))


def read_feed(server: Server) -> tuple[float, int]:
    cursor, items = "", 0
    started = time.perf_counter()
    while True:
        page = json.loads(
            server.session.get(
                f"{server.url}/api/sync/changes", params={"entity": "students", "limit": PAGE, "cursor": cursor}
            ).content
        )
        items += len(page["data"])
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            return time.perf_counter() - started, items


def read_table(database_url: str) -> tuple[float, int]:
    with psycopg.connect(database_url) as connection:
        started = time.perf_counter()
        last, rows = 0, 0
        while True:
            page = connection.execute(
                "SELECT * FROM students_student WHERE id > %s ORDER BY id LIMIT %s", [last, PAGE]
            ).fetchall()
            if not page:
                return time.perf_counter() - started, rows
            rows += len(page)
            last = page[-1][0]


def main() -> int:
    with harmony("sync_pull", "sync students:read students:write") as server:
        fill(server)
        feed, table = [], []
        for _ in range(ROUNDS):
            elapsed, items = read_feed(server)
            assert items == STUDENTS, items
            feed.append(elapsed)
            elapsed, rows = read_table(server.database_url)
            assert rows == STUDENTS, rows
            table.append(elapsed)
    feed_time, table_time = statistics.median(feed), statistics.median(table)
    print(f"{STUDENTS} changes in pages of {PAGE}, gunicorn on PostgreSQL")
    print(f"  baseline (bare SELECT, keyset pages): {STUDENTS / table_time:8.0f} rows/s ({table_time:.2f} s)")
    print(f"  feed (GET /api/sync/changes):         {STUDENTS / feed_time:8.0f} rows/s ({feed_time:.2f} s)")
    ratio = table_time / feed_time
    print(f"  ratio {ratio:.3f} of the baseline's rows per second (the feed takes {1 / ratio:.0f} times as long)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
