"""The notifications app's privacy provider: what it declares, what it exports and what erasure leaves."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.db.models import ForeignKey, OneToOneField

from notifications import privacy
from notifications.models import AbsenceAlert, Delivery, Message, Notification, Preference
from students.models import Student
from tests.tasks import run_queued_tasks

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Request:
    """A privacy request's subject, as the privacy app will pass it: a student or a user."""

    student: Any = None
    user: Any = None


def everything_stored() -> str:
    """Every text the app keeps, in one string to search for a name."""
    rows = [
        *Message.objects.values_list("title", "body"),
        *Delivery.objects.values_list("last_error"),
        *Preference.objects.values_list("email_types"),
    ]
    return json.dumps(rows, default=str)


@pytest.fixture
def correspondence(school: Any, notify: Any, sender: Any, persona_api: Any) -> dict[str, Any]:
    """The office writes to Amira's mother about her, a partner writes to both families, the outsider's child
    has an absence alert, and the mother has chosen which e-mails she wants."""
    office = persona_api("office")
    about_amira = notify(
        school.guardian.user_id,
        client=office,
        title="Amira's trip",
        message="Amira Ahmed goes to the museum.",
        studentId=school.child_a.pk,
        priority="high",
    )
    holiday = {"title": "Holiday notice", "message": "School closed on Friday."}
    families = [school.guardian.user_id, school.outsider.user_id]
    to_both = sender.post("/api/notifications/bulk", {**holiday, "recipientIds": families}, format="json")
    mentions = notify(school.outsider.user_id, client=office, title="Prize", message="Well done to Amira Ahmed!")
    Preference.objects.create(user=school.guardian.user, email_types=["alert"])
    AbsenceAlert.objects.create(student=school.child_a, date=datetime.date(2026, 11, 30))
    AbsenceAlert.objects.create(student=school.child_b, date=datetime.date(2026, 11, 30))
    run_queued_tasks()
    return {"about_amira": about_amira, "to_both": to_both.json()["data"]["messageId"], "mentions": mentions}


class TestDeclarations:
    def test_every_field_pointing_to_a_person_is_declared(self):
        declared = {d["model"]: set(d["fields"]) for d in privacy.DECLARATIONS}
        people = {settings.AUTH_USER_MODEL.lower(), "students.student"}
        for model in apps.get_app_config("notifications").get_models():
            for field in model._meta.get_fields():
                if isinstance(field, (ForeignKey, OneToOneField)) and field.related_model._meta.label_lower in people:
                    assert field.name in declared.get(model._meta.label, set()), f"{model._meta.label}.{field.name}"

    def test_every_declaration_names_real_fields_a_category_a_purpose_and_a_retention(self):
        for declaration in privacy.DECLARATIONS:
            model = apps.get_model(declaration["model"])
            for name in declaration["fields"]:
                model._meta.get_field(name)
            assert declaration["category"] and declaration["purpose"] and declaration["retention"]

    def test_the_issues_fields_are_all_declared(self):
        declared = {d["model"]: set(d["fields"]) for d in privacy.DECLARATIONS}
        assert {"title", "body", "student", "sender"} <= declared["notifications.Message"]
        assert {"recipient", "read_at"} <= declared["notifications.Notification"]
        assert {"last_error"} <= declared["notifications.Delivery"]
        assert {"email_types"} <= declared["notifications.Preference"]
        assert {"student"} <= declared["notifications.AbsenceAlert"]


class TestExport:
    def test_a_guardian_gets_what_they_received_with_its_deliveries(self, school, correspondence):
        data = privacy.export(school.guardian.user)
        json.dumps(data)  # ready for the export's JSON file as it is
        assert [n["title"] for n in data["received"]] == ["Amira's trip", "Holiday notice"]
        trip = data["received"][0]
        assert trip["studentId"] == school.child_a.pk and trip["sentBy"] == "school staff"
        assert {(d["channel"], d["status"]) for d in trip["deliveries"]} == {("email", "sent"), ("in_app", "sent")}
        assert data["sent"] == []
        assert data["preferences"] == {"emailTypes": ["alert"]}
        assert "Prize" not in json.dumps(data)  # another family's notification

    def test_a_member_of_staff_gets_what_they_sent(self, school, correspondence):
        data = privacy.export(Request(user=school.office))
        json.dumps(data)
        assert [(m["title"], m["recipientCount"]) for m in data["sent"]] == [("Amira's trip", 1), ("Prize", 1)]
        assert data["received"] == [] and data["preferences"] is None

    def test_a_student_gets_the_messages_about_them_and_their_absence_alerts(self, school, correspondence):
        data = privacy.export(Request(student=school.child_a))
        json.dumps(data)
        assert [m["title"] for m in data["messagesAbout"]] == ["Amira's trip"]
        assert data["absenceAlerts"] == ["2026-11-30"]
        assert privacy.export(school.child_b)["messagesAbout"] == []


