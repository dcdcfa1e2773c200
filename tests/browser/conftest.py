"""A real Chromium, driven through Playwright's sync API, at a phone's size, against pytest-django's live server.

Chromium is Debian's package, not Playwright's download: CHROMIUM_PATH, else /usr/bin/chromium, else
`chromium` on the PATH. Without one the browser tests are skipped, except under CI (the CI variable set),
where they must run and so fail loudly instead.

Every page a test opens is watched: a Content Security Policy violation on the console, a script error or a
stylesheet that fails to load fails the test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.helpers import PHONE, Console, new_phone_page
from tests.factories import PASSWORD

__all__ = ["PHONE", "sign_in"]

# Playwright's sync API runs an event loop in the test's thread; Django refuses ORM calls from a thread with a
# running loop unless told that this is safe (it is: the loop only waits on the browser).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS") or Path(tempfile.gettempdir()) / "harmony-screenshots")


def find_chromium() -> str | None:
    """Return the Chromium to drive: CHROMIUM_PATH, else /usr/bin/chromium, else `chromium` on the PATH."""
    if explicit := os.environ.get("CHROMIUM_PATH"):
        return explicit
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Launch Chromium once for the whole session."""
    executable = find_chromium()
    if executable is None or not os.access(executable, os.X_OK):
        reason = (
            f"CHROMIUM_PATH={executable} is not an executable file"
            if os.environ.get("CHROMIUM_PATH")
            else "Chromium is not installed (no CHROMIUM_PATH, no /usr/bin/chromium, no chromium on the PATH)"
        )
        if os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}:
            pytest.fail(f"{reason}: CI must run the browser tests.", pytrace=False)
        pytest.skip(f"{reason}; install it (apt-get install chromium) or set CHROMIUM_PATH to run the browser tests.")

    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture(scope="session")
def browser(chromium: Any) -> Any:
    """The session's Chromium, under the name Playwright's own plugin uses."""
    return chromium


@pytest.fixture
def make_phone_page(chromium: Any, live_server: Any) -> Iterator[Any]:
    """Return a factory of watched phone-sized pages, each in its own context (its own cookies: one person each).

    When the test ends every context closes, and the test fails if any page broke the Content Security Policy,
    threw a script error or failed to load a resource.
    """
    opened: list[tuple[Any, Console]] = []

    def make() -> Any:
        console = Console()
        context, page = new_phone_page(chromium, live_server.url, console)
        opened.append((context, console))
        return page

    yield make
    for context, _ in opened:
        context.close()
    for _, console in opened:
        assert not console.csp_violations(), f"Content Security Policy violations: {console.csp_violations()}"
        assert not console.script_errors(), f"Script errors: {console.script_errors()}"
        assert not console.broken_resources, f"Resources that failed to load: {console.broken_resources}"


@pytest.fixture
def phone_page(make_phone_page: Any) -> Any:
    return make_phone_page()


def sign_in(page: Any, live_server: Any, user: Any, portal: str) -> None:
    """Sign `user` in on `/<portal>/login/` ("staff" or "family") the way a person does (a tap on a phone)."""
    page.goto(f"{live_server.url}/{portal}/login/")
    page.get_by_label("E-mail or username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    button = page.get_by_role("button", name="Sign in")
    with page.expect_navigation():
        button.tap() if page.evaluate("navigator.maxTouchPoints > 0") else button.click()


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(chromium: Any, live_server: Any, console: Console) -> Iterator[Any]:
    """Return a fresh phone-sized page; the test fails on a CSP violation, a script error or a broken resource."""
    context, page = new_phone_page(chromium, live_server.url, console)
    yield page
    context.close()
    assert not console.csp_violations(), f"Content Security Policy violations: {console.csp_violations()}"
    assert not console.script_errors(), f"Script errors: {console.script_errors()}"
    assert not console.broken_resources, f"Resources that failed to load: {console.broken_resources}"


@pytest.fixture
def screenshot() -> Any:
    """Save a full-page screenshot as <name>.png outside the repository (BROWSER_SCREENSHOTS or a temp dir)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def new_page(browser: Any, **options: Any) -> tuple[Any, Any, list[str]]:
    """Open a page in a new context (its own cookies) with `options`; return the context, the page and a live
    list of its problems (CSP violations, script errors, resources that failed), for the test to assert on."""
    console = _ProblemList()
    context = browser.new_context(locale="en-GB", **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    console.watch(page)
    return context, page, console.problems


class _ProblemList(Console):
    @property
    def problems(self) -> list[str]:
        return _LiveProblems(self)


class _LiveProblems(list):  # type: ignore[type-arg]
    """A list view that always shows the console's current problems."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self._console = console

    def _current(self) -> list[str]:
        c = self._console
        return [*c.csp_violations(), *c.script_errors(), *c.broken_resources]

    def __bool__(self) -> bool:
        return bool(self._current())

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())

    def __repr__(self) -> str:
        return repr(self._current())
