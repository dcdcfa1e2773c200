"""Rate limits from the caller's side: Retry-After names the shortest wait that lets the caller through."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import time_machine

from harmony.ratelimits import retry_after

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.999])
def test_waiting_retry_after_seconds_lets_the_client_through(settings, partner_api, fraction):
    settings.API_RATE_LIMIT = "2/m"
    start = datetime.fromtimestamp(int(time.time()) + fraction, tz=UTC)  # limited at any point of a second
    with time_machine.travel(start, tick=False) as clock:
        api = partner_api("students:read")
        assert [api.get("/api/students").status_code for _ in range(2)] == [200, 200]
        refused = api.get("/api/students")
        assert refused.status_code == 429
        wait = int(refused["Retry-After"])
        assert 1 <= wait <= 60

        clock.shift(wait - 1)
        assert api.get("/api/students").status_code == 429  # one second less is not enough
        clock.shift(1)
        assert api.get("/api/students").status_code == 200


@pytest.mark.parametrize(
    ("time_left", "expected"),
    [(0, 1), (12, 13), (899, 900), (-1, 900)],  # -1: the cache could not count, so the whole window
)
def test_retry_after_counts_the_second_in_progress(time_left, expected):
    assert retry_after({"time_left": time_left}, "5/15m") == expected
