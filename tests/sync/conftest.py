"""Partners that synchronise, and small helpers to push batches and read the feed as they would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

EVERYTHING = "sync students:read students:write attendance:read attendance:write"


@pytest.fixture
def sync_api(partner_api: Callable[[str], APIClient]) -> Callable[..., APIClient]:
    """Return a partner client with the sync scope and every students and attendance scope (or `scopes`)."""

    def make(scopes: str = EVERYTHING) -> APIClient:
        return partner_api(scopes)

    return make


def push(api: APIClient, entity: str, records: list[Any], *, key: str | None = None, **body: Any) -> Any:
    field = {"students": "students", "attendance": "attendanceRecords"}[entity]
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(f"/api/sync/{entity}", {field: records, **body}, format="json", **headers)


def answer(response: Any) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == 200, body
    assert body["success"] is True
    return body["data"]


def statuses(response: Any) -> list[str]:
    return [result["status"] for result in answer(response)["results"]]


def read_feed(api: APIClient, entity: str, cursor: str = "", limit: int = 100) -> tuple[list[dict[str, Any]], str]:
    """Page through the whole feed from `cursor`; return every item and the last cursor."""
    items: list[dict[str, Any]] = []
    while True:
        response = api.get("/api/sync/changes", {"entity": entity, "cursor": cursor, "limit": limit})
        body = response.json()
        assert response.status_code == 200, body
        items.extend(body["data"])
        cursor = body["nextCursor"]
        if not body["hasMore"]:
            return items, cursor
