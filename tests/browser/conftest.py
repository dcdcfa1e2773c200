"""A real Chromium, driven through Playwright's sync API, against pytest-django's live server.

Chromium is Debian's package, not Playwright's download: CHROMIUM_PATH, else /usr/bin/chromium, else `chromium`
on the PATH. Without one the browser tests are skipped, except under CI (the CI variable set), where they must
run and so fail instead.

Every page opened through `phone_page` or `make_phone_page` records the browser console; a Content Security
Policy violation or a script error fails the test when the page's context closes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.factories import PASSWORD

# Playwright's sync API runs an event loop in the test's thread; Django refuses ORM calls from a thread with a
# running loop unless told that this is safe (it is: the loop only waits on the browser).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Chromium also logs violations itself; this makes sure each one reaches the console whatever the version does.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`Content Security Policy violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def find_chromium() -> str | None:
    """Return the Chromium to drive: CHROMIUM_PATH, else /usr/bin/chromium, else `chromium` on the PATH."""
    if explicit := os.environ.get("CHROMIUM_PATH"):
        return explicit
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Launch one headless Chromium for the whole test session."""
    executable = find_chromium()
    if executable is None or not os.access(executable, os.X_OK):
        reason = (
            f"CHROMIUM_PATH={executable} is not an executable file"
            if os.environ.get("CHROMIUM_PATH")
            else "Chromium is not installed (no CHROMIUM_PATH, no /usr/bin/chromium, no chromium on the PATH)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must run the browser tests.", pytrace=False)
        pytest.skip(f"{reason}; install it (apt-get install chromium) or set CHROMIUM_PATH to run the browser tests.")

    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield launched
    launched.close()
    playwright.stop()


class Console:
    """What the browser reported while a page was open: console messages and script errors."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def watch(self, page: Any) -> None:
        page.on("console", lambda message: self.messages.append((message.type, message.text)))
        page.on("pageerror", lambda error: self.messages.append(("pageerror", str(error))))

    def csp_violations(self) -> list[str]:
        return [text for _, text in self.messages if "Content Security Policy" in text or "Content-Security" in text]

    def script_errors(self) -> list[str]:
        return [text for kind, text in self.messages if kind == "pageerror"]


@pytest.fixture
def make_phone_page(browser: Any, live_server: Any) -> Iterator[Callable[[], Any]]:
    """Return a factory of pages, each in a new context (its own cookies) the size of a phone.

    When the test ends every context closes, and the test fails if any page broke the Content Security Policy
    or threw a script error.
    """
    opened: list[tuple[Any, Console]] = []

    def make() -> Any:
        context = browser.new_context(**PHONE, locale="en-GB", base_url=live_server.url)
        context.set_default_timeout(10_000)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        console = Console()
        context.on("page", console.watch)
        page = context.new_page()
        opened.append((context, console))
        return page

    yield make
    for context, _ in opened:
        context.close()
    violations = [text for _, console in opened for text in console.csp_violations()]
    errors = [text for _, console in opened for text in console.script_errors()]
    assert not violations, f"Content Security Policy violations: {violations}"
    assert not errors, f"Script errors: {errors}"


@pytest.fixture
def phone_page(make_phone_page: Callable[[], Any]) -> Any:
    """A page at 390x844, mobile and touch, in its own context."""
    return make_phone_page()


def sign_in(page: Any, live_server: Any, user: Any, portal: str) -> None:
    """Sign `user` in on `/<portal>/login/` ("staff" or "family") the way a person does, by tapping."""
    page.goto(f"{live_server.url}/{portal}/login/")
    page.get_by_label("E-mail or username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").tap()
    page.wait_for_url(lambda url: "/login/" not in url)
