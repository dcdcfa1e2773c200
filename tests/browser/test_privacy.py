"""Privacy in a real Chromium at a phone's size: consent that a partner system feels at once, and a copy of a
child's data from the request to the downloaded zip. Each page is photographed and checked for the basics.
"""

from __future__ import annotations

import json
import re
import zipfile
from typing import Any

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect

from harmony.roles import Role
from privacy.models import DisclosedStudent, Disclosure, PartnerPurpose, Purpose, PurposeText
from tests.browser.helpers import Console, assert_accessible_on_a_phone, assert_heading, new_phone_page, sign_in
from tests.factories import make_partner, make_user
from tests.tasks import run_queued_tasks

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _exports_in_a_temporary_folder(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def sharing(school: Any) -> Purpose:
    """The one purpose that asks for consent here: sharing with partner systems."""
    Purpose.objects.update(is_active=False)
    purpose = Purpose.objects.create(code="partnerSharing", title="Sharing with partner apps", requires_consent=True)
    PurposeText.objects.create(
        purpose=purpose,
        version=1,
        text="We may share your child's name and class with the apps the school uses.",
        status="active",
        published_at=timezone.now(),
    )
    return purpose


@pytest.fixture
def officer(school: Any) -> Any:
    return make_user("privacy@school.test", Role.PRIVACY_OFFICER, first_name="Priya", last_name="Shah")


def partner_roll_numbers(base_url: str, token: str) -> list[str]:
    response = requests.get(f"{base_url}/api/students", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return [student["rollNumber"] for student in response.json()["data"]]


def watched_page(chromium: Any, live_server: Any) -> tuple[Any, Any, Console]:
    console = Console()
    context, page = new_phone_page(chromium, live_server.url, console)
    return context, page, console


def assert_clean(console: Console) -> None:
    assert not console.csp_violations(), console.csp_violations()
    assert not console.script_errors(), console.script_errors()
    assert not console.broken_resources, console.broken_resources


class TestConsent:
    def test_a_parent_grants_then_withdraws_and_a_partner_system_feels_each_at_once(
        self, page, live_server, school, sharing, screenshot
    ):
        app, secret = make_partner("students:read", name="Homework app")
        PartnerPurpose.objects.create(application=app, purpose=sharing, is_default=True)
        token = requests.post(
            f"{live_server.url}/api/oauth/token",
            data={"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": secret},
            timeout=10,
        ).json()["access_token"]
        assert partner_roll_numbers(live_server.url, token) == []  # nobody has agreed yet

        sign_in(page, "family", "parent@family.test")
        assert_heading(page, "My children")
        banner = page.locator(".banner")
        expect(banner).to_contain_text("1 consent question waits for your answer.")
        banner.get_by_role("link", name="Answer it").tap()
        assert_heading(page, "Consent")
        question = page.locator(f"#consent-{school.child_a.pk}-partnerSharing")
        expect(question.locator(".state")).to_have_text("Amira: Waiting for an answer")
        assert_accessible_on_a_phone(page)
        screenshot(page, "privacy-family-consents-unanswered")

        question.get_by_role("button", name="Agree to Sharing with partner apps for Amira", exact=True).tap()
        question = page.locator(f"#consent-{school.child_a.pk}-partnerSharing")
        expect(question.locator(".state")).to_have_text("Amira: Agreed")
        expect(page.get_by_role("status")).to_contain_text("You agreed to “Sharing with partner apps” for Amira.")
        expect(page.locator(".banner")).to_have_count(0)
        assert partner_roll_numbers(live_server.url, token) == ["A0001"]
        assert_accessible_on_a_phone(page)
        screenshot(page, "privacy-family-consents-agreed")

        # Withdrawing is as easy as agreeing: one tap on one button.
        withdraw = question.get_by_role("button", name="Withdraw consent to Sharing with partner apps for Amira")
        expect(withdraw).to_be_visible()
        withdraw.tap()
        question = page.locator(f"#consent-{school.child_a.pk}-partnerSharing")
        expect(question.locator(".state")).to_have_text("Amira: Consent withdrawn")
        assert partner_roll_numbers(live_server.url, token) == []

        question.get_by_text("History").tap()
        history = question.locator(".history li")
        expect(history).to_have_count(2)
        expect(history.first).to_contain_text("you withdrew consent on the family pages")
        assert_accessible_on_a_phone(page)
        screenshot(page, "privacy-family-consents-withdrawn")


class TestCopyOfData:
    def test_a_parent_asks_for_a_copy_the_officer_approves_and_the_parent_downloads_the_zip(
        self, page, chromium, live_server, school, sharing, officer, screenshot
    ):
        sign_in(page, "family", "parent@family.test")
        page.get_by_role("navigation", name="Family pages").get_by_role("link", name="Privacy").tap()
        assert_heading(page, "Privacy")
        page.get_by_label("A copy of the data").check()
        page.get_by_label("Amira Ahmed").check()
        assert_accessible_on_a_phone(page)
        screenshot(page, "privacy-family-request-form")
        page.get_by_role("button", name="Send the request").tap()
        expect(page.get_by_role("status")).to_contain_text("Your request is sent.")
        request = page.locator(".request").first
        expect(request.get_by_role("heading")).to_have_text("A copy of the data about Amira Ahmed")
        expect(request.locator("[data-status]")).to_have_text("Pending")

        context, desk, desk_console = watched_page(chromium, live_server)
        try:
            sign_in(desk, "staff", "privacy@school.test")
            desk.get_by_role("navigation", name="Staff portal").get_by_role("link", name="Privacy").tap()
            assert_heading(desk, "Consent coverage")
            assert_accessible_on_a_phone(desk)
            screenshot(desk, "privacy-staff-coverage")
            desk.get_by_role("navigation", name="Privacy sections").get_by_role("link", name="Requests").tap()
            assert_heading(desk, "Privacy requests")
            expect(desk.locator("[data-figure=open]")).to_have_text("1")
            assert_accessible_on_a_phone(desk)
            screenshot(desk, "privacy-staff-queue")
            desk.get_by_role("link", name=re.compile(r"Copy of data")).tap()
            assert_heading(desk, re.compile(r"Request #\d+: copy of data"))
            assert_accessible_on_a_phone(desk)
            screenshot(desk, "privacy-staff-request")
            desk.get_by_role("button", name="Approve and carry out").tap()
            expect(desk.get_by_role("status")).to_contain_text("Approved")
            expect(desk.locator("[data-status]")).to_have_text("Approved")
        finally:
            context.close()
        assert_clean(desk_console)

        assert run_queued_tasks() == 1
        page.reload()
        request = page.locator(".request").first
        expect(request.locator("[data-status]")).to_have_text("Ready to download")
        assert_accessible_on_a_phone(page)
        screenshot(page, "privacy-family-request-ready")
        with page.expect_download() as info:
            request.get_by_role("link", name="Download the copy (zip)").tap()
        download = info.value
        assert download.suggested_filename.endswith(".zip")
        with zipfile.ZipFile(download.path()) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            assert sorted(archive.namelist()) == sorted(["manifest.json", *manifest["files"]])
            assert "students.json" in manifest["files"]
            student = json.loads(archive.read("students.json"))["student"]
        assert (student["rollNumber"], student["firstName"], student["lastName"]) == ("A0001", "Amira", "Ahmed")
        assert student["dateOfBirth"] == "2012-01-01"


class TestLooks:
    def test_the_other_privacy_pages_pass_the_basics_on_a_phone(
        self, page, live_server, school, sharing, officer, screenshot
    ):
        app, _ = make_partner("students:read", name="Homework app with a rather long name")
        for n in range(3):
            disclosure = Disclosure.objects.create(
                application=app, purpose=sharing, entity="students", path=f"/api/students?page={n + 1}", record_count=2
            )
            DisclosedStudent.objects.create(disclosure=disclosure, student=school.child_a)

        sign_in(page, "family", "parent@family.test")
        page.goto("/family/privacy/shared/")
        assert_heading(page, "Data shared with other systems")
        expect(page.get_by_text("Homework app with a rather long name")).to_have_count(3)
        assert_accessible_on_a_phone(page)
        screenshot(page, "privacy-family-shared")
        page.get_by_role("button", name="Sign out").tap()
        assert_heading(page, "Harmony")

        sign_in(page, "staff", "privacy@school.test")
        for path, heading, name in [
            ("/staff/privacy/disclosures/?child=amira", "Disclosure log", "privacy-staff-disclosures"),
            ("/staff/privacy/texts/", "Consent texts", "privacy-staff-texts"),
            ("/staff/privacy/texts/partnerSharing/", "Sharing with partner apps", "privacy-staff-text"),
            ("/staff/privacy/paper-forms/?q=ahmed", "Paper consent forms", "privacy-staff-paper-forms"),
            (f"/staff/privacy/paper-forms/{school.child_a.pk}/", "Paper form: Amira Ahmed", "privacy-staff-paper-form"),
            ("/staff/privacy/requests/new/", "New privacy request", "privacy-staff-request-new"),
        ]:
            page.goto(path)
            assert_heading(page, heading)
            assert_accessible_on_a_phone(page)
            screenshot(page, name)

        page.goto(f"/staff/privacy/paper-forms/{school.child_a.pk}/")
        page.get_by_label("Fatima Ahmed (mother)").check()
        page.get_by_label("Purpose").select_option(label="Sharing with partner apps")
        page.get_by_label("Granted").check()
        page.get_by_role("button", name="Record the paper form").tap()
        expect(page.get_by_role("status")).to_contain_text("Recorded: Fatima Ahmed")
        expect(page.locator("dd[data-state]")).to_have_text("Agreed")
