"""The register on a phone in a real Chromium: a teacher takes one register with taps and another with the
keyboard alone; a parent reports an absence, the office accepts it, and the parent sees it accepted.

Screenshots go to attendance/ under $BROWSER_SCREENSHOTS or /tmp/harmony-screenshots, never into the repository.
"""

from __future__ import annotations

import datetime
import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import expect

from attendance.models import AbsenceReport, AttendanceRecord, Register
from tests.browser.conftest import PHONE, sign_in
from tests.conftest import School
from tests.factories import make_student

pytestmark = pytest.mark.browser
PHONE_WIDTH = PHONE["viewport"]["width"]
SCREENSHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS") or "/tmp/harmony-screenshots") / "attendance"


@pytest.fixture
def attendance_codes(transactional_db: Any) -> None:
    """The default codes come from a data migration, which a transactional test's flush removes: put them back."""
    migration = importlib.import_module("attendance.migrations.0002_default_codes")
    migration.create_codes(apps, None)


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    """Save a screenshot, after checking that the page fits the phone's width (no sideways scrolling)."""
    width = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"{page.url} is {width}px wide on a {PHONE_WIDTH}px phone"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def last_school_day() -> datetime.date:
    day = timezone.localdate()
    while day.weekday() >= 5:
        day -= datetime.timedelta(days=1)
    return day


def tab_to(page: Any, target: Any, limit: int = 80) -> None:
    """Press Tab until `target` has the focus, as a keyboard user would."""
    for _ in range(limit):
        if target.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


def codes_of(session: str, day: datetime.date) -> dict[str, tuple[str, int | None, str]]:
    records = AttendanceRecord.objects.select_related("student", "code").filter(date=day, session=session)
    return {r.student.first_name: (r.code.code, r.minutes_late, r.remarks) for r in records}


