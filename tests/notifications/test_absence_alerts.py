"""Absence alerts: one notification a day to each guardian with parental responsibility, when the school wants it.

The alert is sent after the commit that records the mark, so each marking request runs inside
`django_capture_on_commit_callbacks(execute=True)`, which runs the after-commit callbacks of the test's
transaction as a real commit would.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from notifications.models import AbsenceAlert, AbsenceAlertSettings, Message, Notification
from students.models import Guardianship
from tests.factories import make_guardian, make_user
from tests.tasks import run_queued_tasks

pytestmark = pytest.mark.django_db

MONDAY = datetime.date(2026, 11, 30)
FRIDAY_BEFORE = datetime.date(2026, 11, 27)


@pytest.fixture(autouse=True)
def monday_morning() -> Any:
    with time_machine.travel(datetime.datetime(2026, 11, 30, 9, 10, tzinfo=ZoneInfo("Europe/London"))):
        yield


@pytest.fixture
def family(school: Any) -> dict[str, int]:
    """Amira's mother (the school's guardian persona), her father, and a childminder without parental
    responsibility."""
    father = make_guardian(school.child_a, user=make_user("father@family.test"))
    childminder = make_guardian(user=make_user("minder@family.test"))
    Guardianship.objects.create(
        guardian=childminder, student=school.child_a, relationship="carer", parental_responsibility=False
    )
    return {"mother": school.guardian.user_id, "father": father.user_id, "childminder": childminder.user_id}


@pytest.fixture
def mark(persona_api: Callable[..., Any], django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Record one mark through the API and run what happens after its commit."""

    def record(student: Any, code: str, *, session: str = "AM", day: datetime.date = MONDAY, by: str = "teacher"):
        body = {"studentId": student.pk, "date": str(day), "session": session, "code": code}
        with django_capture_on_commit_callbacks(execute=True):
            response = persona_api(by).post("/api/attendance", body, format="json")
        assert response.status_code == 201, response.json()
        return response

    return record


def alerted() -> dict[int, int]:
    """How many absence alerts each user received."""
    counts: dict[int, int] = {}
    alerts = Notification.objects.filter(message__audience=Message.Audience.ABSENCE_ALERT)
    for recipient_id in alerts.values_list("recipient_id", flat=True):
        counts[recipient_id] = counts.get(recipient_id, 0) + 1
    return counts


def test_absent_morning_and_afternoon_gives_each_responsible_guardian_one_alert(school, family, mark):
    mark(school.child_a, "N", session="AM")
    mark(school.child_a, "N", session="PM")
    assert alerted() == {family["mother"]: 1, family["father"]: 1}  # not the childminder
    assert AbsenceAlert.objects.filter(student=school.child_a, date=MONDAY).count() == 1
    message = Message.objects.get(audience=Message.Audience.ABSENCE_ALERT)
    assert (message.type, message.priority, message.student, message.sender) == ("alert", "high", school.child_a, None)


def test_a_whole_register_and_a_single_mark_the_same_day_still_give_one_alert(
    school, family, mark, persona_api, django_capture_on_commit_callbacks
):
    register = {
        "classGroup": school.class_a.pk,
        "date": str(MONDAY),
        "session": "AM",
        "marks": [{"studentId": school.child_a.pk, "code": "N"}],
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = persona_api("teacher").post("/api/attendance/registers", register, format="json")
    assert response.status_code == 201, response.json()
    mark(school.child_a, "N", session="PM")
    assert alerted() == {family["mother"]: 1, family["father"]: 1}


def test_a_partner_recording_the_guides_absent_status_raises_the_alert(
    school, family, partner_api, django_capture_on_commit_callbacks
):
    api = partner_api("attendance:write")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/attendance", {"studentId": school.child_a.pk, "date": str(MONDAY), "status": "absent"}, format="json"
        )
    assert response.status_code == 201, response.json()
    assert alerted() == {family["mother"]: 1, family["father"]: 1}


def test_the_guardians_read_it_in_their_inbox_and_get_it_by_email(school, family, mark, persona_api):
    mark(school.child_a, "N")
    inbox = persona_api("guardian").get("/api/notifications").json()["data"]
    assert [(n["title"], n["type"], n["studentId"]) for n in inbox] == [
        ("Amira is absent today", "alert", school.child_a.pk)
    ]
    assert persona_api("outsider").get("/api/notifications").json()["count"] == 0
    assert mail.outbox == []
    run_queued_tasks()
    assert sorted(m.to[0] for m in mail.outbox) == ["father@family.test", "parent@family.test"]
    assert {m.subject for m in mail.outbox} == {"Amira is absent today"}


def test_the_text_comes_from_the_schools_template(school, family, mark):
    settings = AbsenceAlertSettings.current()
    settings.title = "{first_name} {last_name} ({class_group}) is not in school"
    settings.body = "We have not seen {first_name} on {date}. {unknown} stays as written."
    settings.save()
    mark(school.child_a, "N")
    message = Message.objects.get(audience=Message.Audience.ABSENCE_ALERT)
    assert message.title == "Amira Ahmed (7A) is not in school"
    assert message.body == "We have not seen Amira on 30 November 2026. {unknown} stays as written."


def test_the_default_text_names_the_child_and_the_day(school, family, mark):
    mark(school.child_a, "N")
    message = Message.objects.get(audience=Message.Audience.ABSENCE_ALERT)
    assert message.title == "Amira is absent today"
    assert message.body.startswith("Amira Ahmed was marked absent on 30 November 2026")


def test_nothing_is_sent_when_the_school_switched_alerts_off(school, family, mark):
    AbsenceAlertSettings.objects.update_or_create(pk=1, defaults={"enabled": False})
    mark(school.child_a, "N")
    assert alerted() == {}
    assert not AbsenceAlert.objects.exists()


def test_alerts_are_on_by_default(db):
    assert AbsenceAlertSettings.current().enabled is True


def test_a_mark_for_a_past_day_sends_nothing(school, family, mark):
    mark(school.child_a, "N", day=FRIDAY_BEFORE)
    assert alerted() == {}


@pytest.mark.parametrize("code", ["I", "M", "C", "/", "L", "U"])
def test_an_authorised_absence_or_a_child_in_school_sends_nothing(school, family, mark, code):
    mark(school.child_a, code, by="office")
    assert alerted() == {}


def test_a_correction_later_that_day_sends_nothing_more(
    school, family, mark, persona_api, django_capture_on_commit_callbacks
):
    record_id = mark(school.child_a, "N").json()["data"]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = persona_api("office").patch(f"/api/attendance/{record_id}", {"code": "O"}, format="json")
    assert response.status_code == 200, response.json()
    assert alerted() == {family["mother"]: 1, family["father"]: 1}


def test_each_child_gets_their_own_alert(school, family, mark):
    mark(school.child_a, "N")
    mark(school.child_b, "N", by="colleague")
    assert alerted() == {family["mother"]: 1, family["father"]: 1, school.outsider.user_id: 1}


def test_a_child_with_no_responsible_guardian_alerts_nobody(school, mark):
    Guardianship.objects.filter(student=school.child_b).update(parental_responsibility=False)
    mark(school.child_b, "N", by="colleague")
    assert alerted() == {}
    assert not Message.objects.exists()
