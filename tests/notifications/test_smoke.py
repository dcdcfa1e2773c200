from __future__ import annotations

import pytest
from django.core import mail

from notifications.models import Delivery, Notification
from tests.tasks import run_queued_tasks

pytestmark = pytest.mark.django_db


def drain_tasks() -> None:
    run_queued_tasks()


def test_a_partner_sends_the_guides_bulk_payload_and_the_worker_emails_it(school, partner_api):
    api = partner_api("notifications:read notifications:write")
    users = [school.guardian.user_id, school.outsider.user_id]
    response = api.post(
        "/api/notifications/bulk",
        {"title": "Exam Schedule", "message": "Final exams start next week", "recipientIds": users, "priority": "high"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["data"]["count"] == 2
    assert Notification.objects.count() == 2
    assert len(mail.outbox) == 0  # nothing is e-mailed inside the request
    drain_tasks()
    assert sorted(m.to[0] for m in mail.outbox) == ["other@family.test", "parent@family.test"]
    assert Delivery.objects.filter(channel="email", status="sent").count() == 2
    drain_tasks()
    assert len(mail.outbox) == 2


def test_bulk_creates_nothing_when_one_recipient_is_unknown(school, partner_api):
    api = partner_api("notifications:write")
    response = api.post(
        "/api/notifications/bulk",
        {"title": "T", "message": "M", "recipientIds": [school.guardian.user_id, 999999]},
        format="json",
    )
    assert response.status_code == 400
    assert Notification.objects.count() == 0


def test_a_guardian_reads_their_inbox(school, partner_api, user_api):
    partner_api("notifications:write").post(
        "/api/notifications",
        {
            "title": "School Event",
            "message": "PTA meeting tomorrow",
            "type": "info",
            "priority": "high",
            "recipientId": school.guardian.user_id,
        },
        format="json",
    )
    mine = user_api(school.guardian.user).get("/api/notifications").json()
    assert mine["count"] == 1 and mine["data"][0]["title"] == "School Event"
    assert user_api(school.outsider.user).get("/api/notifications").json()["count"] == 0


def test_a_message_about_a_child_goes_only_to_their_guardians_and_staff(school, partner_api):
    api = partner_api("notifications:write")
    about = {"title": "Trip", "message": "Amira forgot her coat", "studentId": school.child_a.pk}
    refused = api.post("/api/notifications/bulk", {**about, "recipientIds": [school.outsider.user_id]}, format="json")
    assert refused.status_code == 400
    assert refused.json()["details"][0]["field"] == "studentId"
    assert Notification.objects.count() == 0
    allowed = api.post(
        "/api/notifications/bulk",
        {**about, "recipientIds": [school.guardian.user_id, school.teacher.pk]},
        format="json",
    )
    assert allowed.status_code == 201, allowed.json()
    assert Notification.objects.count() == 2