class TestErasingAUser:
    def test_their_notifications_deliveries_and_preferences_go_and_nobody_elses(self, school, correspondence):
        outsider_before = set(Notification.objects.filter(recipient=school.outsider.user).values_list("pk", flat=True))
        result = privacy.erase(Request(user=school.guardian.user))
        assert not Notification.objects.filter(recipient=school.guardian.user).exists()
        assert not Delivery.objects.filter(notification__recipient=school.guardian.user).exists()
        assert not Preference.objects.filter(user=school.guardian.user).exists()
        assert set(Notification.objects.filter(recipient=school.outsider.user).values_list("pk", flat=True)) == (
            outsider_before
        )
        assert result["erased"] and isinstance(result["kept"], list)
        json.dumps(result)

    def test_a_message_written_to_them_alone_goes_with_them(self, school, correspondence):
        trip = Notification.objects.get(pk=correspondence["about_amira"]).message_id
        holiday = correspondence["to_both"]
        privacy.erase(school.guardian.user)
        assert not Message.objects.filter(pk=trip).exists()
        assert Message.objects.filter(pk=holiday).exists()  # the partner's message reached others too

    def test_messages_they_sent_stay_with_their_recipients_but_not_their_name(self, school, correspondence):
        result = privacy.erase(school.office)
        assert not Message.objects.filter(sender=school.office).exists()
        prize = Notification.objects.get(pk=correspondence["mentions"])
        assert prize.message.sender is None and prize.message.title == "Prize"
        assert result["kept"][0]["why"]

    def test_erasing_twice_is_harmless(self, school, correspondence):
        privacy.erase(school.guardian.user)
        assert privacy.erase(school.guardian.user)["kept"] == []


class TestErasingAStudent:
    def test_messages_about_them_keep_no_name_or_text_of_theirs(self, school, correspondence, persona_api):
        privacy.erase(Request(student=school.child_a))
        assert "Amira" not in everything_stored() and "Ahmed" not in everything_stored()
        assert not Message.objects.filter(student=school.child_a).exists()
        scrubbed = Message.objects.filter(title=privacy.ERASED_TEXT)
        assert scrubbed.count() == 2  # the one linked to her and the one naming her in full
        assert all(m.body == privacy.ERASED_TEXT for m in scrubbed)
        inbox = persona_api("guardian").get("/api/notifications").json()["data"]
        assert {n["title"] for n in inbox} == {privacy.ERASED_TEXT, "Holiday notice"}
        assert all(n["studentId"] is None for n in inbox)

    def test_their_absence_alerts_go_and_other_childrens_stay(self, school, correspondence):
        privacy.erase(school.child_a)
        assert list(AbsenceAlert.objects.values_list("student_id", flat=True)) == [school.child_b.pk]

    def test_messages_about_other_children_are_untouched(self, school, correspondence):
        privacy.erase(school.child_b)
        assert Message.objects.filter(title="Amira's trip", student=school.child_a).exists()
        assert Message.objects.filter(body="Well done to Amira Ahmed!").exists()

    def test_a_student_whose_name_is_already_gone_is_erased_by_link_alone(self, school, correspondence):
        Student.objects.filter(pk=school.child_a.pk).update(first_name="", last_name="")
        school.child_a.refresh_from_db()
        privacy.erase(school.child_a)
        assert Message.objects.filter(title=privacy.ERASED_TEXT).count() == 1
        assert Message.objects.filter(title="Holiday notice").exists()  # an empty name matches nothing
