"""A message's whole journey in a real browser: composed and previewed by a teacher, read by a parent on a phone."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import expect

from notifications import services
from notifications.models import Message, Notification, Preference
from tests.browser.conftest import new_page, sign_in
from tests.factories import make_guardian, make_user
from tests.tasks import run_queued_tasks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = "/tmp/harmony-notifications"


def shot(page: Any, name: str) -> None:
    page.screenshot(path=f"{SCREENSHOTS}-{name}.png", full_page=True)


def figure(scope: Any, name: str) -> Any:
    return scope.locator(f'[data-figure="{name}"]').first


def test_a_teacher_messages_a_class_and_a_parent_reads_it_on_a_phone(browser, phone_page, live_server, school):
    # A second parent of the same child, who wants no e-mail: the preview must say one of two by e-mail.
    dad = make_guardian(school.child_a, user=make_user("dad@family.test", first_name="Daniel", last_name="Ahmed"))
    Preference.objects.create(user=dad.user, email_types=[])

    context, staff, problems = new_page(browser, viewport={"width": 1280, "height": 900})
    try:
        sign_in(staff, live_server, school.teacher, "staff")
        staff.get_by_role("navigation", name="Staff portal").get_by_role("link", name="Messages").click()
        staff.get_by_role("link", name="New message").click()
        staff.wait_for_url("**/staff/notifications/new/")

        # With the script, only the part of the form for the chosen audience shows.
        staff.get_by_label("Guardians of a class group").check()
        expect(staff.locator("#id_recipients")).to_be_hidden()
        staff.get_by_label("Class group", exact=True).select_option(label="7A")
        staff.get_by_label("Title", exact=True).fill("Parents' evening")
        staff.get_by_label("Message", exact=True).fill("Parents' evening is on Thursday from 4pm.\nPlease book a slot.")
        staff.get_by_label("Warning", exact=True).check()
        staff.get_by_role("button", name="Preview recipients").click()

        preview = staff.locator("[data-preview]")
        expect(figure(preview, "recipients")).to_have_text("2")
        expect(figure(preview, "guardians")).to_have_text("2")
        expect(figure(preview, "guardians-by-email")).to_have_text("1")
        expect(preview).to_be_focused()
        shot(staff, "compose-preview")
        assert not Message.objects.exists()

        staff.get_by_role("button", name="Send to 2 recipients").click()
        staff.wait_for_url("**/staff/notifications/*/")
        expect(staff.locator(".messages")).to_contain_text("Sent to 2 recipients.")
        expect(figure(staff, "pending")).to_have_text("1")
        shot(staff, "message-sent")
        assert mail.outbox == []

        run_queued_tasks()  # the worker delivers the queued e-mail
        assert [m.to for m in mail.outbox] == [["parent@family.test"]]
        assert mail.outbox[0].subject == "Parents' evening"

        # A newer message the parent already read: the unread one still comes first.
        later = services.message_send(
            actor=school.office,
            audience=services.Audience(user_ids=(school.guardian.user_id,)),
            title="Lunch menu",
            body="Fish on Friday.",
        )
        Notification.objects.filter(message=later).update(read_at=later.created_at)

        sign_in(phone_page, live_server, school.guardian.user, "family")
        nav = phone_page.get_by_role("navigation", name="Family pages")
        expect(nav.locator("[data-unread]")).to_have_attribute("data-unread", "1")
        nav.get_by_role("link", name="Notifications").click()
        phone_page.wait_for_url("**/family/notifications/")
        items = phone_page.locator(".inbox > li")
        expect(items.locator(".notice-title")).to_have_text(["Parents' evening", "Lunch menu"])
        expect(items.nth(0).locator(".tag-new")).to_have_text("New")
        expect(items.nth(1).locator(".tag-new")).to_have_count(0)
        shot(phone_page, "inbox-phone")

        items.nth(0).get_by_role("link").click()
        phone_page.wait_for_url("**/family/notifications/*/")
        expect(phone_page.get_by_role("heading", level=1)).to_have_text("Parents' evening")
        expect(phone_page.locator(".notice-body")).to_contain_text("Please book a slot.")
        expect(phone_page.locator("[data-unread]")).to_have_count(0)
        shot(phone_page, "notification-phone")
        phone_page.get_by_role("link", name="Back to notifications").click()
        phone_page.get_by_role("link", name="E-mail preferences").click()
        expect(phone_page.locator("main")).to_contain_text("always come by e-mail")
        shot(phone_page, "preferences-phone")

        staff.get_by_role("navigation", name="Staff portal").get_by_role("link", name="Messages").click()
        staff.wait_for_url("**/staff/notifications/")
        row = staff.locator("tr[data-message]").first
        expect(figure(row, "read")).to_have_text("1")
        expect(figure(row, "delivered")).to_have_text("1")
        shot(staff, "sent-list")

        # The same pages at a phone's width, for the staff too.
        staff.set_viewport_size({"width": 390, "height": 844})
        shot(staff, "sent-list-phone")
        staff.get_by_role("link", name="New message").click()
        staff.wait_for_url("**/staff/notifications/new/")
        shot(staff, "compose-phone")
        staff.get_by_label("Chosen people").check()
        staff.get_by_label("Find by name or e-mail").fill("dan")
        expect(staff.locator(".people .option").filter(visible=True)).to_have_text(
            ["Daniel Ahmed (guardian, dad@family.test)"]
        )
        expect(staff.locator("[data-people-count]")).to_have_text("1 shown, 0 chosen")
        shot(staff, "compose-people-phone")
    finally:
        context.close()
    assert not problems, f"Console problems: {problems}"
