"""What the browser tests share: a watched phone-sized page, signing in, and the accessibility basics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import expect

from tests.factories import PASSWORD

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@dataclass
class Console:
    """What the browser reported while a page was open: console messages, script errors, broken resources."""

    messages: list[tuple[str, str]] = field(default_factory=list)
    broken_resources: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("console", lambda message: self.messages.append((message.type, message.text)))
        page.on("pageerror", lambda error: self.messages.append(("pageerror", str(error))))
        page.on("requestfailed", self._check_failure)
        page.on("response", self._check_response)

    def _check_failure(self, request: Any) -> None:
        if request.failure != "net::ERR_ABORTED":  # a navigation the test started cut the load short: no fault
            self.broken_resources.append(f"{request.url} ({request.failure})")

    def _check_response(self, response: Any) -> None:
        # A page may answer 403, 404 or 429 on purpose; a stylesheet or image that fails is a broken page.
        if response.status >= 400 and response.request.resource_type != "document":
            self.broken_resources.append(f"{response.url} ({response.status})")

    def csp_violations(self) -> list[str]:
        return [text for _, text in self.messages if "Content Security Policy" in text]

    def script_errors(self) -> list[str]:
        return [text for kind, text in self.messages if kind == "pageerror"]


def new_phone_page(chromium: Any, base_url: str, console: Console) -> tuple[Any, Any]:
    """Open a page in a new context (its own cookies) the size of a phone, watched by `console`."""
    context = chromium.new_context(**PHONE, locale="en-GB", base_url=base_url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    console.watch(page)
    return context, page


# Run in the page. Each check returns a sentence per problem, so a failure says what is wrong where.
ACCESSIBILITY_PROBLEMS = """() => {
  const problems = [];
  const describe = (el) => el.outerHTML.slice(0, 120);
  if (!document.documentElement.lang) problems.push("the html element has no lang");
  if (!document.title.trim()) problems.push("the page has no title");
  const h1s = document.querySelectorAll("h1");
  if (h1s.length !== 1) problems.push(`the page has ${h1s.length} h1 headings`);

  const focusable = document.querySelector("a[href], button, input:not([type=hidden]), select, textarea");
  const skip = document.querySelector("a.skip-link");
  if (!skip) problems.push("there is no skip link");
  else {
    if (focusable !== skip) problems.push("the skip link is not the first thing to focus");
    const target = document.getElementById(skip.getAttribute("href").slice(1));
    if (!target) problems.push(`the skip link points to nothing: ${skip.getAttribute("href")}`);
  }

  for (const input of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const named = [...input.labels].some((label) => label.textContent.trim())
      || input.getAttribute("aria-label") || input.getAttribute("aria-labelledby");
    if (!named) problems.push(`an input has no label: ${describe(input)}`);
  }
  for (const button of document.querySelectorAll("button, a[href]")) {
    if (!(button.textContent.trim() || button.getAttribute("aria-label")))
      problems.push(`a button or link has no name: ${describe(button)}`);
  }
  for (const img of document.querySelectorAll("img:not([alt])")) problems.push(`an image has no alt: ${describe(img)}`);
  const ids = [...document.querySelectorAll("[id]")].map((el) => el.id);
  for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) problems.push(`the id ${id} is used twice`);

  // On a phone Chromium widens window.innerWidth to fit content that overflows (it zooms the page out), so
  // the width of the layout viewport, documentElement.clientWidth, is the one that stays the phone's.
  const width = document.scrollingElement.scrollWidth;
  const phone = Math.min(window.innerWidth, document.documentElement.clientWidth);
  if (width > phone) problems.push(`the page scrolls sideways: ${width}px wide on a ${phone}px screen`);
  return problems;
}"""


def assert_accessible_on_a_phone(page: Any) -> None:
    """Assert the basics: lang, title, one h1, a working skip link first, labelled inputs, no sideways scroll."""
    problems = page.evaluate(ACCESSIBILITY_PROBLEMS)
    assert problems == [], f"{page.url}: {problems}"
    # The stylesheet arrived and applies (the CSP allows our own styles only).
    header = page.locator(".site-header")
    assert header.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(11, 92, 75)"


def sign_in(page: Any, portal: str, username: str, password: str = PASSWORD) -> None:
    """Sign in on `/<portal>/login/` the way a person does, by tapping the fields and the button."""
    page.goto(f"/{portal}/login/")
    page.get_by_label("E-mail or username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").tap()


def assert_heading(page: Any, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)
