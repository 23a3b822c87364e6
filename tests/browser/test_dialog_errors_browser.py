"""Refused and failed requests, as a person in the dialog meets them: words, never a foreign page.

Each case leaves the dialog open with what was typed, says what happened and what to do, and
the next attempt works once the cause is gone. Server errors and a lost connection are played
by the browser's network layer (a proxy's 502, a dropped request): the app has no honest way
to fail on purpose.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from orgsettings.models import AuditEvent, Role
from orgsettings.services import membership_set
from registries.models import ContainerRegistry
from registries.services import registry_delete
from tests.factories import RegistryFactory

from .conftest import log_in, new_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE_URL = "/orgs/acme/settings/registries/"
PHONE = {"width": 390, "height": 844}
LOOPBACK = "127.0.0.1:5999"


def open_registries(page: Page, user) -> None:
    log_in(page, user)
    page.goto(PAGE_URL)
    expect(page.get_by_role("heading", name="Container Registries")).to_be_visible()


def open_edit(page: Page, name: str):
    page.get_by_role("link", name=f"Edit {name}").click()
    dialog = page.locator("#app-dialog")
    expect(dialog.get_by_role("heading", name=f"Edit “{name}”")).to_be_visible()
    return dialog


def fill_new_registry(page: Page, name: str = "GitHub packages"):
    page.get_by_role("link", name="New registry").click()
    dialog = page.locator("#app-dialog")
    expect(dialog.get_by_role("heading", name="New registry")).to_be_visible()
    dialog.get_by_label("Display Name").fill(name)
    dialog.get_by_label("Address").fill("ghcr.io")
    dialog.get_by_label("Username").fill("octocat")
    dialog.get_by_label("Password").fill("ghp_example0123456789")
    return dialog


def alert_in(dialog):
    return dialog.locator("[data-request-error-slot] [role=alert]")


def test_saving_a_registry_someone_deleted_says_who_and_keeps_the_form(
    page, owner, org_admin, organization
):
    harbor = RegistryFactory(organization=organization, display_name="Harbor")
    open_registries(page, owner)
    dialog = open_edit(page, "Harbor")
    dialog.get_by_label("Display Name").fill("Harbor EU")
    registry_delete(harbor, actor=org_admin)

    dialog.get_by_role("button", name="Save changes").click()

    alert = alert_in(dialog)
    expect(alert).to_contain_text("“Harbor” was deleted by adam")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Display Name")).to_have_value("Harbor EU")
    screenshot(page, "dialog-deleted", copy_to=DOCS / "dialog-deleted.png")
    assert not ContainerRegistry.objects.exists()


def test_opening_a_registry_someone_deleted_says_who_in_the_dialog(
    page, owner, org_admin, organization
):
    harbor = RegistryFactory(organization=organization, display_name="Harbor")
    open_registries(page, owner)
    registry_delete(harbor, actor=org_admin)

    page.get_by_role("link", name="Edit Harbor").click()

    dialog = page.locator("#app-dialog")
    expect(dialog.get_by_role("alert")).to_contain_text("“Harbor” was deleted by adam")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    # The dialog still opens after an answer it could not show.
    page.get_by_role("link", name="New registry").click()
    expect(dialog.get_by_role("heading", name="New registry")).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Test connection to Harbor").click()
    expect(page.locator("#registry-table [data-probe-slot] [role=alert]")).to_contain_text(
        "“Harbor” was deleted by adam"
    )


def test_saving_after_losing_the_admin_role_says_so_and_keeps_the_form(
    page, org_admin, organization
):
    RegistryFactory(organization=organization, display_name="Harbor", address=LOOPBACK)
    open_registries(page, org_admin)
    dialog = open_edit(page, "Harbor")
    dialog.get_by_label("Display Name").fill("Harbor EU")
    membership_set(organization, user=org_admin, role=Role.MEMBER)

    dialog.get_by_role("button", name="Save changes").click()

    expect(alert_in(dialog)).to_contain_text("you can no longer change registries.")
    expect(alert_in(dialog)).to_contain_text("Members can view registries but not change them")
    expect(dialog.get_by_label("Display Name")).to_have_value("Harbor EU")
    screenshot(page, "dialog-forbidden")
    assert ContainerRegistry.objects.get().display_name == "Harbor"

    page.keyboard.press("Escape")  # the form holds changes: asked first
    dialog.get_by_role("button", name="Discard changes").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Test connection to Harbor").click()
    result = page.locator("#registry-table [data-probe-slot] [role=alert]")
    expect(result).to_contain_text("you can no longer test registries' connections.")


def test_expired_session_keeps_the_form_and_saves_after_logging_in_in_another_tab(
    page, owner, organization
):
    open_registries(page, owner)
    dialog = fill_new_registry(page)
    page.context.clear_cookies(name="sessionid")

    dialog.get_by_role("button", name="Add registry").click()

    alert = alert_in(dialog)
    expect(alert).to_contain_text("Your session expired: log in in another tab, then save again.")
    expect(dialog.get_by_label("Password")).to_have_value("ghp_example0123456789")
    expect(alert.get_by_role("link", name="log in in another tab")).to_have_attribute(
        "target", "_blank"
    )
    screenshot(page, "dialog-session-expired", copy_to=DOCS / "dialog-session-expired.png")
    assert not ContainerRegistry.objects.exists()

    other_tab = page.context.new_page()
    log_in(other_tab, owner)
    other_tab.close()
    dialog.get_by_role("button", name="Add registry").click()

    expect(dialog).to_be_hidden()
    expect(page.locator("#messages")).to_contain_text("Added “GitHub packages”.")
    assert ContainerRegistry.objects.get().password == "ghp_example0123456789"


def test_server_error_or_lost_connection_says_could_not_save_and_keeps_the_form(
    page, owner, organization
):
    open_registries(page, owner)
    dialog = fill_new_registry(page)
    create = "**/orgs/acme/settings/registries/new/"

    page.route(create, lambda route: route.fulfill(status=502, body="<h1>Bad Gateway</h1>"))
    dialog.get_by_role("button", name="Add registry").click()
    expect(alert_in(dialog)).to_contain_text("Could not save, try again.")
    expect(dialog.get_by_text("Bad Gateway")).to_have_count(0)
    expect(dialog.get_by_label("Display Name")).to_have_value("GitHub packages")
    page.unroute(create)

    page.route(create, lambda route: route.abort("internetdisconnected"))
    dialog.get_by_role("button", name="Add registry").click()
    expect(alert_in(dialog)).to_contain_text("The server did not answer")
    expect(alert_in(dialog)).to_contain_text("Could not save, try again.")
    page.unroute(create)

    dialog.get_by_role("button", name="Add registry").click()
    expect(dialog).to_be_hidden()
    assert ContainerRegistry.objects.get().display_name == "GitHub packages"


def test_row_test_that_fails_says_could_not_test(page, owner, organization):
    harbor = RegistryFactory(organization=organization, display_name="Harbor", address=LOOPBACK)
    open_registries(page, owner)
    test_url = f"**/registries/{harbor.pk}/test/"
    page.route(test_url, lambda route: route.fulfill(status=500, body="Server Error (500)"))

    page.get_by_role("button", name="Test connection to Harbor").click()

    slot = page.locator(f"#probe-result-{harbor.pk}")
    expect(slot.get_by_role("alert")).to_contain_text("Could not test, try again.")
    page.unroute(test_url)
    page.get_by_role("button", name="Test connection to Harbor").click()
    expect(slot.locator('[data-outcome="blocked"]')).to_be_visible()
    expect(slot.get_by_role("alert")).to_have_count(0)


def test_row_test_after_the_session_expired_says_so_in_the_row(page, owner, organization):
    harbor = RegistryFactory(organization=organization, display_name="Harbor", address=LOOPBACK)
    open_registries(page, owner)
    page.context.clear_cookies(name="sessionid")

    page.get_by_role("button", name="Test connection to Harbor").click()

    slot = page.locator(f"#probe-result-{harbor.pk}")
    expect(slot.get_by_role("alert")).to_contain_text(
        "Your session expired: log in in another tab, then test again."
    )
    expect(page.get_by_role("heading", name="Log in")).to_have_count(0)


def test_phone_width_dialog_errors_fit_the_screen(browser, live_server, owner, organization):
    page = new_page(browser, live_server, viewport=PHONE)
    try:
        open_registries(page, owner)
        dialog = fill_new_registry(page)
        page.context.clear_cookies(name="sessionid")
        dialog.get_by_role("button", name="Add registry").click()
        alert = alert_in(dialog)
        expect(alert).to_contain_text("Your session expired")
        expect(alert).to_be_in_viewport()
        expect(dialog.get_by_role("button", name="Add registry")).to_be_in_viewport()
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1]
        screenshot(
            page,
            "phone-dialog-session-expired",
            copy_to=DOCS / "phone-dialog-session-expired.png",
        )
    finally:
        page.context.close()
    assert not AuditEvent.objects.exists()


def test_a_paste_too_large_to_send_says_so_and_keeps_the_form(page, owner, organization, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 50_000
    open_registries(page, owner)
    dialog = fill_new_registry(page)
    dialog.get_by_label("Password").fill("p" * 60_000)

    dialog.get_by_role("button", name="Add registry").click()

    alert = alert_in(dialog)
    expect(alert).to_contain_text("Too much to send.")
    expect(alert).to_contain_text("Nothing was saved.")
    expect(alert).not_to_contain_text("try again")
    expect(dialog.get_by_label("Display Name")).to_have_value("GitHub packages")
    assert not ContainerRegistry.objects.exists()
