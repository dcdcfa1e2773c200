"""Staff and families on a phone, in a real Chromium: signing in, what each one sees, and the accessibility basics.

Each page is photographed (see BROWSER_SCREENSHOTS in conftest.py) for a person to look at.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    ACCESSIBILITY_PROBLEMS,
    Console,
    assert_accessible_on_a_phone,
    assert_heading,
    new_phone_page,
    sign_in,
)
from tests.factories import PASSWORD, make_class_group, make_guardian, make_student

pytestmark = pytest.mark.browser


class TestStaff:
    def test_a_member_of_staff_signs_in_and_sees_the_schools_numbers(self, page, school, screenshot):
        for _ in range(3):
            make_guardian(make_student(school.class_a))
        make_student(school.class_b, status="left")
        make_class_group("8A", year_group=8)

        response = page.goto("/staff/login/")
        policy = response.headers["content-security-policy"]
        assert "style-src 'self'" in policy and "unsafe-inline" not in policy
        assert_heading(page, "Staff portal: sign in")
        assert_accessible_on_a_phone(page)
        screenshot(page, "staff-login")

        sign_in(page, "staff", "office@school.test")
        expect(page).to_have_url(re.compile(r"/staff/$"))
        assert_heading(page, "Dashboard")
        figures = page.get_by_role("list", name="The school in numbers")
        expect(figures.locator("[data-figure=students]")).to_have_text("5")  # on roll: not the one who left
        expect(figures.locator("[data-figure=class-groups]")).to_have_text("3")
        expect(figures.locator("[data-figure=guardians]")).to_have_text("5")
        expect(page.get_by_text("Owen Office")).to_be_visible()
        assert_accessible_on_a_phone(page)
        screenshot(page, "staff-dashboard")

    def test_a_member_of_staff_finds_a_student_and_opens_their_page(self, page, school, screenshot):
        for n in range(30):
            make_student(school.class_a, first_name=f"Pupil{n:02d}", last_name="Longsurname-Doublebarrelled")
        sign_in(page, "staff", "office@school.test")
        page.get_by_role("link", name="Students").tap()
        assert_heading(page, "Students")
        expect(page.get_by_text("32 students")).to_be_visible()
        table = page.locator(".table-wrap")
        assert table.evaluate("el => el.scrollWidth <= el.clientWidth"), "the table must fit a phone without scrolling"
        assert_accessible_on_a_phone(page)
        screenshot(page, "staff-student-list")

        page.get_by_label("Name or roll number").fill("amira")
        page.get_by_role("button", name="Search").tap()
        expect(page.get_by_text("1 student", exact=True)).to_be_visible()
        page.get_by_role("link", name="Ahmed, Amira").tap()
        assert_heading(page, "Amira Ahmed")
        expect(page.get_by_text("Fatima Ahmed (Mother), primary contact")).to_be_visible()
        assert_accessible_on_a_phone(page)
        screenshot(page, "staff-student-detail")

    def test_a_teacher_who_opens_another_class_student_gets_the_not_found_page(self, page, school, screenshot):
        sign_in(page, "staff", "teacher@school.test")
        assert_heading(page, "Dashboard")
        response = page.goto(f"/staff/students/{school.child_b.pk}/")
        assert response.status == 404
        assert_heading(page, "Page not found")
        expect(page.get_by_text("Bilal")).to_have_count(0)

    def test_a_wrong_password_is_announced_and_the_form_comes_back(self, page, school, screenshot):
        sign_in(page, "staff", "office@school.test", "not the password")
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Please enter a correct")
        expect(page.get_by_label("E-mail or username")).to_have_value("office@school.test")
        assert_accessible_on_a_phone(page)
        screenshot(page, "staff-login-wrong-password")

    def test_after_five_failures_the_sign_in_page_asks_to_wait(self, page, school, screenshot):
        for _ in range(5):
            sign_in(page, "staff", "office@school.test", "not the password")
        sign_in(page, "staff", "office@school.test")
        expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-in attempts")
        assert_heading(page, "Staff portal: sign in")
        assert_accessible_on_a_phone(page)
        screenshot(page, "staff-login-too-many-attempts")

    def test_signing_out_ends_the_session(self, page, school):
        sign_in(page, "staff", "office@school.test")
        page.get_by_role("button", name="Sign out").tap()
        assert_heading(page, "Harmony")
        page.goto("/staff/")
        assert_heading(page, "Staff portal: sign in")


class TestFamilies:
    def test_a_guardian_signs_in_and_sees_only_their_own_children(self, page, school, screenshot):
        brother = make_student(school.class_b, first_name="Yusuf", last_name="Ahmed")
        school.guardian.guardianships.create(student=brother, relationship="mother")
        response = page.goto("/family/login/")
        assert response.status == 200
        assert_heading(page, "Parents and guardians: sign in")
        assert_accessible_on_a_phone(page)
        screenshot(page, "family-login")

        sign_in(page, "family", "parent@family.test")
        assert_heading(page, "My children")
        children = page.get_by_role("list", name="My children")
        expect(children.get_by_role("heading")).to_have_text(["Amira Ahmed", "Yusuf Ahmed"])
        expect(page.get_by_text("Bilal")).to_have_count(0)
        assert_accessible_on_a_phone(page)
        screenshot(page, "family-home")

        children.get_by_role("link", name="Amira Ahmed").tap()
        assert_heading(page, "Amira Ahmed")
        expect(page.get_by_text("A0001")).to_be_visible()
        assert_accessible_on_a_phone(page)
        screenshot(page, "family-child")

    def test_a_guardian_who_opens_another_family_child_gets_the_not_found_page(self, page, school, screenshot):
        sign_in(page, "family", "parent@family.test")
        assert_heading(page, "My children")
        response = page.goto(f"/family/children/{school.child_b.pk}/")
        assert response.status == 404
        assert_heading(page, "Page not found")
        expect(page.get_by_text("Bilal")).to_have_count(0)
        assert_accessible_on_a_phone(page)
        screenshot(page, "not-found")

    def test_a_guardian_who_opens_a_staff_page_is_told_it_is_not_for_them(self, page, school, screenshot):
        sign_in(page, "family", "parent@family.test")
        assert_heading(page, "My children")
        response = page.goto("/staff/")
        assert response.status == 403
        assert_heading(page, "Not allowed")
        assert_accessible_on_a_phone(page)
        screenshot(page, "not-allowed")


class TestKeyboard:
    def test_the_sign_in_form_can_be_completed_with_the_keyboard_alone(self, page, school):
        page.goto("/family/login/")
        username = page.get_by_label("E-mail or username")
        expect(username).to_be_focused()  # autofocus: no need to hunt for the first field
        page.keyboard.type("parent@family.test")
        page.keyboard.press("Tab")
        password = page.get_by_label("Password")
        expect(password).to_be_focused()
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Tab")
        button = page.get_by_role("button", name="Sign in")
        expect(button).to_be_focused()
        assert button.evaluate("el => getComputedStyle(el).outlineStyle") != "none", "focus must be visible"
        page.keyboard.press("Enter")
        assert_heading(page, "My children")

    def test_pressing_enter_in_the_password_field_signs_in(self, page, school):
        page.goto("/staff/login/")
        expect(page.get_by_label("E-mail or username")).to_be_focused()
        page.keyboard.type("teacher@school.test")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        assert_heading(page, "Dashboard")

    def test_the_skip_link_is_the_first_tab_stop_and_moves_focus_to_the_content(self, page, school):
        sign_in(page, "staff", "office@school.test")
        assert_heading(page, "Dashboard")
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Find a student")).to_be_focused()


class TestAccessibility:
    def test_the_pages_anyone_can_open_pass_the_basic_checks_on_a_phone(self, page, school, screenshot):
        for path, name in [("/", "home"), ("/staff/login/", None), ("/family/login/", None), ("/nowhere/", None)]:
            page.goto(path)
            assert_accessible_on_a_phone(page)
            if name:
                screenshot(page, name)

    def test_the_checks_notice_an_unlabelled_input_and_a_page_too_wide_for_a_phone(self, page, school):
        page.goto("/")
        assert_accessible_on_a_phone(page)
        page.evaluate(
            """() => {
              document.querySelector("main").append(document.createElement("input"));
              const wide = document.createElement("div");
              wide.style.width = "1000px";  // through the CSSOM, which the CSP allows
              wide.textContent = "A line far wider than a phone";
              document.querySelector("main").append(wide);
            }"""
        )
        problems = page.evaluate(ACCESSIBILITY_PROBLEMS)
        assert any(problem.startswith("an input has no label") for problem in problems), problems
        assert any(problem.startswith("the page scrolls sideways") for problem in problems), problems

    def test_the_console_watch_notices_a_content_security_policy_violation(self, chromium, live_server, school):
        console = Console()
        context, page = new_phone_page(chromium, live_server.url, console)
        try:
            page.goto("/")
            with page.expect_console_message(lambda message: "Content Security Policy" in message.text):
                page.evaluate("document.head.insertAdjacentHTML('beforeend', '<style>body { color: red }</style>')")
        finally:
            context.close()
        assert console.csp_violations()
