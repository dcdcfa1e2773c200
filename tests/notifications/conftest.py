"""Helpers shared by the notification tests: a sending partner, error checks and table snapshots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from notifications.models import Delivery, Message, Notification

READ_WRITE = "notifications:read notifications:write"


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status, body
    assert body["success"] is False
    assert body["code"] == code
    assert body["error"]
    assert isinstance(body["details"], list) and body["details"]
    assert body["requestId"] == response["X-Request-ID"]
    return body


def fields_in_error(body: dict[str, Any]) -> set[str]:
    return {detail["field"] for detail in body["details"]}


def snapshot() -> tuple[int, int, int, int]:
    """How many messages, notifications, deliveries and queued tasks exist: equal before and after means
    nothing was written."""
    return (
        Message.objects.count(),
        Notification.objects.count(),
        Delivery.objects.count(),
        DBTaskResult.objects.count(),
    )


@pytest.fixture
def sender(partner_api: Callable[[str], APIClient]) -> APIClient:
    """A partner system allowed to read and send notifications."""
    return partner_api(READ_WRITE)


@pytest.fixture
def notify(sender: APIClient) -> Callable[..., int]:
    """Send one notification through the API (as `sender`, unless another client is given); return its id."""

    def send(recipient_id: int, client: APIClient | None = None, **fields: Any) -> int:
        body = {"title": "School Event", "message": "PTA meeting tomorrow", "recipientId": recipient_id, **fields}
        response = (client or sender).post("/api/notifications", body, format="json")
        assert response.status_code == 201, response.json()
        return response.json()["data"]["id"]

    return send
