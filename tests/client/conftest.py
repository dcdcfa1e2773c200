"""The client library against the real server: `live_server`, real partner applications, real tokens.

Each test gets a `RecordingSession` (the client's own `session=` dependency) that keeps every request the
client sent and every answer it got, so a test can say what went over the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from school_api_client import SchoolAPIClient
from tests.factories import make_partner


class RecordingSession(requests.Session):
    """A real `requests.Session` that remembers what it sent, with which timeout, and what came back."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []
        self.timeouts: list[Any] = []
        self.answers: list[requests.Response] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        self.timeouts.append(kwargs.get("timeout"))
        response = super().send(request, **kwargs)
        self.answers.append(response)
        return response

    @property
    def api_answers(self) -> list[requests.Response]:
        return [r for r in self.answers if "/api/oauth/" not in r.url]

    @property
    def api_requests(self) -> list[requests.PreparedRequest]:
        return [r for r in self.sent if "/api/oauth/" not in (r.url or "")]

    @property
    def token_requests(self) -> list[requests.PreparedRequest]:
        return [r for r in self.sent if "/api/oauth/token" in (r.url or "")]

    def grants(self) -> list[str]:
        """Return the grant_type of every token request, in order."""
        found = []
        for request in self.token_requests:
            form = dict(pair.split("=", 1) for pair in str(request.body).split("&"))
            found.append(form["grant_type"])
        return found


@pytest.fixture
def wire() -> Iterator[RecordingSession]:
    session = RecordingSession()
    yield session
    session.close()


@pytest.fixture
def make_client(live_server: Any, wire: RecordingSession) -> Callable[..., SchoolAPIClient]:
    """Register a partner application with `scopes` and `grant`, and return a client of it on the live server."""

    def make(
        scopes: str = "students:read students:write", *, grant: str = "client-credentials", **options: Any
    ) -> SchoolAPIClient:
        app, secret = make_partner(scopes, grant=grant)
        options.setdefault("session", wire)
        options.setdefault("sleep", _no_sleep)
        client = SchoolAPIClient(live_server.url, app.client_id, secret, **options)
        client.partner = app  # type: ignore[attr-defined]
        client.partner_secret = secret  # type: ignore[attr-defined]
        return client

    return make


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"The client was not expected to wait (asked for {seconds} s).")
