"""The morning register spike: 24 class groups of 25 students take their registers at the same moment.

A real server (gunicorn, 4 workers) runs against a fresh database holding the classes and a partner application.
With a real OAuth2 token, 24 threads each POST one whole register to `/api/attendance/registers`, all released
together. The baseline is the same 600 marks written with one bulk INSERT (`AttendanceRecord.objects.bulk_create`,
the median of five) in the same run. Reported per round and overall: the spike's total time, the median and 95th
percentile time per register, the baseline, and the ratio of the two totals.

Settings: BENCH_ROUNDS (default 3, each on its own school day), BENCH_WORKERS (gunicorn workers, default 4).
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
CLASS_GROUPS = 24
STUDENTS_PER_GROUP = 25
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
POSTGRES_SCHEMES = ("postgres://", "postgresql://", "pgsql://")


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """Yield the URL of an empty database: beside DATABASE_URL's when it is PostgreSQL, else a temporary SQLite."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(POSTGRES_SCHEMES):
        with tempfile.TemporaryDirectory(prefix="harmony-bench-") as folder:
            yield f"sqlite:///{folder}/bench.sqlite3"
        return

    import psycopg
    from psycopg import sql

    parts = urlsplit(base)
    name = f"{parts.path.lstrip('/') or 'harmony'}_bench"
    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))

    def run(statement: sql.Composed) -> None:
        with psycopg.connect(maintenance, autocommit=True) as admin:
            admin.execute(statement)

    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    run(drop)
    run(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        from django.db import connections

        connections.close_all()
        run(drop)


def build_school() -> tuple[list[Any], dict[str, str]]:
    """Migrate, then create the class groups, their students and a partner; return the groups and credentials."""
    from django.core.management import call_command

    from harmony.management.commands.create_partner_app import register_partner_app
    from students.models import ClassGroup, Student

    call_command("migrate", verbosity=0)
    groups = ClassGroup.objects.bulk_create(
        ClassGroup(name=f"{7 + n // 6}{'ABCDEF'[n % 6]}", year_group=7 + n // 6) for n in range(CLASS_GROUPS)
    )
    Student.objects.bulk_create(
        Student(
            roll_number=f"BENCH{g:02d}{s:02d}",
            first_name=f"First{s}",
            last_name=f"Last{g}",
            class_group=group,
        )
        for g, group in enumerate(groups)
        for s in range(STUDENTS_PER_GROUP)
    )
    credentials = register_partner_app(name="Bench partner", scopes=["attendance:read", "attendance:write"])
    return groups, credentials


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def gunicorn(database_url: str, log_path: Path) -> Iterator[str]:
    """Serve Harmony with gunicorn on a free local port; yield its base URL, and stop it afterwards."""
    import requests

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        # The spike measures registers, not the per-client rate limit (which production counts in Redis).
        "API_RATE_LIMIT": "1000000/15m",
    }
    command = [sys.executable, "-m", "gunicorn", "harmony.wsgi", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(WORKERS), "--log-level", "warning", "--timeout", "120"]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"gunicorn stopped: see {log_path}:\n{log_path.read_text()[-2000:]}")
                with contextlib.suppress(requests.RequestException):  # still booting
                    if requests.get(f"{url}/healthz", timeout=10).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not answer within a minute")
                time.sleep(0.2)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def access_token(url: str, credentials: dict[str, str]) -> str:
    import requests

    response = requests.post(
        f"{url}/api/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
        },
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def warm_up(url: str, token: str) -> None:
    """Have every worker load the URLconf and answer once, concurrently, so the spike measures steady state."""
    import requests

    def read_codes() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        requests.get(f"{url}/api/attendance/codes", headers=headers, timeout=60).raise_for_status()

    threads = [threading.Thread(target=read_codes) for _ in range(WORKERS * 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def school_days(count: int) -> list[datetime.date]:
    """The last `count` weekdays up to today: the fresh database has no terms or closures."""
    from django.utils import timezone

    days, day = [], timezone.localdate()
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= datetime.timedelta(days=1)
    return days


def mark_for(index: int) -> dict[str, Any]:
    """A plausible register: mostly present, one in ten absent, one in ten late."""
    if index % 10 == 0:
        return {"status": "absent"}
    if index % 10 == 1:
        return {"code": "L", "minutesLate": 5}
    return {"status": "present"}


def register_bodies(date: datetime.date) -> list[dict[str, Any]]:
    from students.models import Student

    bodies: dict[int, dict[str, Any]] = {}
    for student in Student.objects.order_by("class_group_id", "pk").values("pk", "class_group_id"):
        body = bodies.setdefault(
            student["class_group_id"],
            {"classGroup": student["class_group_id"], "date": str(date), "session": "AM", "marks": []},
        )
        body["marks"].append({"studentId": student["pk"], **mark_for(len(body["marks"]))})
    return list(bodies.values())


def spike(url: str, token: str, bodies: list[dict[str, Any]]) -> tuple[float, list[float]]:
    """POST every register at once from its own thread; return the total time and each register's time."""
    import requests

    barrier = threading.Barrier(len(bodies) + 1)
    times: list[float] = [math.nan] * len(bodies)
    problems: list[str] = []

    def submit(index: int) -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            barrier.wait()
            started = time.perf_counter()
            response = session.post(f"{url}/api/attendance/registers", json=bodies[index], timeout=300)
            times[index] = time.perf_counter() - started
            created = response.json().get("data", {}).get("created") if response.ok else None
            if response.status_code != 201 or created != STUDENTS_PER_GROUP:
                problems.append(f"register {index}: {response.status_code} {response.text[:300]}")

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    total = time.perf_counter() - started
    if problems:
        raise RuntimeError("The spike failed:\n" + "\n".join(problems))
    return total, times


def bulk_baseline(date: datetime.date, repeats: int = 5) -> float:
    """Replace the spike's marks for `date` by the same rows written in one bulk INSERT; return its median time.

    The insert is repeated (deleting the rows in between, untimed) because one commit on its own is noisy.
    """
    from django.db import connection

    from attendance.models import AttendanceChange, AttendanceCode, AttendanceRecord, Register

    codes = {c.code: c for c in AttendanceCode.objects.all()}
    by_status = {c.api_default_for: c for c in codes.values() if c.api_default_for}
    rows = []
    for body in register_bodies(date):
        for mark in body["marks"]:
            code = codes[mark["code"]] if "code" in mark else by_status[mark["status"]]
            rows.append(
                AttendanceRecord(
                    student_id=mark["studentId"],
                    date=date,
                    session=body["session"],
                    code=code,
                    minutes_late=mark.get("minutesLate"),
                    source=AttendanceRecord.Source.API,
                )
            )
    AttendanceChange.objects.filter(date=date).delete()
    Register.objects.filter(date=date).delete()

    statements: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    times = []
    for _ in range(repeats):
        AttendanceRecord.objects.filter(date=date).delete()
        for row in rows:
            row.pk = None
        statements.clear()
        with connection.execute_wrapper(count):
            started = time.perf_counter()
            AttendanceRecord.objects.bulk_create(rows)
            times.append(time.perf_counter() - started)
        inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
        if len(inserts) != 1 or AttendanceRecord.objects.filter(date=date).count() != len(rows):
            raise RuntimeError(f"The baseline took {len(inserts)} INSERTs for {len(rows)} rows, not one.")
    return statistics.median(times)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `share` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class Round:
    date: datetime.date
    total: float
    times: list[float]
    baseline: float

    @property
    def ratio(self) -> float:
        return self.total / self.baseline


def database_name() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        version = connection.pg_version
        return f"PostgreSQL {version // 10000}.{version % 10000}"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


def report(rounds: list[Round]) -> None:
    every = [t for r in rounds for t in r.times]
    header = f"{'round':<12}{'API total':>11}{'median/reg':>12}{'p95/reg':>10}{'bulk INSERT':>13}{'ratio':>9}"
    print(header)
    print("-" * len(header))
    for r in rounds:
        print(
            f"{r.date.isoformat():<12}{r.total:>10.3f}s{statistics.median(r.times):>11.3f}s"
            f"{percentile(r.times, 0.95):>9.3f}s{r.baseline:>12.4f}s{r.ratio:>8.0f}x"
        )
    print("-" * len(header))
    total, baseline = statistics.median(r.total for r in rounds), statistics.median(r.baseline for r in rounds)
    print(
        f"{'median':<12}{total:>10.3f}s{statistics.median(every):>11.3f}s"
        f"{percentile(every, 0.95):>9.3f}s{baseline:>12.4f}s{total / baseline:>8.0f}x"
    )
    print(
        "\nratio = time for the 24 registers through the API / time for one bulk INSERT of the same 600 rows"
        " (median of 5);"
        "\nmedian and p95 per register are over every register of every round."
    )


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "harmony.settings")
    with fresh_database() as url, tempfile.TemporaryDirectory(prefix="harmony-bench-log-") as logs:
        os.environ["DATABASE_URL"] = url
        import django

        django.setup()
        from django.db import connections

        groups, credentials = build_school()
        days = school_days(ROUNDS)
        print(
            f"{CLASS_GROUPS} registers of {STUDENTS_PER_GROUP} students posted at once to /api/attendance/registers"
            f"\nserver: gunicorn, {WORKERS} sync workers; database: {database_name()} (fresh); {ROUNDS} rounds\n",
            flush=True,
        )
        connections.close_all()  # SQLite: leave the file to the server's writers
        rounds = []
        with gunicorn(url, Path(logs) / "gunicorn.log") as server:
            token = access_token(server, credentials)
            warm_up(server, token)
            for day in days:
                bodies = register_bodies(day)
                assert len(bodies) == len(groups)
                connections.close_all()
                total, times = spike(server, token, bodies)
                rounds.append(Round(day, total, times, bulk_baseline(day)))
                connections.close_all()
        report(rounds)


if __name__ == "__main__":
    main()
