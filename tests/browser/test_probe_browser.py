"""Test connection as a person uses it: Chromium, the live server, and the real registry.

The registry (tests/registry_server.py) listens on loopback with a certificate from a test CA;
each test allows that network and trusts that CA, as an operator would for an on-premises
registry. Screenshots of the results go to test-artifacts/.
"""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from playwright.sync_api import Locator, Page, expect

from registries import connection_test
from tests.factories import RegistryFactory
from tests.registry_server import PASSWORD, USERNAME, free_port

from .conftest import log_in, new_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE_URL = "/orgs/acme/settings/registries/"


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()


def open_registries(page: Page, user) -> None:
    log_in(page, user)
    page.goto(PAGE_URL)
    expect(page.get_by_role("heading", name="Container Registries")).to_be_visible()
    # Marks this document: a reload or navigation would lose it.
    page.evaluate("window.__sameDocument = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__sameDocument") is True
    assert page.url.endswith(PAGE_URL)


def open_new_registry_dialog(page: Page, address: str, password: str = PASSWORD) -> Locator:
    page.get_by_role("link", name="New registry").click()
    dialog = page.locator("#app-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Display Name").fill("On-prem registry")
    dialog.get_by_label("Address").fill(address)
    dialog.get_by_label("Username").fill(USERNAME)
    dialog.get_by_label("Password").fill(password)
    return dialog


def run_test(dialog: Locator, outcome: str) -> Locator:
    button = dialog.get_by_role("button", name="Test connection")
    button.click()
    result = dialog.locator(f'#probe-result [data-outcome="{outcome}"]')
    # Under the buttons, scrolled into view in full even when the dialog scrolls.
    expect(result).to_be_in_viewport(ratio=0.99)
    return result


def test_good_credentials_in_the_dialog_show_ok_in_place(page, owner, local_registry):
    open_registries(page, owner)
    dialog = open_new_registry_dialog(page, local_registry)

    result = run_test(dialog, "ok")

    expect(result).to_contain_text("Connection works")
    expect(result).to_contain_text(f"Logged in to {local_registry} with these credentials.")
    expect(result).to_contain_text("Login: Basic")
    # In place: the dialog and what was typed (the password too) are still there.
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Password")).to_have_value(PASSWORD)
    expect(dialog.get_by_role("button", name="Test connection")).to_be_focused()
    assert_not_reloaded(page)
    screenshot(page, "probe-dialog-ok")


def test_wrong_password_in_the_dialog_shows_unauthorized(page, owner, local_registry):
    open_registries(page, owner)
    dialog = open_new_registry_dialog(page, local_registry, password="not-the-password")

    result = run_test(dialog, "unauthorized")

    expect(result).to_contain_text("Credentials rejected")
    expect(result).to_contain_text("rejected these credentials")
    assert_not_reloaded(page)
    screenshot(page, "probe-dialog-unauthorized")

    # Corrected, the same dialog tests again, and the result is replaced.
    dialog.get_by_label("Password").fill(PASSWORD)
    run_test(dialog, "ok")
    expect(dialog.locator("#probe-result [data-outcome]")).to_have_count(1)


def test_edit_dialog_tests_the_stored_password_when_the_field_is_blank(
    page, owner, organization, local_registry
):
    registry = RegistryFactory(
        organization=organization,
        display_name="Harbor",
        address=local_registry,
        username=USERNAME,
        password=PASSWORD,
    )
    open_registries(page, owner)
    page.get_by_role("link", name="Edit Harbor").click()
    dialog = page.locator("#app-dialog")
    expect(dialog.get_by_label("Password")).to_have_value("")

    run_test(dialog, "ok")

    assert registry.display_name == "Harbor"
    assert_not_reloaded(page)


def test_enter_in_a_field_still_saves_rather_than_tests(page, owner, local_registry):
    open_registries(page, owner)
    dialog = open_new_registry_dialog(page, local_registry)

    dialog.get_by_label("Display Name").press("Enter")

    expect(dialog).to_be_hidden()
    expect(page.locator("#registry-table tr.registry-row")).to_have_count(1)


def test_invalid_address_shows_the_field_error_instead_of_testing(page, owner):
    open_registries(page, owner)
    dialog = open_new_registry_dialog(page, "https://user:pw@registry.example.com")

    dialog.get_by_role("button", name="Test connection").click()

    expect(dialog.locator("#id_address_error")).to_contain_text(
        "Do not put credentials in the address"
    )
    expect(dialog.locator("[data-outcome]")).to_have_count(0)
    assert_not_reloaded(page)


