"""A real Chromium, driven through Playwright's sync API, against pytest-django's live server.

Chromium is Debian's package, not Playwright's download: CHROMIUM_PATH, else /usr/bin/chromium, else
`chromium` on the PATH. Without one the browser tests are skipped, except under CI (the CI variable set),
where they must run and so fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
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
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def chromium_path() -> str | None:
    """Return the Chromium to drive: CHROMIUM_PATH, else /usr/bin/chromium, else `chromium` on the PATH."""
    if explicit := os.environ.get("CHROMIUM_PATH"):
        return explicit
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Launch one headless Chromium for the whole session."""
    path = chromium_path()
    if path is None or not os.access(path, os.X_OK):
        reason = f"Chromium not found (CHROMIUM_PATH={os.environ.get('CHROMIUM_PATH', '')!r}, /usr/bin/chromium, PATH)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must run the browser tests.", pytrace=False)
        pytest.skip(f"{reason}; install Debian's chromium or set CHROMIUM_PATH to run the browser tests.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def watch_console(page: Any) -> list[str]:
    """Collect what `page` reports as it happens: CSP violations, script errors and resources that failed."""
    problems: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            problems.append(f"{message.type}: {message.text}")

    def on_response(response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            problems.append(f"{response.status} for {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("response", on_response)
    return problems


def new_page(browser: Any, **options: Any) -> tuple[Any, Any, list[str]]:
    """Open a page in a new context (its own cookies); return the context, the page and its console problems."""
    context = browser.new_context(**options)
    page = context.new_page()
    return context, page, watch_console(page)


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    """A page the size of a phone, with touch; the test fails on any problem `watch_console` collects."""
    context, page, problems = new_page(browser, **PHONE)
    yield page
    context.close()
    assert not problems, f"Console problems: {problems}"


def sign_in(page: Any, live_server: Any, user: Any, portal: str) -> None:
    """Sign `user` in through the sign-in page of `portal` ("staff" or "family")."""
    page.goto(f"{live_server.url}/{portal}/login/")
    page.get_by_label("E-mail or username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login/" not in url)
