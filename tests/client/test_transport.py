"""What the client sends and how it copes: headers, timeouts, rate limits, network errors, and the wire format
of the endpoints the server is still to build."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from school_api_client import SchoolAPIClient, SchoolAPIError, TokenManager, __version__
from tests.factories import make_student

NEW_STUDENT = {"rollNumber": "SMS2024001", "firstName": "Ahmed", "lastName": "Mohammed"}


class TestHeaders:
    pytestmark = pytest.mark.django_db(transaction=True)

    def test_every_request_names_the_library_and_has_a_timeout(self, make_client, wire):
        client = make_client()
        client.get_students()
        client.create_student(NEW_STUDENT)

        assert len(wire.sent) == 3  # the token, then two API requests
        for request in wire.sent:
            assert request.headers["User-Agent"].startswith(f"school-api-client/{__version__} ")
        assert wire.timeouts == [30.0, 30.0, 30.0]

    def test_the_timeout_can_be_chosen(self, make_client, wire):
        make_client(timeout=(3.05, 10)).get_students()
        assert wire.timeouts == [(3.05, 10), (3.05, 10)]

    def test_the_purpose_goes_with_every_api_request(self, make_client, wire):
        from privacy.models import PartnerPurpose, Purpose

        client = make_client(purpose="attendance-tracking")
        purpose = Purpose.objects.create(code="attendance-tracking", title="Attendance", requires_consent=False)
        PartnerPurpose.objects.create(application=client.partner, purpose=purpose)
        client.get_students()
        client.create_student(NEW_STUDENT)
        client._make_request("GET", "/api/students", params={"limit": 1})

        assert [r.headers["X-Data-Purpose"] for r in wire.api_requests] == ["attendance-tracking"] * 3
        assert all(r.status_code < 400 for r in wire.api_answers), "the server accepts the purpose it registered"
        assert "X-Data-Purpose" not in wire.token_requests[0].headers

    def test_without_a_purpose_no_purpose_header_is_sent(self, make_client, wire):
        make_client().get_students()
        assert "X-Data-Purpose" not in wire.api_requests[0].headers

    def test_an_idempotency_key_is_sent_when_given(self, make_client, wire):
        client = make_client()
        client.create_student(NEW_STUDENT, idempotency_key="import-2024-01-15-row-1")
        client.create_student({**NEW_STUDENT, "rollNumber": "SMS2024002"})

        assert wire.api_requests[0].headers["Idempotency-Key"] == "import-2024-01-15-row-1"
        assert "Idempotency-Key" not in wire.api_requests[1].headers

    def test_make_request_sends_extra_headers_and_decodes_the_answer(self, make_client, wire):
        student = make_student()
        answer = make_client()._make_request(
            "GET", f"/api/students/{student.pk}", headers={"X-Request-ID": "trace-0001"}
        )
        assert answer["data"]["id"] == student.pk
        assert answer.request_id == "trace-0001"  # the server keeps an id the caller offers

    def test_make_request_refuses_to_send_the_token_to_another_server(self, make_client):
        with pytest.raises(ValueError, match="is not on"):
            make_client()._make_request("GET", "https://elsewhere.example/api/students")


class TestRateLimits:
    pytestmark = pytest.mark.django_db(transaction=True)

    @pytest.fixture
    def clock(self) -> Iterator[Any]:
        """Stop the clock on a whole second, so that no rate-limit window ends while the test runs."""
        with time_machine.travel(datetime.fromtimestamp(int(time.time()), tz=UTC), tick=False) as traveller:
            yield traveller

    @pytest.fixture
    def limited(self, settings: Any) -> None:
        settings.API_RATE_LIMIT = "3/m"

    def test_it_waits_as_long_as_retry_after_says_then_tries_again(self, limited, clock, make_client, wire):
        waits: list[float] = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            clock.shift(seconds)

        client = make_client(sleep=sleep)
        for _ in range(3):
            client.get_students()
        answer = client.get_students()

        assert answer["success"] is True
        assert [r.status_code for r in wire.api_answers] == [200, 200, 200, 429, 200]
        refused = wire.api_answers[3]
        assert refused.json()["code"] == "rate_limited"
        assert waits == [float(refused.headers["Retry-After"])]

    def test_a_refused_post_is_sent_again_since_the_server_did_nothing(self, limited, clock, make_client, wire):
        waits: list[float] = []
        client = make_client(sleep=lambda seconds: (waits.append(seconds), clock.shift(seconds)))
        for _ in range(3):
            client.get_students()

        created = client.create_student(NEW_STUDENT)

        assert created.status_code == 201
        assert [(r.request.method, r.status_code) for r in wire.api_answers[3:]] == [("POST", 429), ("POST", 201)]
        assert len(waits) == 1

    def test_it_gives_up_after_max_retries(self, limited, clock, make_client, wire):
        waits: list[float] = []
        client = make_client(sleep=waits.append, max_retries=2)  # a sleep that lets no time pass
        for _ in range(3):
            client.get_students()

        with pytest.raises(SchoolAPIError) as raised:
            client.get_students()

        error = raised.value
        assert (error.status_code, error.code, error.retryable) == (429, "rate_limited", True)
        assert error.retry_after == float(wire.api_answers[-1].headers["Retry-After"])
        assert [r.status_code for r in wire.api_answers] == [200, 200, 200, 429, 429, 429]
        assert waits == [error.retry_after, error.retry_after]

    def test_a_wait_longer_than_max_retry_wait_is_raised_at_once(self, limited, clock, make_client, wire):
        client = make_client(max_retry_wait=0.5)  # Retry-After is never less than a second
        for _ in range(3):
            client.get_students()

        with pytest.raises(SchoolAPIError) as raised:
            client.get_students()
        assert raised.value.status_code == 429
        assert raised.value.retry_after >= 1
        assert len(wire.api_answers) == 4


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def offline_client(url: str, **options: Any) -> SchoolAPIClient:
    """A client that already holds a token, for a server that cannot be reached at `url`."""
    tokens = TokenManager()
    tokens.store_token("partner", {"access_token": "issued-earlier", "expires_in": 3600})
    return SchoolAPIClient(url, "partner", "secret", token_manager=tokens, **options)


class TestNetworkErrors:
    @pytest.fixture
    def waits(self) -> list[float]:
        return []

    @pytest.fixture
    def client(self, waits: list[float]) -> SchoolAPIClient:
        return offline_client(f"http://127.0.0.1:{unused_port()}", sleep=waits.append)

    def test_no_answer_raises_with_no_status_after_retrying_a_read(self, client, waits):
        with pytest.raises(SchoolAPIError) as raised:
            client.get_students()
        assert raised.value.status_code is None
        assert raised.value.retryable is True
        assert "Network error" in str(raised.value)
        assert waits == [0.5, 1.0, 2.0]  # three retries, backing off

    def test_a_post_without_an_idempotency_key_is_never_sent_twice(self, client, waits):
        with pytest.raises(SchoolAPIError):
            client.create_student(NEW_STUDENT)
        assert waits == []

    def test_a_post_with_an_idempotency_key_is_retried(self, client, waits):
        with pytest.raises(SchoolAPIError):
            client.create_student(NEW_STUDENT, idempotency_key="row-1")
        assert waits == [0.5, 1.0, 2.0]

    def test_a_sync_always_carries_a_key_and_so_is_retried(self, client, waits):
        with pytest.raises(SchoolAPIError):
            client.sync_students([NEW_STUDENT])
        assert waits == [0.5, 1.0, 2.0]

    def test_updates_and_deletes_are_retried_since_repeating_them_is_harmless(self, client, waits):
        for call in (lambda: client.replace_student(1, NEW_STUDENT), lambda: client.delete_student(1)):
            with pytest.raises(SchoolAPIError):
                call()
        assert waits == [0.5, 1.0, 2.0] * 2

    def test_a_server_that_does_not_answer_times_out(self):
        with socket.socket() as silent:  # accepts connections, never answers
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            client = offline_client(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.2, max_retries=0)
            started = time.monotonic()
            with pytest.raises(SchoolAPIError) as raised:
                client.get_students()
        assert time.monotonic() - started < 5
        assert raised.value.status_code is None
        assert "Read timed out" in str(raised.value)


# The endpoints the server is still to build: what the client sends to each (method, path, query, JSON body).
WIRE_FORMAT: list[tuple[str, Callable[[SchoolAPIClient], Any], str, str, dict[str, list[str]], Any]] = [
    (
        "create_attendance",
        lambda c: c.create_attendance({"studentId": 123, "date": date(2024, 1, 15), "status": "present"}),
        "POST",
        "/api/attendance",
        {},
        {"studentId": 123, "date": "2024-01-15", "status": "present"},
    ),
    (
        "get_attendance",
        lambda c: c.get_attendance(date="2024-01-15", student_id=123),
        "GET",
        "/api/attendance",
        {"date": ["2024-01-15"], "studentId": ["123"], "page": ["1"], "limit": ["20"]},
        None,
    ),
    (
        "get_attendance_by_date_range",
        lambda c: c.get_attendance_by_date_range("2024-01-01", date(2024, 1, 31)),
        "GET",
        "/api/attendance",
        {"startDate": ["2024-01-01"], "endDate": ["2024-01-31"], "page": ["1"], "limit": ["20"]},
        None,
    ),
    (
        "iter_attendance",
        lambda c: list(c.iter_attendance(date="2024-01-15")),
        "GET",
        "/api/attendance",
        {"date": ["2024-01-15"], "page": ["1"], "limit": ["100"]},
        None,
    ),
    (
        "get_notifications",
        lambda c: c.get_notifications(page=2, limit=5),
        "GET",
        "/api/notifications",
        {"page": ["2"], "limit": ["5"]},
        None,
    ),
    (
        "iter_notifications",
        lambda c: list(c.iter_notifications(page_size=50)),
        "GET",
        "/api/notifications",
        {"page": ["1"], "limit": ["50"]},
        None,
    ),
    (
        "create_notification",
        lambda c: c.create_notification({"title": "School Holiday", "recipientId": 123}),
        "POST",
        "/api/notifications",
        {},
        {"title": "School Holiday", "recipientId": 123},
    ),
    (
        "send_bulk_notifications",
        lambda c: c.send_bulk_notifications({"title": "Exam Schedule", "recipientIds": [123, 456]}),
        "POST",
        "/api/notifications/bulk",
        {},
        {"title": "Exam Schedule", "recipientIds": [123, 456]},
    ),
    (
        "sync_students",
        lambda c: c.sync_students(
            iter([NEW_STUDENT]), datetime(2024, 1, 1, tzinfo=UTC), on_conflict="server_wins", idempotency_key="k1"
        ),
        "POST",
        "/api/sync/students",
        {},
        {"students": [NEW_STUDENT], "lastSyncTimestamp": "2024-01-01T00:00:00+00:00", "onConflict": "server_wins"},
    ),
    (
        "sync_attendance",
        lambda c: c.sync_attendance([{"studentId": 1, "date": "2024-01-15"}], "2024-01-01T00:00:00Z"),
        "POST",
        "/api/sync/attendance",
        {},
        {"attendanceRecords": [{"studentId": 1, "date": "2024-01-15"}], "lastSyncTimestamp": "2024-01-01T00:00:00Z"},
    ),
    ("get_sync_status", lambda c: c.get_sync_status(), "GET", "/api/sync/status", {}, None),
    ("request_export", lambda c: c.request_export(), "POST", "/api/privacy/export", {}, None),
    (
        "request_deletion",
        lambda c: c.request_deletion({"studentId": 123}),
        "POST",
        "/api/privacy/delete",
        {},
        {"studentId": 123},
    ),
    (
        "get_consent",
        lambda c: c.get_consent(student_id=123),
        "GET",
        "/api/privacy/consent",
        {"studentId": ["123"]},
        None,
    ),
    (
        "update_consent",
        lambda c: c.update_consent({"dataProcessing": True, "marketing": False}),
        "PUT",
        "/api/privacy/consent",
        {},
        {"dataProcessing": True, "marketing": False},
    ),
    ("get_retention_policy", lambda c: c.get_retention_policy(), "GET", "/api/privacy/retention", {}, None),
    (
        "the guide's _make_request",
        lambda c: c._make_request("PUT", "/api/privacy/consent", data={"thirdPartySharing": False}),
        "PUT",
        "/api/privacy/consent",
        {},
        {"thirdPartySharing": False},
    ),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("name", "call", "method", "path", "query", "body"), WIRE_FORMAT, ids=[w[0] for w in WIRE_FORMAT]
)
def test_what_each_method_sends(make_client, wire, name, call, method, path, query, body):
    client = make_client("students:read")
    with contextlib.suppress(SchoolAPIError):  # whatever the server answers today
        call(client)

    request = wire.api_requests[0]
    url = urlsplit(request.url)
    assert (request.method, url.path, parse_qs(url.query)) == (method, path, query)
    assert (json.loads(request.body) if request.body else None) == body
    if body is not None:
        assert request.headers["Content-Type"] == "application/json"


@pytest.mark.django_db(transaction=True)
def test_a_sync_makes_up_an_idempotency_key_when_given_none(make_client, wire):
    client = make_client("students:read")
    for _ in range(2):
        with contextlib.suppress(SchoolAPIError):
            client.sync_students([NEW_STUDENT])
    keys = [request.headers["Idempotency-Key"] for request in wire.api_requests]
    assert all(uuid.UUID(key) for key in keys)
    assert keys[0] != keys[1]


def test_a_sync_refuses_an_unknown_conflict_policy_and_a_naive_timestamp():
    client = offline_client("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="on_conflict"):
        client.sync_students([NEW_STUDENT], on_conflict="newest_wins")
    with pytest.raises(ValueError, match="timezone-aware"):
        client.sync_students([NEW_STUDENT], datetime(2024, 1, 1))


def test_the_client_says_who_it_is_but_never_its_secret():
    client = offline_client("https://harmony.example.org/")
    assert repr(client) == "<SchoolAPIClient https://harmony.example.org client_id='partner'>"
    assert "secret" not in repr(client.oauth)
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
