"""A real Harmony for the sync benchmarks: a fresh PostgreSQL database, migrated, served by gunicorn on a free
local port, and a partner application with a token; everything is stopped and dropped afterwards.

The database server is the one BENCH_DATABASE_URL (or DATABASE_URL) names, default
postgres://postgres@127.0.0.1:5432/postgres; the benchmark's database is created beside it under its own name.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))


@dataclass
class Server:
    url: str
    database_url: str
    session: requests.Session

    def post(self, path: str, body: object, key: str | None = None) -> dict:
        headers = {"Idempotency-Key": key or str(uuid.uuid4())}
        response = self.session.post(f"{self.url}{path}", data=json.dumps(body), headers=headers, timeout=300)
        response.raise_for_status()
        return response.json()

    def post_raw(self, path: str, body: str, key: str | None = None) -> bytes:
        """Send an encoded body and return the answer's bytes (decoding them is the caller's business).

        Safe from several threads at once: each has its own connection.
        """
        headers = {"Idempotency-Key": key or str(uuid.uuid4()), **self.session.headers}
        response = requests.post(f"{self.url}{path}", data=body, headers=headers, timeout=300)
        response.raise_for_status()
        return response.content

    def get(self, path: str, **params: object) -> dict:
        response = self.session.get(f"{self.url}{path}", params=params, timeout=300)
        response.raise_for_status()
        return response.json()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _database(prefix: str) -> Iterator[str]:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    url = url or "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit("The sync benchmarks run on PostgreSQL: set BENCH_DATABASE_URL to a postgres:// URL.")
    name = f"harmony_bench_{prefix}_{os.getpid()}"
    server = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(("postgres", parts.netloc, f"/{name}", parts.query, ""))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def harmony(prefix: str, scopes: str) -> Iterator[Server]:
    """Serve a fresh Harmony with gunicorn and yield it with a partner's token holding `scopes`."""
    with _database(prefix) as database_url:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DATABASE_CONN_MAX_AGE": "60",
            "DEBUG": "false",  # no query log
            "RATELIMIT_ENABLE": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONWARNINGS": "ignore:No directory at",  # static files are not collected for a benchmark
        }
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        made = subprocess.run(
            [*manage, "create_partner_app", "--name", "Benchmark", "--scopes", scopes],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        credentials = json.loads(made.stdout)
        port = _free_port()
        options = ["--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "--timeout", "300"]
        options += ["--log-level", "warning"]
        gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "harmony.wsgi", *options], cwd=ROOT, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                    if requests.get(f"{url}/healthz", timeout=10).status_code == 200:
                        break
                time.sleep(0.1)
            else:
                raise SystemExit("gunicorn did not answer /healthz")
            token = requests.post(
                f"{url}/api/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    **{k: credentials[k] for k in ("client_id", "client_secret")},
                },
                timeout=30,
            ).json()["access_token"]
            session = requests.Session()
            session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            yield Server(url, database_url, session)
        finally:
            gunicorn.terminate()
            gunicorn.wait(timeout=30)


def student_records(count: int, *, prefix: str = "S", surname: str = "Bench") -> list[dict[str, str]]:
    """Return `count` students as a partner sends them, with an encrypted date of birth and address each."""
    return [
        {
            "rollNumber": f"{prefix}{n:06d}",
            "firstName": f"First{n}",
            "lastName": f"{surname}{n}",
            "email": f"pupil{n}@school.test",
            "dateOfBirth": f"20{10 + n % 6:02d}-{1 + n % 12:02d}-{1 + n % 28:02d}",
            "gender": ("female", "male")[n % 2],
            "status": "active",
            "address": f"{n % 240 + 1} High Street, Leicester",
        }
        for n in range(count)
    ]
