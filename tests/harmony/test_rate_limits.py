"""Rate limits: failed sign-ins at the token endpoint per IP and per username, and API requests per client.

The counters live in the configured cache (local memory here, Redis when REDIS_URL is set, as in CI), in
fixed windows. The clock is frozen so that no test straddles the end of a window.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.cache import caches
from rest_framework.test import APIClient

from tests.conftest import client_with, obtain_token
from tests.factories import PASSWORD, make_partner, make_user

pytestmark = pytest.mark.django_db

WINDOW_SECONDS = 15 * 60


@pytest.fixture(autouse=True)
def _frozen_clock() -> Iterator[None]:
    with time_machine.travel(datetime.now().astimezone(), tick=False):
        yield


@pytest.fixture
def parent_app(db: Any) -> Any:
    return make_partner("students:read", grant="password", name="Parent app")


@pytest.fixture
def parent(db: Any) -> Any:
    return make_user("parent@family.test")


def sign_in(app: Any, username: str, password: str, ip: str = "203.0.113.1") -> Any:
    application, secret = app
    data = {
        "grant_type": "password",
        "client_id": application.client_id,
        "client_secret": secret,
        "username": username,
        "password": password,
    }
    return APIClient().post("/api/oauth/token", data, REMOTE_ADDR=ip)


def assert_rate_limited(response: Any) -> int:
    body = response.json()
    assert response.status_code == 429, body
    assert body["success"] is False
    assert body["code"] == "rate_limited"
    assert body["error"]
    assert body["requestId"] == response["X-Request-ID"]
    retry_after = response["Retry-After"]
    assert retry_after.isdigit(), retry_after
    assert 0 < int(retry_after) <= WINDOW_SECONDS
    return int(retry_after)


class TestTokenEndpoint:
    def test_five_failures_from_one_address_lock_that_address(self, parent_app, parent):
        for n in range(5):
            assert sign_in(parent_app, f"someone{n}@family.test", "guess").status_code == 400

        assert_rate_limited(sign_in(parent_app, parent.username, PASSWORD))
        assert sign_in(parent_app, parent.username, PASSWORD, ip="198.51.100.7").status_code == 200

    def test_five_failures_for_one_username_lock_that_username_from_every_address(self, parent_app, parent):
        for n in range(5):
            assert sign_in(parent_app, parent.username, "guess", ip=f"198.51.100.{n + 1}").status_code == 400

        assert_rate_limited(sign_in(parent_app, parent.username, PASSWORD, ip="192.0.2.50"))
        assert_rate_limited(sign_in(parent_app, parent.username.upper(), PASSWORD, ip="192.0.2.51"))
        other = make_user("other@family.test")
        assert sign_in(parent_app, other.username, PASSWORD, ip="192.0.2.52").status_code == 200

    def test_four_failures_are_still_allowed(self, parent_app, parent):
        for _ in range(4):
            assert sign_in(parent_app, parent.username, "guess").status_code == 400
        assert sign_in(parent_app, parent.username, PASSWORD).status_code == 200

    def test_successful_requests_are_not_counted(self, parent_app, parent):
        for _ in range(10):
            assert sign_in(parent_app, parent.username, PASSWORD).status_code == 200
        for _ in range(4):
            assert sign_in(parent_app, parent.username, "guess").status_code == 400
        assert sign_in(parent_app, parent.username, PASSWORD).status_code == 200

        assert sign_in(parent_app, parent.username, "guess").status_code == 400
        assert_rate_limited(sign_in(parent_app, parent.username, PASSWORD))

    def test_a_partner_that_fetches_tokens_all_day_is_never_locked_out(self):
        app, secret = make_partner("students:read")
        for _ in range(20):
            obtain_token({"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": secret})

    def test_wrong_client_secrets_lock_the_client(self):
        app, secret = make_partner("students:read")
        data = {"grant_type": "client_credentials", "client_id": app.client_id}
        for n in range(5):
            response = APIClient().post(
                "/api/oauth/token", {**data, "client_secret": f"guess{n}"}, REMOTE_ADDR=f"198.51.100.{n + 1}"
            )
            assert response.status_code == 401
        response = APIClient().post("/api/oauth/token", {**data, "client_secret": secret}, REMOTE_ADDR="192.0.2.9")
        assert_rate_limited(response)

    def test_retry_after_counts_down_to_the_end_of_the_window(self, parent_app, parent):
        for _ in range(5):
            sign_in(parent_app, parent.username, "guess")
        first = assert_rate_limited(sign_in(parent_app, parent.username, PASSWORD))
        step = first // 2
        with time_machine.travel(datetime.now().astimezone().timestamp() + step, tick=False):
            assert assert_rate_limited(sign_in(parent_app, parent.username, PASSWORD)) == first - step

    def test_the_lock_ends_with_the_window(self, parent_app, parent):
        for _ in range(5):
            sign_in(parent_app, parent.username, "guess")
        wait = assert_rate_limited(sign_in(parent_app, parent.username, PASSWORD))
        with time_machine.travel(datetime.now().astimezone().timestamp() + wait + 1, tick=False):
            assert sign_in(parent_app, parent.username, PASSWORD).status_code == 200

    def test_failures_on_the_sign_in_page_count_at_the_token_endpoint_too(self, client, parent_app, parent):
        for _ in range(5):
            response = client.post(
                "/family/login/", {"username": parent.username, "password": "guess"}, REMOTE_ADDR="198.51.100.9"
            )
            assert response.status_code == 200
        assert_rate_limited(sign_in(parent_app, parent.username, PASSWORD, ip="192.0.2.77"))


class TestApi:
    @pytest.fixture(autouse=True)
    def _small_limit(self, settings: Any) -> None:
        settings.API_RATE_LIMIT = "3/15m"

    def test_the_fourth_request_in_a_window_is_refused(self, partner_api):
        api = partner_api("students:read")
        for _ in range(3):
            assert api.get("/api/students").status_code == 200
        assert_rate_limited(api.get("/api/students"))
        assert_rate_limited(api.get("/api/guardians"))

    def test_another_client_is_not_affected(self, partner_api):
        busy, quiet = partner_api("students:read"), partner_api("students:read")
        for _ in range(3):
            busy.get("/api/students")
        assert_rate_limited(busy.get("/api/students"))
        assert quiet.get("/api/students").status_code == 200

    def test_a_new_token_of_the_same_client_does_not_reset_the_count(self):
        app, secret = make_partner("students:read")
        credentials = {"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": secret}
        first, second = (client_with(obtain_token(credentials)["access_token"]) for _ in range(2))
        for _ in range(3):
            first.get("/api/students")
        assert_rate_limited(second.get("/api/students"))


class TestSharedCounters:
    def test_the_counters_live_in_the_configured_cache(self, parent_app, parent):
        for _ in range(5):
            sign_in(parent_app, parent.username, "guess")
        assert_rate_limited(sign_in(parent_app, parent.username, PASSWORD))

        # Another worker's connection to the same cache sees the same counters: clearing through it unlocks.
        other_worker = caches.create_connection(django_settings.RATELIMIT_USE_CACHE)
        other_worker.clear()
        assert sign_in(parent_app, parent.username, PASSWORD).status_code == 200

    @pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI runs the suite with Redis)")
    def test_with_redis_the_counters_are_in_redis(self, parent_app, parent):
        import redis

        assert django_settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
        server = redis.Redis.from_url(os.environ["REDIS_URL"])
        before = set(server.scan_iter("*rl:*"))
        sign_in(parent_app, parent.username, "guess")
        assert set(server.scan_iter("*rl:*")) - before
