"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Without Chromium the tests skip with a hint, except on CI (CI=true), where a missing browser
must fail the run instead of silently testing nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.environment import missing_on_this_machine
from tests.factories import PASSWORD

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 800}

expect.set_options(timeout=5_000)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.access(path, os.X_OK):
        message = (
            f"No Chromium at {path}: install it (apt-get install chromium) or set CHROMIUM_PATH "
            "to a Chromium binary to run the browser tests."
        )
        missing_on_this_machine(message)
    return path


@pytest.fixture(scope="package")
def browser(chromium_path: str) -> Iterator[Browser]:
    # While Playwright's sync API is open it keeps an event loop running in the test thread, and
    # Django then refuses ORM calls from that thread; the tests' own database setup and checks
    # are synchronous and safe. Only while the browser is open: tests outside this package start
    # subprocesses (`check --deploy` rejects the variable) and must not inherit it.
    with pytest.MonkeyPatch.context() as environment, sync_playwright() as playwright:
        environment.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


# Every page runs under the app's Content-Security-Policy. Chromium reports each violation on the
# console ("Refused to ..."), and the page's `securitypolicyviolation` events are forwarded there
# too; any of them fails the test (see csp_violations).
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""
_violations: list[str] = []


def _record_violation(message) -> None:
    text = message.text
    if "Content Security Policy" in text or text.startswith("CSP violation:"):
        _violations.append(f"{message.type}: {text}")


def new_page(browser: Browser, live_server, **context_options) -> Page:
    options = {"viewport": DESKTOP, "color_scheme": "light", **context_options}
    context = browser.new_context(base_url=live_server.url, **options)
    context.add_init_script(_REPORT_VIOLATIONS)
    context.on("console", _record_violation)
    return context.new_page()


@pytest.fixture(autouse=True)
def csp_violations() -> Iterator[list[str]]:
    """The Content-Security-Policy violations of this test's pages; any left at the end fails it.
    A test that provokes one on purpose takes this fixture and empties the list."""
    _violations.clear()
    yield _violations
    found = list(_violations)
    _violations.clear()
    if found:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(found), pytrace=False)


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    page = new_page(browser, live_server)
    yield page
    page.context.close()


def screenshot(page: Page, name: str, *, copy_to: Path | None = None, **options) -> Path:
    """Save a screenshot to test-artifacts/ (git-ignored), and optionally to `copy_to` too."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    data = page.screenshot(path=path, **options)
    if copy_to is not None:
        copy_to.parent.mkdir(parents=True, exist_ok=True)
        copy_to.write_bytes(data)
    return path


def log_in(page: Page, user, password: str = PASSWORD) -> None:
    """Log in through the real login form, as a person would."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


class HeldDeliveries:
    """Deliveries that were requested but that no worker has run yet.

    While held, the organization's delivery is Pending and the page keeps polling, as when the
    worker is busy or the cluster slow: in the suite nothing runs the task queue on its own.
    `release()` runs what is queued against the fake API server, as the worker would, so the
    rows settle.
    """

    def __init__(self, cluster) -> None:
        self.cluster = cluster

    def release(self) -> None:
        from tests.deliveries import run_tasks

        run_tasks()


@pytest.fixture
def pending_cluster(cluster) -> HeldDeliveries:
    """A connected cluster (the fake API server) whose deliveries are held: rows stay Pending."""
    return HeldDeliveries(cluster)