def test_a_teacher_takes_registers_on_a_phone_and_a_parents_report_reaches_the_register(
    school: School, attendance_codes: None, live_server: Any, make_phone_page: Callable[[], Any]
) -> None:
    day = last_school_day()
    for first, last in [("Ben", "Bell"), ("Cara", "Cole"), ("Dan", "Dunn"), ("Eve", "Evans"), ("Finn", "Ford")]:
        make_student(school.class_a, first_name=first, last_name=last)
    amira, ben, cara = (
        school.child_a,
        *school.class_a.students.filter(first_name__in=["Ben", "Cara"]).order_by("first_name"),
    )

    # The morning register, with taps.
    teacher = make_phone_page()
    sign_in(teacher, live_server, school.teacher, "staff")
    teacher.goto(f"/staff/attendance/?date={day:%Y-%m-%d}")
    shot(teacher, "01-registers")
    teacher.get_by_role("link", name="Take 7A AM register").tap()
    expect(teacher.get_by_role("heading", level=1)).to_have_text("7A · AM register")
    tally = teacher.locator("#register-tally")
    expect(tally).to_contain_text("6 present, 0 late, 0 absent. 6 not yet marked.")
    shot(teacher, "02-register-am")
    shot(teacher, "02-register-am-as-seen", full_page=False)

    teacher.locator(f"#student-{amira.pk}").get_by_role("radio", name="N Absent").tap()
    ben_row = teacher.locator(f"#student-{ben.pk}")
    ben_minutes = ben_row.get_by_label("Minutes late")
    expect(ben_minutes).to_be_hidden()
    ben_row.get_by_role("radio", name="L Late").tap()
    expect(ben_minutes).to_be_focused()  # a tap on "late" goes straight to the minutes
    teacher.keyboard.type("7")
    cara_row = teacher.locator(f"#student-{cara.pk}")
    cara_row.get_by_role("button", name="Remark").tap()
    expect(cara_row.get_by_label("Remark for")).to_be_focused()
    teacher.keyboard.type("Left early for the dentist")
    expect(tally).to_contain_text("4 present, 1 late, 1 absent. 3 not yet marked.")
    expect(ben_row.locator("[data-state]")).to_have_text("Changed, not saved yet")
    shot(teacher, "03-register-am-marked")
    shot(teacher, "03-register-am-marked-as-seen", full_page=False)
    teacher.get_by_role("button", name="Save register").tap()
    teacher.wait_for_url(f"**/staff/attendance/?date={day:%Y-%m-%d}")
    expect(teacher.get_by_role("status")).to_contain_text("7A AM register saved")
    shot(teacher, "04-registers-after-am")
    assert codes_of("AM", day) == {
        "Amira": ("N", None, ""),
        "Ben": ("L", 7, ""),
        "Cara": ("/", None, "Left early for the dentist"),
        "Dan": ("/", None, ""),
        "Eve": ("/", None, ""),
        "Finn": ("/", None, ""),
    }

    # Leaving a register with a change not saved asks first.
    again = teacher.context.new_page()
    again.goto(f"/staff/attendance/registers/{school.class_a.pk}/{day:%Y-%m-%d}/AM/")
    again.locator(f"#student-{amira.pk}").get_by_role("radio", name="/ Present").tap()
    with again.expect_event("dialog") as leaving:
        again.close(run_before_unload=True)
    assert leaving.value.type == "beforeunload"
    leaving.value.dismiss()
    again.close()

    # The afternoon register with the keyboard alone: Tab to move, arrows and letters to choose, Space, Enter.
    teacher.goto(f"/staff/attendance/registers/{school.class_a.pk}/{day:%Y-%m-%d}/PM/")
    amira_row = teacher.locator(f"#student-{amira.pk}")
    tab_to(teacher, amira_row.get_by_role("radio", name="/ Present"))
    teacher.keyboard.press("ArrowRight")
    teacher.keyboard.press("ArrowRight")
    expect(amira_row.get_by_role("radio", name="N Absent")).to_be_checked()
    ben_row = teacher.locator(f"#student-{ben.pk}")
    tab_to(teacher, ben_row.get_by_role("radio", name="/ Present"))
    teacher.keyboard.press("l")  # a letter chooses that code
    expect(ben_row.get_by_role("radio", name="L Late")).to_be_checked()
    teacher.keyboard.press("Tab")
    expect(ben_row.get_by_label("Minutes late")).to_be_focused()
    teacher.keyboard.type("12")
    teacher.keyboard.press("Tab")
    expect(ben_row.get_by_role("button", name="Remark")).to_be_focused()
    teacher.keyboard.press("Space")
    expect(ben_row.get_by_label("Remark for")).to_be_focused()
    teacher.keyboard.type("Music lesson ran over")
    focus_ring = ben_row.get_by_label("Remark for").evaluate("el => getComputedStyle(el).outlineStyle")
    assert focus_ring == "solid"
    shot(teacher, "05-register-pm-keyboard")
    teacher.keyboard.press("Enter")
    teacher.wait_for_url(f"**/staff/attendance/?date={day:%Y-%m-%d}")
    assert codes_of("PM", day)["Amira"] == ("N", None, "")
    assert codes_of("PM", day)["Ben"] == ("L", 12, "Music lesson ran over")
    assert len(codes_of("PM", day)) == 6
    assert Register.objects.filter(date=day, submitted_at__isnull=False).count() == 2

    # A parent reports the absence; the office accepts it in its own browser; the parent sees it accepted.
    parent = make_phone_page()
    sign_in(parent, live_server, school.guardian.user, "family")
    parent.get_by_role("link", name="Amira Ahmed").tap()
    parent.get_by_role("link", name="Report an absence").tap()
    parent.get_by_label("First day away").fill(f"{day:%Y-%m-%d}")
    parent.get_by_label("Illness").check()
    parent.get_by_label("Details for the office").fill("A temperature since last night.")
    shot(parent, "06-parent-report")
    parent.get_by_role("button", name="Send the report").tap()
    parent.wait_for_url(f"**/family/children/{amira.pk}/attendance/")
    expect(parent.locator(".reports-list")).to_contain_text("Waiting for the office")

    office = make_phone_page()
    sign_in(office, live_server, school.office, "staff")
    office.get_by_role("link", name="Absence reports").tap()
    report = AbsenceReport.objects.get()
    card = office.locator(f"#report-{report.pk}")
    expect(card).to_contain_text("A temperature since last night.")
    shot(office, "07-office-reports")
    card.get_by_role("button", name="Accept").tap()
    expect(office.get_by_role("status")).to_contain_text("Amira Ahmed's absence is authorised on the register")

    parent.reload()
    expect(parent.locator(".reports-list")).to_contain_text("Accepted")
    expect(parent.locator("table")).to_contain_text("Illness")
    shot(parent, "08-parent-accepted")
    assert codes_of("AM", day)["Amira"][0] == "I"
    assert codes_of("PM", day)["Amira"][0] == "I"

    teacher.goto(f"/staff/attendance/registers/{school.class_a.pk}/{day:%Y-%m-%d}/AM/")
    expect(teacher.locator(f"#student-{amira.pk}").get_by_role("radio", name="I Illness")).to_be_checked()
