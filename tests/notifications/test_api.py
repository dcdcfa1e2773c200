"""The notifications API from the outside: who may read and send what, bulk sends, audiences, and bad input."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from notifications.models import Delivery, Message, Notification
from students.models import Guardianship, Student
from tests.factories import make_class_group, make_guardian, make_student, make_user
from tests.notifications.conftest import READ_WRITE, assert_error, fields_in_error, snapshot

pytestmark = pytest.mark.django_db

GUIDE_NOTIFICATION = {
    "title": "School Event",
    "message": "PTA meeting tomorrow",
    "type": "info",
    "priority": "high",
}
GUIDE_BULK = {"title": "Holiday Notice", "message": "School closed for holiday"}


def recipients_of(message_id: int) -> set[int]:
    return set(Notification.objects.filter(message_id=message_id).values_list("recipient_id", flat=True))


# Every persona against every endpoint. The notification in question was sent to the guardian by `sender`.
# Columns: list, read one, send one (to the guardian), bulk (to the guardian), mark it read, mark all read,
# unread count.
SWEEP = {
    "admin": (200, 404, 201, 201, 404, 200, 200),
    "office": (200, 404, 201, 201, 404, 200, 200),
    "teacher": (200, 404, 201, 201, 404, 200, 200),  # tutor of the guardian's child
    "colleague": (200, 404, 400, 400, 404, 200, 200),  # teaches another class: the guardian is out of reach
    "guardian": (200, 200, 403, 403, 200, 200, 200),
    "outsider": (200, 404, 403, 403, 404, 200, 200),
    "sender": (200, 200, 201, 201, 403, 403, 403),  # marking read is for people, not applications
    "other-partner": (200, 404, 201, 201, 403, 403, 403),
    "partner-without-scope": (403, 403, 403, 403, 403, 403, 403),
    "anonymous": (401, 401, 401, 401, 401, 401, 401),
}


class TestWhoMayDoWhat:
    @pytest.mark.parametrize("persona", SWEEP)
    def test_each_persona_gets_the_right_answer_from_every_endpoint(
        self, school, persona_api, partner_api, sender, notify, persona
    ):
        notification_id = notify(school.guardian.user_id)
        if persona == "sender":
            api = sender
        elif persona == "other-partner":
            api = partner_api(READ_WRITE)
        elif persona == "anonymous":
            api = APIClient()
        else:
            api = persona_api(persona)
        to_guardian = {**GUIDE_NOTIFICATION, "recipientId": school.guardian.user_id}
        bulk = {**GUIDE_BULK, "recipientIds": [school.guardian.user_id]}
        answers = (
            api.get("/api/notifications").status_code,
            api.get(f"/api/notifications/{notification_id}").status_code,
            api.post("/api/notifications", to_guardian, format="json").status_code,
            api.post("/api/notifications/bulk", bulk, format="json").status_code,
            api.post(f"/api/notifications/{notification_id}/read").status_code,
            api.post("/api/notifications/read-all").status_code,
            api.get("/api/notifications/unread-count").status_code,
        )
        assert answers == SWEEP[persona]

    def test_a_guardian_never_sees_another_familys_notifications(self, school, persona_api, notify):
        mine = notify(school.guardian.user_id, title="For Fatima")
        theirs = notify(school.outsider.user_id, title="For Olivia")
        api = persona_api("guardian")
        listed = api.get("/api/notifications").json()
        assert [n["id"] for n in listed["data"]] == [mine]
        assert_error(api.get(f"/api/notifications/{theirs}"), 404, "not_found")
        assert_error(api.post(f"/api/notifications/{theirs}/read"), 404, "not_found")
        api.post("/api/notifications/read-all")
        assert Notification.objects.get(pk=theirs).read_at is None
        assert Notification.objects.get(pk=mine).read_at is not None

    def test_a_partner_lists_only_what_it_sent(self, school, partner_api, sender, notify):
        other = partner_api(READ_WRITE)
        mine = notify(school.guardian.user_id)
        notify(school.outsider.user_id, client=other)
        listed = sender.get("/api/notifications").json()
        assert [n["id"] for n in listed["data"]] == [mine]
        assert listed["data"][0]["recipientId"] == school.guardian.user_id

    def test_a_teacher_cannot_message_a_family_outside_their_classes(self, school, persona_api):
        before = snapshot()
        response = persona_api("teacher").post(
            "/api/notifications", {**GUIDE_NOTIFICATION, "recipientId": school.outsider.user_id}, format="json"
        )
        body = assert_error(response, 400, "validation_error")
        assert fields_in_error(body) == {"recipientIds"}
        assert str(school.outsider.user_id) in body["details"][0]["message"]
        assert snapshot() == before

    def test_a_teacher_may_message_the_families_of_their_class_and_other_staff(self, school, persona_api):
        api = persona_api("teacher")
        bulk = {**GUIDE_BULK, "recipientIds": [school.guardian.user_id, school.colleague.pk, school.office.pk]}
        response = api.post("/api/notifications/bulk", bulk, format="json")
        assert response.status_code == 201, response.json()
        assert recipients_of(response.json()["data"]["messageId"]) == {
            school.guardian.user_id,
            school.colleague.pk,
            school.office.pk,
        }

    def test_a_teacher_cannot_write_about_a_child_they_do_not_teach(self, school, persona_api):
        before = snapshot()
        response = persona_api("teacher").post(
            "/api/notifications",
            {**GUIDE_NOTIFICATION, "recipientId": school.guardian.user_id, "studentId": school.child_b.pk},
            format="json",
        )
        assert fields_in_error(assert_error(response, 400, "validation_error")) == {"studentId"}
        assert snapshot() == before

    def test_a_guardian_cannot_send_even_with_the_write_scope(self, school, persona_api):
        before = snapshot()
        api = persona_api("guardian")
        for path, body in [
            ("/api/notifications", {**GUIDE_NOTIFICATION, "recipientId": school.admin.pk}),
            ("/api/notifications/bulk", {**GUIDE_BULK, "recipientIds": [school.admin.pk]}),
            ("/api/notifications/bulk", {**GUIDE_BULK, "audience": {"classGroup": school.class_a.pk}}),
            ("/api/notifications/bulk", {**GUIDE_BULK, "audience": {"school": True}}),
            ("/api/notifications", {"nonsense": True}),  # refused for who they are, before what they sent
        ]:
            assert_error(api.post(path, body, format="json"), 403, "permission_denied")
        assert snapshot() == before

    def test_sending_needs_the_write_scope(self, school, partner_api, persona_api):
        before = snapshot()
        for api in (partner_api("notifications:read"), persona_api("admin", scope="notifications:read")):
            for path, body in [
                ("/api/notifications", {**GUIDE_NOTIFICATION, "recipientId": school.guardian.user_id}),
                ("/api/notifications/bulk", {**GUIDE_BULK, "recipientIds": [school.guardian.user_id]}),
            ]:
                assert_error(api.post(path, body, format="json"), 403, "insufficient_scope")
        assert snapshot() == before

    def test_reading_needs_the_read_scope(self, school, partner_api, persona_api, notify):
        notification_id = notify(school.guardian.user_id)
        for api in (partner_api("notifications:write"), persona_api("guardian", scope="students:read")):
            assert_error(api.get("/api/notifications"), 403, "insufficient_scope")
            assert_error(api.get(f"/api/notifications/{notification_id}"), 403, "insufficient_scope")
        guardian = persona_api("guardian", scope="students:read")
        assert_error(guardian.get("/api/notifications/unread-count"), 403, "insufficient_scope")
        assert_error(guardian.post(f"/api/notifications/{notification_id}/read"), 403, "insufficient_scope")
        assert_error(guardian.post("/api/notifications/read-all"), 403, "insufficient_scope")

    def test_a_family_app_with_only_the_read_scope_may_mark_its_users_notifications_read(
        self, school, persona_api, notify
    ):
        notification_id = notify(school.guardian.user_id)
        api = persona_api("guardian", scope="notifications:read")
        assert api.post(f"/api/notifications/{notification_id}/read").status_code == 200
        assert api.post("/api/notifications/read-all").status_code == 200
        assert api.get("/api/notifications/unread-count").json()["data"] == {"unread": 0}

    def test_marking_read_needs_a_token_issued_for_a_person(self, school, sender, notify):
        notification_id = notify(school.guardian.user_id)
        body = assert_error(sender.post(f"/api/notifications/{notification_id}/read"), 403, "permission_denied")
        assert "user" in body["details"][0]["message"]
        assert Notification.objects.get(pk=notification_id).read_at is None


class TestSendingOne:
    def test_it_sends_the_guides_payload_and_answers_with_the_notification(self, school, sender):
        response = sender.post(
            "/api/notifications", {**GUIDE_NOTIFICATION, "recipientId": school.guardian.user_id}, format="json"
        )
        assert response.status_code == 201, response.json()
        data = response.json()["data"]
        assert data["title"] == "School Event" and data["message"] == "PTA meeting tomorrow"
        assert (data["type"], data["priority"], data["recipientId"]) == ("info", "high", school.guardian.user_id)
        assert data["isRead"] is False and data["readAt"] is None and data["studentId"] is None
        assert {(d["channel"], d["status"]) for d in data["deliveries"]} == {("email", "queued"), ("in_app", "sent")}
        message = Message.objects.get(pk=data["messageId"])
        assert message.sender_app == sender.application and message.sender is None
        assert len(mail.outbox) == 0  # e-mail goes out from the task worker, never inside the request

    def test_a_member_of_staff_is_recorded_as_the_sender(self, school, persona_api):
        response = persona_api("office").post(
            "/api/notifications",
            {**GUIDE_NOTIFICATION, "recipientId": school.guardian.user_id, "studentId": school.child_a.pk},
            format="json",
        )
        data = response.json()["data"]
        assert (data["senderId"], data["studentId"]) == (school.office.pk, school.child_a.pk)

    def test_type_and_priority_default_to_info_and_normal(self, school, sender):
        response = sender.post(
            "/api/notifications", {"title": "T", "message": "M", "recipientId": school.guardian.user_id}, format="json"
        )
        assert (response.json()["data"]["type"], response.json()["data"]["priority"]) == ("info", "normal")

    def test_a_partner_cannot_reach_anyone_but_staff_and_the_families_of_the_school(self, school, sender):
        disabled = make_user("gone@family.test", is_active=False)
        make_guardian(school.child_a, user=disabled)
        stranger = make_user("stranger@example.org")  # an account that is neither staff nor a guardian
        removed_child = make_student(school.class_a)
        former = make_guardian(removed_child)
        removed_child.deleted_at = removed_child.created_at
        removed_child.save()
        before = snapshot()
        for recipient in (987654, disabled.pk, stranger.pk, former.user_id):
            response = sender.post(
                "/api/notifications", {**GUIDE_NOTIFICATION, "recipientId": recipient}, format="json"
            )
            assert str(recipient) in assert_error(response, 400, "validation_error")["details"][0]["message"]
        assert snapshot() == before

    def test_an_id_that_is_not_a_number_or_too_large_for_any_database_is_not_found(self, school, persona_api):
        api = persona_api("guardian")
        for path in ("/api/notifications/abc", "/api/notifications/99999999999999999999999"):
            assert_error(api.get(path), 404, "not_found")
            assert_error(api.post(f"{path}/read"), 404, "not_found")


class TestListing:
    def test_it_lists_newest_first_in_the_envelope_with_paging(self, school, persona_api, notify):
        ids = [notify(school.guardian.user_id, title=f"Notice {n}") for n in range(5)]
        response = persona_api("guardian").get("/api/notifications?page=2&limit=2")
        body = response.json()
        assert response.status_code == 200
        assert (body["count"], body["page"], body["limit"], body["totalPages"]) == (5, 2, 2, 3)
        assert [n["id"] for n in body["data"]] == [ids[2], ids[1]]
        assert response["X-Total-Count"] == "5" and 'rel="next"' in response["Link"]
        assert persona_api("guardian").get("/api/notifications/").status_code == 200

    def test_it_filters_by_read_state_type_and_priority(self, school, persona_api, notify):
        info = notify(school.guardian.user_id, type="info", priority="low")
        warning = notify(school.guardian.user_id, type="warning", priority="high")
        alert = notify(school.guardian.user_id, type="alert", priority="normal")
        api = persona_api("guardian")
        api.post(f"/api/notifications/{warning}/read")

        def listed(query: str) -> list[int]:
            response = api.get(f"/api/notifications?{query}")
            assert response.status_code == 200, response.json()
            return [n["id"] for n in response.json()["data"]]

        assert listed("read=true") == [warning]
        assert listed("read=false") == [alert, info]
        assert listed("type=alert") == [alert]
        assert listed("priority=low") == [info]
        assert listed("read=false&priority=normal") == [alert]

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("type=urgent", "type"),
            ("priority=HIGH", "priority"),
            ("read=maybe", "read"),
            ("limit=101", "limit"),
            ("page=0", "page"),
            ("colour=red", "colour"),
        ],
    )
    def test_it_rejects_bad_query_parameters(self, school, persona_api, query, field):
        body = assert_error(persona_api("guardian").get(f"/api/notifications?{query}"), 400, "validation_error")
        assert field in fields_in_error(body)

    def test_marking_read_keeps_the_first_time_and_updates_the_count(self, school, persona_api, notify):
        first, second = notify(school.guardian.user_id), notify(school.guardian.user_id)
        api = persona_api("guardian")
        assert api.get("/api/notifications/unread-count").json()["data"] == {"unread": 2}
        read = api.post(f"/api/notifications/{first}/read").json()["data"]
        assert read["isRead"] is True and read["readAt"]
        again = api.post(f"/api/notifications/{first}/read/").json()["data"]
        assert again["readAt"] == read["readAt"]
        assert api.get("/api/notifications/unread-count").json()["data"] == {"unread": 1}
        assert api.post("/api/notifications/read-all").json()["data"] == {"updated": 1}
        assert api.post("/api/notifications/read-all").json()["data"] == {"updated": 0}
        assert Notification.objects.get(pk=second).read_at is not None

    def test_the_list_costs_the_same_queries_for_few_notifications_or_many(self, school, persona_api, notify):
        api = persona_api("guardian")
        notify(school.guardian.user_id)
        api.get("/api/notifications?limit=100")
        with CaptureQueriesContext(connection) as few:
            response = api.get("/api/notifications?limit=100")
        assert len(response.json()["data"]) == 1
        for n in range(30):
            notify(school.guardian.user_id, title=f"Notice {n}", priority="high" if n % 2 else "normal")
        with CaptureQueriesContext(connection) as many:
            response = api.get("/api/notifications?limit=100")
        assert len(response.json()["data"]) == 31
        # the token (with its user and application), the application's data purposes, the count, the page
        # joined to its messages, its deliveries
        assert len(many) == len(few)
        assert len(many) == 5, [q["sql"] for q in many.captured_queries]

    def test_a_partners_list_costs_the_same_queries_for_few_notifications_or_many(self, school, sender, notify):
        notify(school.guardian.user_id)
        sender.get("/api/notifications?limit=100")
        with CaptureQueriesContext(connection) as few:
            sender.get("/api/notifications?limit=100")
        for _ in range(20):
            notify(school.outsider.user_id)
        with CaptureQueriesContext(connection) as many:
            response = sender.get("/api/notifications?limit=100")
        assert len(response.json()["data"]) == 21
        assert len(many) == len(few)


class TestBulk:
    def test_it_answers_at_once_with_how_many_were_created(self, school, sender):
        users = [school.guardian.user_id, school.outsider.user_id, school.guardian.user_id]  # a repeat counts once
        response = sender.post("/api/notifications/bulk", {**GUIDE_BULK, "recipientIds": users}, format="json")
        assert response.status_code == 201, response.json()
        data = response.json()["data"]
        assert data["count"] == 2 and data["message"] == "2 recipients"
        assert recipients_of(data["messageId"]) == {school.guardian.user_id, school.outsider.user_id}
        assert Message.objects.get(pk=data["messageId"]).recipient_count == 2
        assert len(mail.outbox) == 0

    def test_one_unknown_recipient_and_nothing_is_created(self, school, sender):
        before = snapshot()
        response = sender.post(
            "/api/notifications/bulk",
            {**GUIDE_BULK, "priority": "high", "recipientIds": [school.guardian.user_id, 999999, 888888]},
            format="json",
        )
        body = assert_error(response, 400, "validation_error")
        assert body["details"][0]["field"] == "recipientIds"
        assert "888888, 999999" in body["details"][0]["message"]
        assert snapshot() == before
        assert len(mail.outbox) == 0

    def test_one_recipient_out_of_a_teachers_reach_and_nothing_is_created(self, school, persona_api):
        before = snapshot()
        response = persona_api("teacher").post(
            "/api/notifications/bulk",
            {**GUIDE_BULK, "recipientIds": [school.guardian.user_id, school.outsider.user_id]},
            format="json",
        )
        body = assert_error(response, 400, "validation_error")
        assert str(school.outsider.user_id) in body["details"][0]["message"]
        assert str(school.guardian.user_id) not in body["details"][0]["message"]
        assert snapshot() == before

    def test_thousands_of_recipients_queue_one_task_and_send_no_email_in_the_request(self, school, sender):
        users = [make_user(f"p{n}@family.test") for n in range(3)]
        for user in users:
            make_guardian(make_student(school.class_a), user=user)
        response = sender.post(
            "/api/notifications/bulk",
            {**GUIDE_BULK, "priority": "high", "recipientIds": [u.pk for u in users]},
            format="json",
        )
        assert response.status_code == 201
        assert len(mail.outbox) == 0
        assert Delivery.objects.filter(channel="email", status="queued").count() == 3
        assert DBTaskResult.objects.filter(task_path="notifications.tasks.send_message_emails").count() == 1

    def test_the_bulk_send_costs_the_same_queries_for_ten_recipients_or_two_hundred(self, school, sender):
        def guardians(count: int) -> list[int]:
            group = make_class_group(year_group=9)
            return [make_guardian(make_student(group)).user_id for _ in range(count)]

        few, many = guardians(10), guardians(200)
        sender.post("/api/notifications/bulk", {**GUIDE_BULK, "recipientIds": few[:1]}, format="json")
        with CaptureQueriesContext(connection) as ten:
            response = sender.post(
                "/api/notifications/bulk", {**GUIDE_BULK, "priority": "high", "recipientIds": few}, format="json"
            )
        assert response.json()["data"]["count"] == 10
        with CaptureQueriesContext(connection) as two_hundred:
            response = sender.post(
                "/api/notifications/bulk", {**GUIDE_BULK, "priority": "high", "recipientIds": many}, format="json"
            )
        assert response.json()["data"]["count"] == 200
        assert Delivery.objects.filter(notification__message_id=response.json()["data"]["messageId"]).count() == 400
        assert len(two_hundred) == len(ten), [q["sql"] for q in two_hundred.captured_queries]
        # the token (with its application), the application's data purposes, savepoint, the recipients checked,
        # their addresses, the message, the notifications, their preferences, the deliveries, the task, release
        assert len(two_hundred) == 11, [q["sql"] for q in two_hundred.captured_queries]


class TestAudiences:
    @pytest.fixture
    def year_seven(self, school: Any) -> dict[str, Any]:
        """A second year-7 class, a year-8 class, and families that must or must not be reached."""
        class_c = make_class_group("7C", year_group=7)
        class_d = make_class_group("8D", year_group=8)
        sibling_in_c = make_student(class_c)
        Guardianship.objects.create(guardian=school.guardian, student=sibling_in_c, relationship="mother")
        in_c = make_guardian(make_student(class_c))
        in_d = make_guardian(make_student(class_d))
        left = make_guardian(make_student(school.class_a, status=Student.Status.LEFT))
        deleted_child = make_student(school.class_a)
        deleted = make_guardian(deleted_child)
        deleted_child.deleted_at = deleted_child.created_at
        deleted_child.save()
        disabled = make_guardian(make_student(school.class_a))
        disabled.user.is_active = False
        disabled.user.save()
        return {"in_c": in_c.user_id, "in_d": in_d.user_id, "not_reached": {left.user_id, deleted.user_id}}

    def send(self, api: Any, audience: dict[str, Any]) -> Any:
        return api.post("/api/notifications/bulk", {**GUIDE_BULK, "audience": audience}, format="json")

    def test_a_class_group_reaches_the_guardians_of_its_active_students(self, school, sender, year_seven):
        response = self.send(sender, {"classGroup": school.class_a.pk})
        assert response.status_code == 201, response.json()
        assert recipients_of(response.json()["data"]["messageId"]) == {school.guardian.user_id}
        assert response.json()["data"]["count"] == 1

    def test_a_year_group_reaches_the_guardians_of_every_class_in_it(self, school, sender, year_seven):
        response = self.send(sender, {"yearGroup": 7})
        assert recipients_of(response.json()["data"]["messageId"]) == {
            school.guardian.user_id,  # once, although two of their children are in year 7
            school.outsider.user_id,
            year_seven["in_c"],
        }
        message = Message.objects.get(pk=response.json()["data"]["messageId"])
        assert (message.audience, message.year_group) == (Message.Audience.YEAR_GROUP, 7)

    def test_the_whole_school_reaches_every_family_with_an_active_child(self, school, sender, year_seven):
        response = self.send(sender, {"school": True})
        assert recipients_of(response.json()["data"]["messageId"]) == {
            school.guardian.user_id,
            school.outsider.user_id,
            year_seven["in_c"],
            year_seven["in_d"],
        }

    def test_a_teacher_may_message_their_own_class_group(self, school, persona_api, year_seven):
        response = self.send(persona_api("teacher"), {"classGroup": school.class_a.pk})
        assert response.status_code == 201, response.json()
        assert recipients_of(response.json()["data"]["messageId"]) == {school.guardian.user_id}

    @pytest.mark.parametrize("audience", [{"classGroup": "class_b"}, {"yearGroup": 7}, {"school": True}])
    def test_a_teacher_cannot_message_families_beyond_their_classes(self, school, persona_api, audience):
        if audience.get("classGroup") == "class_b":
            audience = {"classGroup": school.class_b.pk}
        before = snapshot()
        body = assert_error(self.send(persona_api("teacher"), audience), 400, "validation_error")
        assert any(field.startswith("audience") for field in fields_in_error(body))
        assert snapshot() == before

    def test_an_audience_that_reaches_nobody_is_refused(self, school, sender):
        before = snapshot()
        assert_error(self.send(sender, {"yearGroup": 11}), 400, "validation_error")
        assert_error(self.send(sender, {"classGroup": 987654}), 400, "validation_error")
        assert snapshot() == before


BAD_BULK_INPUT = [
    # (fields to change, fields to leave out, the field the error names)
    ({}, ["title"], "title"),
    ({"title": ""}, [], "title"),
    ({"title": 12}, [], "title"),
    ({"title": "x" * 201}, [], "title"),
    ({}, ["message"], "message"),
    ({"message": ["not", "text"]}, [], "message"),
    ({"message": "x" * 5001}, [], "message"),
    ({"type": "urgent"}, [], "type"),
    ({"priority": "HIGH"}, [], "priority"),
    ({"priority": 3}, [], "priority"),
    ({"recipientIds": "1,2"}, [], "recipientIds"),
    ({"recipientIds": []}, [], "recipientIds"),
    ({"recipientIds": ["abc"]}, [], "recipientIds"),
    ({"recipientIds": [True]}, [], "recipientIds"),
    ({"recipientIds": [1.5]}, [], "recipientIds"),
    ({"recipientIds": [0]}, [], "recipientIds"),
    ({"recipientIds": [-3]}, [], "recipientIds"),
    ({"recipientIds": [10**20]}, [], "recipientIds"),
    ({"recipientIds": list(range(1, 10_002))}, [], "recipientIds"),
    ({"audience": {"school": True}}, [], "recipientIds"),  # both a list and an audience
    ({}, ["recipientIds"], "recipientIds"),  # neither
    ({"audience": {}}, ["recipientIds"], "audience"),
    ({"audience": {"school": True, "yearGroup": 7}}, ["recipientIds"], "audience"),
    ({"audience": {"school": False}}, ["recipientIds"], "audience"),
    ({"audience": {"house": "red"}}, ["recipientIds"], "audience.house"),
    ({"audience": {"yearGroup": 99}}, ["recipientIds"], "audience.yearGroup"),
    ({"audience": {"classGroup": "7A"}}, ["recipientIds"], "audience.classGroup"),
    ({"audience": ["school"]}, ["recipientIds"], "audience"),
    ({"studentId": "Amira"}, [], "studentId"),
    ({"studentId": 10**20}, [], "studentId"),
    ({"recipientId": 5}, [], "recipientId"),
    ({"sendAt": "tomorrow"}, [], "sendAt"),
]


class TestBadInput:
    @pytest.mark.parametrize(("change", "leave_out", "field"), BAD_BULK_INPUT)
    def test_a_bad_bulk_send_is_refused_and_creates_nothing(self, school, sender, change, leave_out, field):
        body = {**GUIDE_BULK, "recipientIds": [school.guardian.user_id], **change}
        for name in leave_out:
            body.pop(name)
        before = snapshot()
        error = assert_error(sender.post("/api/notifications/bulk", body, format="json"), 400, "validation_error")
        assert any(f and f.startswith(field) for f in fields_in_error(error)), error
        assert snapshot() == before

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"recipientId": None}, "recipientId"),
            ({"recipientId": "someone"}, "recipientId"),
            ({"recipientId": [1, 2]}, "recipientId"),
            ({"recipientId": 10**20}, "recipientId"),
            ({"recipientIds": [1, 2]}, "recipientIds"),
            ({"title": None}, "title"),
            ({"message": None}, "message"),
            ({"type": "Info"}, "type"),
            ({"priority": "urgent"}, "priority"),
        ],
    )
    def test_a_bad_single_send_is_refused_and_creates_nothing(self, school, sender, change, field):
        body = {**GUIDE_NOTIFICATION, "recipientId": school.guardian.user_id, **change}
        for name in ("recipientId", "title", "message"):
            if name in change and change[name] is None:
                body.pop(name)
        before = snapshot()
        error = assert_error(sender.post("/api/notifications", body, format="json"), 400, "validation_error")
        assert field in fields_in_error(error), error
        assert snapshot() == before

    def test_a_body_that_is_not_an_object_is_refused(self, school, sender):
        before = snapshot()
        for path in ("/api/notifications", "/api/notifications/bulk"):
            assert_error(sender.post(path, [GUIDE_BULK], format="json"), 400, "validation_error")
            response = sender.post(path, "title=x", content_type="application/x-www-form-urlencoded")
            assert_error(response, 415, "unsupported_media_type")
        assert snapshot() == before


def test_an_administrators_token_lists_their_own_inbox_not_everyones(school, persona_api, notify):
    notify(school.guardian.user_id)
    own = notify(school.admin.pk)
    listed = persona_api("admin").get("/api/notifications").json()
    assert [n["id"] for n in listed["data"]] == [own]
