"""GET /api/sync/status: where each entity's feed stands, and the calling application's last push and pull."""

from __future__ import annotations

import pytest

from harmony.sync.changes import decode_cursor
from tests.sync.conftest import answer, push, read_feed

pytestmark = pytest.mark.django_db


def status(api) -> dict:
    response = api.get("/api/sync/status")
    body = response.json()
    assert response.status_code == 200, body
    return body["data"]


def test_before_any_sync_there_is_nothing_to_report(school, sync_api):
    data = status(sync_api())
    assert data["lastSync"] == {"students": None, "attendance": None}
    assert data["push"] == {"students": None, "attendance": None}
    assert data["pull"] == {"students": None, "attendance": None}
    assert data["entities"]["students"] == {
        "changeNumber": 0,
        "cursor": data["entities"]["students"]["cursor"],
        "changes": 0,
        "records": 2,
    }


def test_a_push_sets_last_sync_and_its_outcome(school, sync_api):
    api = sync_api()
    pushed = answer(
        push(api, "students", [{"rollNumber": "S1", "firstName": "A", "lastName": "B"}, {"rollNumber": "!"}])
    )
    data = status(api)
    assert data["lastSync"]["students"] == pushed["syncedAt"]
    assert data["lastSync"]["attendance"] is None
    assert data["push"]["students"]["outcome"] == "partial"
    assert data["push"]["students"]["totals"] == pushed["totals"]
    assert data["push"]["students"]["at"] == pushed["syncedAt"]
    assert data["entities"]["students"]["changes"] == 1 and data["entities"]["students"]["records"] == 3
    assert decode_cursor(data["entities"]["students"]["cursor"]) == data["entities"]["students"]["changeNumber"]


def test_a_refused_push_is_reported_and_leaves_last_sync_alone(school, sync_api):
    api = sync_api()
    pushed = answer(push(api, "students", []))
    assert push(api, "students", [{}] * 5001).status_code == 413
    data = status(api)
    assert data["push"]["students"]["outcome"] == "failed"
    assert data["lastSync"]["students"] == pushed["syncedAt"]


def test_a_pull_reports_where_the_application_stopped(school, sync_api):
    api = sync_api()
    push(api, "students", [{"rollNumber": f"S{n}", "firstName": "A", "lastName": "B"} for n in range(3)])
    first = api.get("/api/sync/changes", {"entity": "students", "limit": 2}).json()
    data = status(api)
    assert data["pull"]["students"]["cursor"] == first["nextCursor"]
    assert (data["pull"]["students"]["changes"], data["pull"]["students"]["caughtUp"]) == (2, False)
    _, cursor = read_feed(api, "students", first["nextCursor"])
    pulled = status(api)["pull"]["students"]
    assert (pulled["cursor"], pulled["caughtUp"]) == (cursor, True)


def test_each_application_sees_its_own_sync(school, sync_api):
    push(sync_api(), "students", [])
    assert status(sync_api())["lastSync"]["students"] is None


def test_it_needs_the_sync_scope(school, sync_api):
    assert sync_api("students:read students:write").get("/api/sync/status").status_code == 403