def test_row_button_tests_the_stored_credentials_in_place(
    page, owner, organization, local_registry
):
    good = RegistryFactory(
        organization=organization,
        display_name="Harbor",
        address=local_registry,
        username=USERNAME,
        password=PASSWORD,
    )
    bad = RegistryFactory(
        organization=organization,
        display_name="Old Harbor",
        address=f"{local_registry}/old",
        username=USERNAME,
        password="expired-password",
    )
    open_registries(page, owner)

    page.get_by_role("button", name="Test connection to Harbor", exact=True).click()
    page.get_by_role("button", name="Test connection to Old Harbor").click()

    good_result = page.locator(f'#probe-result-{good.pk} [data-outcome="ok"]')
    bad_result = page.locator(f'#probe-result-{bad.pk} [data-outcome="unauthorized"]')
    expect(good_result).to_contain_text("Connection works")
    expect(bad_result).to_contain_text("Credentials rejected")
    expect(page.locator("#app-dialog")).to_be_hidden()
    assert_not_reloaded(page)
    screenshot(page, "probe-rows")
    # The results widen the actions column: the table must still fit without scrolling sideways.
    for name, width, height in (("tablet", 820, 1180), ("phone", 390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
        screenshot(page, f"probe-rows-{name}", full_page=True)


def test_our_rate_limit_message_is_shown_in_place(page, owner, settings, local_registry):
    settings.REGISTRY_PROBE_RATE = "1/m"
    open_registries(page, owner)
    dialog = open_new_registry_dialog(page, local_registry)
    run_test(dialog, "ok")

    dialog.get_by_role("button", name="Test connection").click()

    refused = dialog.locator('#probe-result [data-limit="exceeded"]')
    expect(refused).to_contain_text("Too many tests")
    expect(refused).to_contain_text("limited to 1 per minute for each person")
    assert_not_reloaded(page)
    screenshot(page, "probe-dialog-too-many-tests")


def test_each_outcome_looks_right_in_the_dialog(
    browser, live_server, owner, local_registry, settings
):
    """Screenshots of the dialog with each result the test registry can produce, light and dark."""
    settings.REGISTRY_PROBE_RATE = "100/m"
    port = local_registry.rsplit(":", 1)[1]
    cases = [
        ("ok", local_registry, PASSWORD),
        ("unauthorized", local_registry, "not-the-password"),
        ("tls", f"127.0.0.1:{port}", PASSWORD),  # the certificate names localhost only
        ("unreachable", f"localhost:{free_port()}", PASSWORD),
        ("blocked", "10.20.30.40:5000", PASSWORD),
        ("insecure-http", "http://registry.example.com", PASSWORD),
        ("untestable", "*.azurecr.io", PASSWORD),
    ]
    for scheme in ("light", "dark"):
        page = new_page(browser, live_server, color_scheme=scheme)
        open_registries(page, owner)
        page.get_by_role("link", name="New registry").click()
        dialog = page.locator("#app-dialog")
        for outcome, address, password in cases:
            dialog.get_by_label("Display Name").fill("On-prem registry")
            dialog.get_by_label("Address").fill(address)
            dialog.get_by_label("Username").fill(USERNAME)
            dialog.get_by_label("Password").fill(password)
            result = run_test(dialog, outcome)
            expect(result.locator(".probe-title")).not_to_be_empty()
            screenshot(page, f"probe-dialog-{scheme}-{outcome}")
        page.context.close()


def test_spinner_shows_while_the_test_runs(page, owner, local_registry, monkeypatch):
    real = connection_test.check_login
    # The live server runs in this process: a slower test leaves time to see the spinner.
    monkeypatch.setattr(
        connection_test, "check_login", lambda registry: time.sleep(1) or real(registry)
    )
    open_registries(page, owner)
    dialog = open_new_registry_dialog(page, local_registry)

    button = dialog.get_by_role("button", name="Test connection")
    button.click()

    expect(button.locator(".spinner")).to_be_visible()
    screenshot(page, "probe-dialog-testing")
    expect(dialog.locator('#probe-result [data-outcome="ok"]')).to_be_visible()
    expect(button.locator(".spinner")).to_be_hidden()


def test_without_javascript_the_test_rerenders_the_page_with_the_result(
    browser, live_server, owner, organization, local_registry
):
    RegistryFactory(
        organization=organization,
        display_name="Harbor",
        address=local_registry,
        username=USERNAME,
        password=PASSWORD,
    )
    page = new_page(browser, live_server, java_script_enabled=False)
    log_in(page, owner)
    page.goto(PAGE_URL)

    page.get_by_role("button", name="Test connection to Harbor").click()
    expect(page.locator('#registry-table [data-outcome="ok"]')).to_contain_text("Connection works")

    page.get_by_role("link", name="New registry").click()
    page.get_by_label("Display Name").fill("Second")
    page.get_by_label("Address").fill(f"{local_registry}/team")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Test connection", exact=True).click()

    expect(page.locator('#probe-result [data-outcome="unauthorized"]')).to_be_visible()
    expect(page.get_by_label("Display Name")).to_have_value("Second")
    expect(page.get_by_label("Password")).to_have_value("")
    screenshot(page, "probe-no-javascript", full_page=True)
    page.context.close()


def test_row_result_is_cleared_when_the_registries_change(
    page, owner, organization, local_registry
):
    registry = RegistryFactory(
        organization=organization,
        display_name="Harbor",
        address=local_registry,
        username=USERNAME,
        password="expired-password",
    )
    open_registries(page, owner)
    page.get_by_role("button", name="Test connection to Harbor").click()
    slot = page.locator(f"#probe-result-{registry.pk}")
    expect(slot.locator('[data-outcome="unauthorized"]')).to_be_visible()

    # A new password makes the old result wrong: saving clears it.
    page.get_by_role("link", name="Edit Harbor").click()
    dialog = page.locator("#app-dialog")
    dialog.get_by_label("Password").fill(PASSWORD)
    dialog.get_by_role("button", name="Save changes").click()

    expect(dialog).to_be_hidden()
    expect(slot.locator("[data-outcome]")).to_have_count(0)
    page.get_by_role("button", name="Test connection to Harbor").click()
    expect(slot.locator('[data-outcome="ok"]')).to_be_visible()
