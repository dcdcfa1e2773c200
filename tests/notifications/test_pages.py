"""The notification pages: who may open what, composing with a preview, sending, inboxes and preferences."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, reverse

from notifications import services
from notifications.models import AbsenceAlertSettings, Delivery, Message, Notification, Preference
from notifications.urls import urlpatterns
from students.models import Student
from tests.factories import make_class_group, make_guardian, make_student, make_user
from tests.tasks import run_queued_tasks

pytestmark = pytest.mark.django_db

PERSONAS = ["admin", "office", "teacher", "colleague", "guardian", "outsider", "anonymous"]
STAFF_LOGIN = "/staff/login/"
FAMILY_LOGIN = "/family/login/"


def user_of(school: Any, persona: str) -> Any:
    return {
        "admin": school.admin,
        "office": school.office,
        "teacher": school.teacher,
        "colleague": school.colleague,
        "guardian": school.guardian.user,
        "outsider": school.outsider.user,
        "anonymous": None,
    }[persona]


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def sent(school: Any) -> dict[str, Any]:
    """A teacher's message to the guardians of 7A, and the office's message to the teacher."""
    to_class = services.message_send(
        actor=school.teacher,
        audience=services.Audience(kind=Message.Audience.CLASS_GROUP, class_group=school.class_a),
        title="Trip on Friday",
        body="Bring a packed lunch.",
    )
    to_teacher = services.message_send(
        actor=school.office,
        audience=services.Audience(user_ids=(school.teacher.pk,)),
        title="Staff meeting",
        body="4pm",
    )
    return {
        "message": to_class,
        "family_notification": to_class.notifications.get(recipient=school.guardian.user),
        "staff_notification": to_teacher.notifications.get(),
    }


# Who gets what: 200, 403, 404, or the sign-in page ("staff" / "family") for anyone not signed in.
STAFF_PAGE = dict(admin=200, office=200, teacher=200, colleague=200, guardian=403, outsider=403, anonymous="staff")
TEACHERS_OWN = dict(admin=200, office=200, teacher=200, colleague=404, guardian=403, outsider=403, anonymous="staff")
TEACHERS_INBOX = dict(admin=404, office=404, teacher=200, colleague=404, guardian=403, outsider=403, anonymous="staff")
OFFICE_ONLY = dict(admin=200, office=200, teacher=403, colleague=403, guardian=403, outsider=403, anonymous="staff")
STAFF_POST = dict(admin=302, office=302, teacher=302, colleague=302, guardian=403, outsider=403, anonymous="staff")
FAMILY_PAGE = dict(admin=403, office=403, teacher=403, colleague=403, guardian=200, outsider=200, anonymous="family")
GUARDIANS_OWN = dict(admin=403, office=403, teacher=403, colleague=403, guardian=200, outsider=404, anonymous="family")
FAMILY_POST = dict(admin=403, office=403, teacher=403, colleague=403, guardian=302, outsider=302, anonymous="family")
EVERYONE_REDIRECTED = dict(
    admin=302, office=302, teacher=302, colleague=302, guardian=302, outsider=302, anonymous="family"
)

PAGES: dict[str, tuple[str, dict[str, Any]]] = {
    "notifications": ("get", EVERYONE_REDIRECTED),
    "staff-notifications": ("get", STAFF_PAGE),
    "staff-notification-compose": ("get", STAFF_PAGE),
    "staff-notification-message": ("get", TEACHERS_OWN),
    "staff-inbox": ("get", STAFF_PAGE),
    "staff-inbox-notification": ("get", TEACHERS_INBOX),
    "staff-inbox-read-all": ("post", STAFF_POST),
    "staff-notification-preferences": ("get", STAFF_PAGE),
    "staff-absence-alerts": ("get", OFFICE_ONLY),
    "family-inbox": ("get", FAMILY_PAGE),
    "family-notification": ("get", GUARDIANS_OWN),
    "family-inbox-read-all": ("post", FAMILY_POST),
    "family-notification-preferences": ("get", FAMILY_PAGE),
}


# The URL routes this module's sweep decides for every persona (tests/harmony/test_pages.py checks none is missed).
SWEPT_ROUTES = {str(pattern.pattern) for pattern in urlpatterns if getattr(pattern, "name", None) in PAGES}


def url_of(name: str, sent: dict[str, Any]) -> str:
    args = {
        "staff-notification-message": [sent["message"].pk],
        "staff-inbox-notification": [sent["staff_notification"].pk],
        "family-notification": [sent["family_notification"].pk],
    }.get(name, [])
    return reverse(name, args=args)


def test_every_page_of_the_app_has_its_access_rules_in_this_file() -> None:
    names = {pattern.name for pattern in urlpatterns if isinstance(pattern, URLPattern)}
    assert names == set(PAGES)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_persona_gets_the_expected_answer_from_each_page(school, sent, name, persona):
    method, expected = PAGES[name]
    url = url_of(name, sent)
    response = getattr(client_for(user_of(school, persona)), method)(url)
    wanted = expected[persona]
    if wanted in ("staff", "family"):
        assert response.status_code == 302
        login = STAFF_LOGIN if wanted == "staff" else FAMILY_LOGIN
        assert response["Location"].startswith(f"{login}?next=")
    else:
        assert response.status_code == wanted, response.content[:300]


def test_the_link_in_e_mails_takes_each_person_to_their_own_inbox(school):
    assert client_for(school.guardian.user).get("/notifications/")["Location"] == "/family/notifications/"
    assert client_for(school.teacher).get("/notifications/")["Location"] == "/staff/notifications/inbox/"
    assert client_for(None).get("/notifications/")["Location"] == "/family/login/?next=/notifications/"


def test_an_account_that_is_neither_staff_nor_guardian_has_no_inbox(school):
    assert client_for(make_user("nobody@example.org")).get("/notifications/").status_code == 403


def test_marking_all_read_answers_only_to_a_post(school):
    assert client_for(school.guardian.user).get("/family/notifications/read-all/").status_code == 405


# Families never see another family's notification.


def test_a_guardian_never_sees_another_familys_notification(school, sent):
    notification = sent["family_notification"]
    outsider = client_for(school.outsider.user)
    assert outsider.get(f"/family/notifications/{notification.pk}/").status_code == 404
    assert "Trip on Friday" not in outsider.get("/family/notifications/").content.decode()
    notification.refresh_from_db()
    assert notification.read_at is None


def test_a_teacher_cannot_open_a_colleagues_inbox_item_or_message(school, sent):
    colleague = client_for(school.colleague)
    assert colleague.get(f"/staff/notifications/inbox/{sent['staff_notification'].pk}/").status_code == 404
    assert colleague.get(f"/staff/notifications/{sent['message'].pk}/").status_code == 404


# The inbox: unread first, open, mark all read, the count in the navigation.


def test_the_inbox_lists_unread_notifications_first_and_counts_them_in_the_navigation(school, sent):
    newer = services.message_send(
        actor=school.office,
        audience=services.Audience(user_ids=(school.guardian.user_id,)),
        title="Newer, already read",
        body="Read.",
    )
    Notification.objects.filter(message=newer).update(read_at="2026-01-01T10:00:00Z")
    page = client_for(school.guardian.user).get("/family/notifications/").content.decode()
    assert page.index("Trip on Friday") < page.index("Newer, already read")
    assert 'data-unread="1"' in page


def test_opening_a_notification_marks_it_read(school, sent):
    notification = sent["family_notification"]
    guardian = client_for(school.guardian.user)
    response = guardian.get(f"/family/notifications/{notification.pk}/")
    assert "Bring a packed lunch." in response.content.decode()
    notification.refresh_from_db()
    assert notification.read_at is not None
    assert 'data-unread="' not in guardian.get("/family/notifications/").content.decode()


def test_mark_all_read_marks_only_my_notifications(school, sent):
    services.message_send(
        actor=school.office,
        audience=services.Audience(user_ids=(school.guardian.user_id, school.outsider.user_id)),
        title="Both",
        body="Both families.",
    )
    response = client_for(school.guardian.user).post("/family/notifications/read-all/")
    assert response["Location"] == "/family/notifications/"
    assert not Notification.objects.filter(recipient=school.guardian.user, read_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=school.outsider.user, read_at__isnull=True).count() == 1


def test_staff_read_their_own_inbox_with_the_same_pages(school, sent):
    teacher = client_for(school.teacher)
    assert "Staff meeting" in teacher.get("/staff/notifications/inbox/").content.decode()
    teacher.post("/staff/notifications/inbox/read-all/")
    assert Notification.objects.get(pk=sent["staff_notification"].pk).read_at is not None


def test_the_inbox_costs_the_same_queries_however_many_notifications(school):
    guardian = client_for(school.guardian.user)

    def queries_for(notifications: int) -> int:
        for n in range(notifications):
            services.message_send(
                actor=school.office,
                audience=services.Audience(user_ids=(school.guardian.user_id,)),
                title=f"Note {n}",
                body="Body",
            )
        Message.objects.filter(title__startswith="Note").update(student=school.child_a)
        with CaptureQueriesContext(connection) as queries:
            assert guardian.get("/family/notifications/").status_code == 200
        return len(queries)

    few = queries_for(2)
    many = queries_for(15)
    # session, user, the guardian behind the user, count for the pager, the unread count in the navigation,
    # the page of notifications with their messages and children; the consent banner: the children, the
    # purposes that ask for consent, their texts, the consent states
    assert few == many == 10


# The staff sent list and a message's recipients.


def _read_and_deliver(message: Message) -> None:
    run_queued_tasks()
    first = message.notifications.order_by("pk").first()
    Notification.objects.filter(pk=first.pk).update(read_at="2026-01-01T10:00:00Z")


def test_the_sent_list_costs_the_same_queries_however_many_messages(school):
    office = client_for(school.office)

    def queries_for(messages: int) -> int:
        for n in range(messages):
            services.message_send(
                actor=school.office,
                audience=services.Audience(kind=Message.Audience.CLASS_GROUP, class_group=school.class_a),
                title=f"Message {n}",
                body="Body",
                priority="high",
            )
        with CaptureQueriesContext(connection) as queries:
            assert office.get("/staff/notifications/").status_code == 200
        return len(queries)

    few = queries_for(2)
    many = queries_for(12)
    # session, user, the user's roles, count for the pager, the unread count in the navigation, the page of
    # messages with their figures, senders and class groups
    assert few == many == 6


def test_the_sent_list_shows_each_messages_figures(school):
    second_guardian = make_guardian(school.child_a, user=make_user("dad@family.test", first_name="Dan"))
    Preference.objects.create(user=second_guardian.user, email_types=[])
    message = services.message_send(
        actor=school.teacher,
        audience=services.Audience(kind=Message.Audience.CLASS_GROUP, class_group=school.class_a),
        title="Sports day",
        body="Wear trainers.",
        type="warning",
    )
    _read_and_deliver(message)
    response = client_for(school.teacher).get("/staff/notifications/")
    row = next(m for m in response.context["page"] if m.pk == message.pk)
    assert (row.recipient_count, row.emails_sent, row.emails_failed, row.emails_pending, row.read_count) == (
        2,
        1,
        0,
        0,
        1,
    )
    Delivery.objects.filter(notification__message=message, channel="email").update(status="failed", attempts=5)
    row = client_for(school.teacher).get("/staff/notifications/").context["page"][0]
    assert (row.emails_sent, row.emails_failed) == (0, 1)


def test_office_sees_every_sent_message_and_a_teacher_only_their_own(school, sent):
    by_colleague = services.message_send(
        actor=school.colleague,
        audience=services.Audience(kind=Message.Audience.CLASS_GROUP, class_group=school.class_b),
        title="7B homework",
        body="Page 12.",
    )
    office = client_for(school.office).get("/staff/notifications/").content.decode()
    assert "Trip on Friday" in office and "7B homework" in office and "Staff meeting" in office
    teacher = client_for(school.teacher).get("/staff/notifications/").content.decode()
    assert "Trip on Friday" in teacher and "7B homework" not in teacher
    assert client_for(school.teacher).get(f"/staff/notifications/{by_colleague.pk}/").status_code == 404


def test_a_messages_page_lists_its_recipients_with_read_and_e_mail_status(school):
    no_email = make_guardian(school.child_a, user=make_user("noemail", first_name="Nora", last_name="Noemail"))
    no_email.user.email = ""
    no_email.user.save()
    message = services.message_send(
        actor=school.teacher,
        audience=services.Audience(kind=Message.Audience.CLASS_GROUP, class_group=school.class_a),
        title="Alert",
        body="Closed.",
        type="alert",
    )
    run_queued_tasks()
    Notification.objects.filter(message=message, recipient=school.guardian.user).update(read_at="2026-01-01T10:00:00Z")
    page = client_for(school.teacher).get(f"/staff/notifications/{message.pk}/").content.decode()
    fatima = page[page.index(f'data-recipient="{school.guardian.user_id}"') :]
    fatima = fatima[: fatima.index("</tr>")]
    assert "Read" in fatima and "Delivered" in fatima
    nora = page[page.index(f'data-recipient="{no_email.user_id}"') :]
    nora = nora[: nora.index("</tr>")]
    assert "Not read yet" in nora and "Not by e-mail" in nora


# Composing: the preview counts, the send, and what reaches the outbox.


@pytest.fixture
def class_c(school: Any) -> Any:
    """7C: four families with different e-mail wishes, a child who left, and a guardian whose account is closed."""
    group = make_class_group("7C", year_group=7, tutor=school.teacher)
    default = make_guardian(make_student(group), make_student(group), user=make_user("default@family.test"))
    wants_info = make_guardian(make_student(group), user=make_user("info@family.test"))
    Preference.objects.create(user=wants_info.user, email_types=["info"])
    wants_nothing = make_guardian(make_student(group), user=make_user("none@family.test"))
    Preference.objects.create(user=wants_nothing.user, email_types=[])
    no_address = make_guardian(make_student(group), user=make_user("noaddress"))
    no_address.user.email = ""
    no_address.user.save()
    Preference.objects.create(user=no_address.user, email_types=["info"])
    make_guardian(make_student(group, status=Student.Status.LEFT), user=make_user("left@family.test"))
    closed = make_guardian(make_student(group), user=make_user("closed@family.test"))
    closed.user.is_active = False
    closed.user.save()
    return {"group": group, "default": default, "wants_info": wants_info, "wants_nothing": wants_nothing}


def compose(client: Client, action: str = "preview", **fields: Any) -> Any:
    data = {"audience": "class_group", "title": "Title", "body": "Body", "type": "info", "priority": "normal"}
    data.update(fields)
    data["action"] = action
    return client.post("/staff/notifications/new/", data)


@pytest.mark.parametrize(
    ("type", "priority", "by_email"),
    [
        ("info", "normal", 1),  # only the guardian who asked for information by e-mail
        ("warning", "normal", 1),  # only the guardian on the default preferences (warnings and alerts)
        ("success", "low", 0),
        ("info", "high", 3),  # high priority: everyone with an address, whatever they chose
    ],
)
def test_the_preview_counts_guardians_and_who_gets_e_mail(school, class_c, type, priority, by_email):
    response = compose(
        client_for(school.office), class_group=class_c["group"].pk, type=type, priority=priority, title="Trip"
    )
    assert response.status_code == 200
    preview = response.context["preview"]
    assert (preview.recipients, preview.guardians, preview.guardians_by_email) == (4, 4, by_email)
    assert preview.without_address == 1
    assert f'data-figure="guardians-by-email">{by_email}<' in response.content.decode()
    assert not Message.objects.exists()


def test_the_preview_counts_staff_and_guardians_chosen_one_by_one(school):
    response = compose(
        client_for(school.office), audience="individuals", recipients=[school.teacher.pk, school.guardian.user_id]
    )
    preview = response.context["preview"]
    assert (preview.recipients, preview.guardians, preview.by_email) == (2, 1, 0)


def test_sending_from_the_page_queues_e_mails_that_the_task_queue_delivers(school, class_c):
    office = client_for(school.office)
    preview = compose(office, class_group=class_c["group"].pk, title="Trip to the zoo", body="Bring a hat.")
    key = preview.context["preview_key"]
    response = compose(
        office, "send", class_group=class_c["group"].pk, title="Trip to the zoo", body="Bring a hat.", previewed=key
    )
    message = Message.objects.get()
    assert response["Location"] == f"/staff/notifications/{message.pk}/"
    assert message.sender == school.office and message.recipient_count == 4
    assert Notification.objects.filter(message=message).count() == 4
    assert mail.outbox == []  # nothing goes out inside the request
    run_queued_tasks()
    assert [m.to for m in mail.outbox] == [["info@family.test"]]
    email = mail.outbox[0]
    assert email.subject == "Trip to the zoo"
    assert "Bring a hat." in email.body and "http://127.0.0.1:8000/notifications/" in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html" and "Bring a hat." in html and 'href="http://127.0.0.1:8000/notifications/"' in html


def test_a_high_priority_message_goes_by_e_mail_to_everyone_with_an_address(school, class_c):
    office = client_for(school.office)
    fields = {"class_group": class_c["group"].pk, "priority": "high", "type": "success"}
    key = compose(office, **fields).context["preview_key"]
    compose(office, "send", previewed=key, **fields)
    run_queued_tasks()
    assert sorted(m.to[0] for m in mail.outbox) == ["default@family.test", "info@family.test", "none@family.test"]


def test_a_send_whose_audience_changed_since_the_preview_is_previewed_again(school, class_c):
    office = client_for(school.office)
    key = compose(office, class_group=school.class_a.pk).context["preview_key"]
    response = compose(office, "send", class_group=class_c["group"].pk, previewed=key)
    assert response.status_code == 200
    assert response.context["preview"].recipients == 4
    assert not Message.objects.exists()


def test_a_send_without_a_preview_only_previews(school):
    response = compose(client_for(school.office), "send", class_group=school.class_a.pk)
    assert response.status_code == 200 and response.context["preview"].recipients == 1
    assert not Message.objects.exists()


def test_a_teacher_messages_the_guardians_of_their_own_class_group(school):
    teacher = client_for(school.teacher)
    key = compose(teacher, class_group=school.class_a.pk).context["preview_key"]
    compose(teacher, "send", class_group=school.class_a.pk, previewed=key)
    assert list(Notification.objects.values_list("recipient", flat=True)) == [school.guardian.user_id]


def test_a_teacher_composing_for_another_class_gets_an_error_not_a_send(school):
    teacher = client_for(school.teacher)
    forged = f"class_group||{school.class_b.pk}||info|normal"
    response = compose(teacher, "send", class_group=school.class_b.pk, previewed=forged)
    assert response.status_code == 200
    assert "Choose one of your own class groups." in response.content.decode()
    assert response.context["preview"] is None
    assert not Message.objects.exists()


def test_a_teacher_cannot_message_a_whole_year_or_the_school(school):
    teacher = client_for(school.teacher)
    for audience in ("year_group", "school"):
        response = compose(teacher, "send", audience=audience, year_group=7)
        assert "audience" in response.context["form"].errors
    assert not Message.objects.exists()


def test_a_teacher_cannot_choose_a_guardian_of_another_class(school):
    response = compose(client_for(school.teacher), audience="individuals", recipients=[school.outsider.user_id])
    assert "recipients" in response.context["form"].errors
    assert response.context["preview"] is None


def test_the_office_messages_a_year_group_and_the_whole_school(school):
    office = client_for(school.office)
    make_class_group("8A", year_group=8)
    assert compose(office, audience="year_group", year_group=7).context["preview"].recipients == 2
    assert compose(office, audience="school").context["preview"].recipients == 2


def test_a_class_group_without_guardians_cannot_be_sent_to(school):
    empty = make_class_group("9Z", year_group=9)
    response = compose(client_for(school.office), class_group=empty.pk)
    assert response.context["preview"].recipients == 0
    assert "data-send" not in response.content.decode()


def test_composing_requires_a_title_a_message_and_a_choice_of_people(school):
    response = compose(client_for(school.office), audience="individuals", title="", body="")
    errors = response.context["form"].errors
    assert {"title", "body", "recipients"} <= set(errors)


# Preferences decide who gets e-mail; high priority always does.


def test_preferences_change_who_gets_e_mail(school):
    guardian = client_for(school.guardian.user)
    page = guardian.get("/family/notifications/preferences/").content.decode()
    assert "High-priority notifications always come by e-mail" in page
    assert guardian.get("/family/notifications/preferences/").context["form"].initial == {
        "email_types": ["warning", "alert"]
    }

    def send(type: str, priority: str = "normal") -> list[str]:
        mail.outbox.clear()
        services.message_send(
            actor=school.office,
            audience=services.Audience(kind=Message.Audience.CLASS_GROUP, class_group=school.class_a),
            title=f"{type} {priority}",
            body="Body",
            type=type,
            priority=priority,
        )
        run_queued_tasks()
        return [m.to[0] for m in mail.outbox]

    assert send("info") == []
    response = guardian.post("/family/notifications/preferences/", {"email_types": ["info"]})
    assert response["Location"] == "/family/notifications/preferences/"
    assert send("info") == ["parent@family.test"]
    assert send("alert") == []
    guardian.post("/family/notifications/preferences/", {})
    assert Preference.objects.get(user=school.guardian.user).email_types == []
    assert send("info") == []
    assert send("info", "high") == ["parent@family.test"]


def test_preferences_refuse_an_unknown_type(school):
    response = client_for(school.guardian.user).post("/family/notifications/preferences/", {"email_types": ["sms"]})
    assert response.status_code == 200
    assert not Preference.objects.exists()


def test_staff_set_their_own_preferences(school):
    client_for(school.teacher).post("/staff/notifications/preferences/", {"email_types": ["success"]})
    assert Preference.objects.get(user=school.teacher).email_types == ["success"]


# Absence alert settings: the office's page and the admin.


def test_the_office_switches_absence_alerts_off_and_edits_their_text(school):
    office = client_for(school.office)
    page = office.get("/staff/notifications/absence-alerts/").content.decode()
    assert "{first_name}" in page and "Sam is absent today" in page
    response = office.post(
        "/staff/notifications/absence-alerts/",
        {"title": "{first_name} was not in {class_group}", "body": "Dear family, {first_name} {last_name} on {date}."},
    )
    assert response["Location"] == "/staff/notifications/absence-alerts/"
    current = AbsenceAlertSettings.current()
    assert not current.enabled and current.title == "{first_name} was not in {class_group}"
    assert "Sam was not in 7A" in office.get("/staff/notifications/absence-alerts/").content.decode()


def test_absence_alert_texts_with_unknown_placeholders_or_stray_braces_are_refused(school):
    office = client_for(school.office)
    for title in ("{firstname} is absent", "{first_name is absent"):
        response = office.post(
            "/staff/notifications/absence-alerts/", {"enabled": "on", "title": title, "body": "Body"}
        )
        assert response.status_code == 200 and "title" in response.context["form"].errors
    assert AbsenceAlertSettings.current().title == "{first_name} is absent today"


def test_a_teacher_cannot_change_absence_alerts(school):
    response = client_for(school.teacher).post(
        "/staff/notifications/absence-alerts/", {"enabled": "", "title": "T", "body": "B"}
    )
    assert response.status_code == 403
    assert AbsenceAlertSettings.current().enabled


# The admin.


@pytest.fixture
def admin_client_of_school(school: Any) -> Client:
    return client_for(school.admin)


def test_the_admin_lists_messages_by_title_without_their_texts(school, sent, admin_client_of_school):
    response = admin_client_of_school.get("/admin/notifications/message/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Trip on Friday" in page and "Bring a packed lunch." not in page
    detail = admin_client_of_school.get(f"/admin/notifications/message/{sent['message'].pk}/change/")
    assert "Bring a packed lunch." in detail.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/admin/notifications/message/?q=Trip&type__exact=info",
        "/admin/notifications/notification/?q=parent&read_at__isempty=1",
        "/admin/notifications/delivery/?status__exact=queued&channel__exact=email",
        "/admin/notifications/absencealert/",
    ],
)
def test_the_admin_list_pages_search_and_filter(school, sent, admin_client_of_school, path):
    response = admin_client_of_school.get(path)
    assert response.status_code == 200
    assert "Bring a packed lunch." not in response.content.decode()


def test_the_admin_lists_preferences_for_a_superuser(school):
    Preference.objects.create(user=school.guardian.user, email_types=["info"])
    superuser = make_user("root@school.test", is_staff=True, is_superuser=True)
    assert client_for(superuser).get("/admin/notifications/preference/?q=parent").status_code == 200


def test_the_office_edits_absence_alerts_in_the_admin_too(school):
    school.office.is_staff = True
    school.office.save()
    office = client_for(school.office)
    changelist = office.get("/admin/notifications/absencealertsettings/")
    assert changelist.status_code == 302
    change_url = changelist["Location"]
    response = office.post(change_url, {"title": "{first_name} absent", "body": "{first_name} on {date}."})
    assert response.status_code == 302
    assert not AbsenceAlertSettings.current().enabled
    refused = office.post(change_url, {"enabled": "on", "title": "{name} absent", "body": "B"})
    assert refused.status_code == 200
    assert AbsenceAlertSettings.current().title == "{first_name} absent"


def test_a_teacher_with_admin_access_cannot_see_notification_records(school, sent):
    school.teacher.is_staff = True
    school.teacher.save()
    assert client_for(school.teacher).get("/admin/notifications/message/").status_code == 403
