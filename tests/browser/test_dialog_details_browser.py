"""The registry dialog's smaller promises, each as a person meets it in Chromium.

Secrets across a validation error, counters instead of silent truncation, stale test results,
"discard changes?", warnings at first sight, no-change saves, wildcard rows, the sticky footer,
IDN hosts, the favicon, the General page and the row's test result below the row.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from orgsettings.models import AuditEvent
from registries.models import ContainerRegistry
from tests.factories import RegistryFactory

from .conftest import log_in, new_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE_URL = "/orgs/acme/settings/registries/"
PHONE = {"width": 390, "height": 844}
LOOPBACK = "127.0.0.1:5999"
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def open_registries(page: Page, user) -> None:
    log_in(page, user)
    page.goto(PAGE_URL)
    expect(page.get_by_role("heading", name="Container Registries")).to_be_visible()


def open_new(page: Page):
    page.get_by_role("link", name="New registry").click()
    dialog = page.locator("#app-dialog")
    expect(dialog.get_by_role("heading", name="New registry")).to_be_visible()
    return dialog


def test_validation_error_marks_the_cleared_password_in_the_same_answer(page, owner, organization):
    RegistryFactory(organization=organization, display_name="GitHub packages")
    open_registries(page, owner)
    dialog = open_new(page)
    dialog.get_by_label("Display Name").fill("GitHub packages")
    dialog.get_by_label("Address").fill("ghcr.io/acme")
    dialog.get_by_label("Username").fill("octocat")
    dialog.get_by_label("Password").fill("ghp_example0123456789")
    dialog.get_by_role("button", name="Add registry").click()

    expect(dialog.locator("#id_display_name_error")).to_contain_text("already has a registry")
    password = dialog.get_by_label("Password")
    expect(password).to_have_value("")
    expect(dialog.locator("#id_password_error")).to_have_text(
        "Paste the password again: it was cleared for your safety."
    )
    expect(password).to_have_accessible_description(re.compile("Paste the password again"))
    expect(dialog.get_by_role("alert")).to_have_text(
        "Please correct the fields marked below: Display Name, Password."
    )
    password.scroll_into_view_if_needed()
    screenshot(page, "dialog-secret-cleared", copy_to=DOCS / "dialog-secret-cleared.png")

    dialog.get_by_label("Display Name").fill("GitHub (acme)")
    password.fill("ghp_example0123456789")
    dialog.get_by_role("button", name="Add registry").click()
    expect(dialog).to_be_hidden()
    assert ContainerRegistry.objects.get(address="ghcr.io/acme").password == (
        "ghp_example0123456789"
    )


def test_a_long_display_name_is_counted_and_refused_not_cut(page, owner):
    open_registries(page, owner)
    dialog = open_new(page)
    name = dialog.get_by_label("Display Name")
    name.fill("x" * 85)
    expect(dialog.locator("#id_display_name_count")).to_have_text("85 of 100 characters.")
    name.fill("x" * 120)
    expect(name).to_have_value("x" * 120)
    expect(dialog.locator("#id_display_name_count")).to_have_text(
        "120 of 100 characters: 20 too many."
    )
    dialog.get_by_label("Address").fill("ghcr.io")
    dialog.get_by_role("button", name="Add registry").click()
    expect(dialog.locator("#id_display_name_error")).to_have_text(
        "Display Names are at most 100 characters; this one has 120."
    )
    assert not ContainerRegistry.objects.exists()


def test_a_test_result_goes_away_when_a_field_changes(page, owner):
    open_registries(page, owner)
    dialog = open_new(page)
    dialog.get_by_label("Address").fill("*.azurecr.io")
    dialog.get_by_label("Username").fill("robot")
    dialog.get_by_label("Password").fill("example-password")
    dialog.get_by_role("button", name="Test connection").click()
    result = dialog.locator('#probe-result [data-outcome="untestable"]')
    expect(result).to_be_visible()

    dialog.get_by_label("Address").fill("myregistry.azurecr.io")
    expect(result).to_have_count(0)


def test_escape_or_cancel_on_a_changed_form_asks_before_discarding(page, owner):
    open_registries(page, owner)
    dialog = open_new(page)
    dialog.get_by_label("Display Name").fill("Half typed")
    confirm = dialog.get_by_role("alertdialog", name="Discard your changes?")

    page.keyboard.press("Escape")
    expect(confirm).to_be_visible()
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Keep editing")).to_be_focused()
    screenshot(page, "dialog-discard", copy_to=DOCS / "dialog-discard.png")
    page.keyboard.press("Escape")
    expect(confirm).to_be_hidden()
    expect(dialog.get_by_label("Display Name")).to_have_value("Half typed")

    dialog.get_by_role("link", name="Cancel").click()
    expect(confirm).to_be_visible()
    dialog.get_by_role("button", name="Keep editing").click()
    expect(confirm).to_be_hidden()
    expect(dialog).to_be_visible()

    dialog.get_by_role("link", name="Cancel").click()
    dialog.get_by_role("button", name="Discard changes").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("link", name="New registry")).to_be_focused()
    # Opened again, the form is fresh and closes without asking.
    dialog = open_new(page)
    expect(dialog.get_by_label("Display Name")).to_have_value("")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_edit_dialog_shows_the_ecr_expiry_warning_when_it_opens(page, owner, organization):
    RegistryFactory(organization=organization, display_name="ECR", address=ECR, username="AWS")
    open_registries(page, owner)
    page.get_by_role("link", name="Edit ECR").click()
    dialog = page.locator("#app-dialog")
    expect(dialog.locator("#registry-hints")).to_contain_text("use Amazon ECR to have it refreshed")
    screenshot(page, "dialog-edit-warning", copy_to=DOCS / "dialog-edit-warning.png")


def test_saving_without_changes_says_no_changes_and_bumps_nothing(page, owner, organization):
    registry = RegistryFactory(organization=organization, display_name="Harbor")
    open_registries(page, owner)
    page.get_by_role("link", name="Edit Harbor").click()
    dialog = page.locator("#app-dialog")
    dialog.get_by_role("button", name="Save changes").click()

    expect(dialog).to_be_hidden()
    expect(page.locator("#messages")).to_contain_text("No changes to save in “Harbor”.")
    stored = ContainerRegistry.objects.get(pk=registry.pk)
    assert (stored.version, stored.updated_at) == (registry.version, registry.updated_at)
    assert not AuditEvent.objects.exists()


def test_docker_hub_hint_says_what_will_be_stored(page, owner):
    open_registries(page, owner)
    dialog = open_new(page)
    dialog.get_by_label("Address").fill("https://index.docker.io/v1/")
    expect(dialog.locator("#registry-hints")).to_contain_text(
        "Docker Hub will be stored as “docker.io”"
    )


def test_wildcard_rows_have_no_test_button_and_say_why(page, owner, organization):
    RegistryFactory(organization=organization, display_name="Azure", address="*.azurecr.io")
    open_registries(page, owner)
    expect(page.get_by_role("button", name="Test connection to Azure")).to_have_count(0)
    unavailable = page.locator("#registry-table .row-test button[disabled]")
    expect(unavailable).to_be_disabled()
    expect(unavailable).to_have_accessible_description(
        "A wildcard address names no single host to log in to, so it cannot be tested: add a "
        "registry for one concrete host to test its credentials."
    )
    expect(page.locator("#registry-table .row-test[title]")).to_have_attribute(
        "title",
        "A wildcard address names no single host to log in to, so it cannot be "
        "tested: add a registry for one concrete host to test its credentials.",
    )


def test_save_stays_in_view_on_a_short_laptop_screen(browser, live_server, owner):
    page = new_page(browser, live_server, viewport={"width": 1280, "height": 600})
    try:
        open_registries(page, owner)
        dialog = open_new(page)
        dialog.get_by_text("Which username does my registry expect?").click()
        scrolls = dialog.evaluate("d => d.scrollHeight > d.clientHeight")
        assert scrolls, "the form fits: the test needs one taller than the dialog"
        dialog.evaluate("d => d.scrollTo(0, 0)")
        expect(dialog.get_by_role("button", name="Add registry")).to_be_in_viewport(ratio=1)
        dialog.evaluate("d => d.scrollTo(0, d.scrollHeight / 2)")
        expect(dialog.get_by_role("button", name="Add registry")).to_be_in_viewport(ratio=1)
    finally:
        page.context.close()


def test_idn_host_is_shown_in_unicode_beside_punycode(page, owner, organization):
    registry = RegistryFactory(
        organization=organization, display_name="Bücher", address="xn--bcher-kva.example"
    )
    open_registries(page, owner)
    cell = page.locator(f"#registry-{registry.pk} td[data-label=Address]")
    expect(cell.locator("code")).to_have_text("xn--bcher-kva.example")
    expect(cell).to_contain_text("bücher.example")


def test_pages_have_a_favicon_and_no_missing_files(page, owner):
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    open_registries(page, owner)
    icon = page.locator("link[rel=icon]")
    expect(icon).to_have_attribute("type", "image/svg+xml")
    href = icon.get_attribute("href")
    assert page.request.get(href).status == 200
    assert missing == []


def test_general_page_aligns_its_rows_and_lists_the_members(page, owner, member, organization):
    log_in(page, owner)
    page.goto("/orgs/acme/settings/")
    save = page.get_by_role("button", name="Save name")
    assert save.bounding_box()["width"] < 200
    labels = page.locator(".settings-label")
    expect(labels).to_have_count(4)
    lefts = {round(box["x"]) for box in (label.bounding_box() for label in labels.all())}
    assert len(lefts) == 1
    members = page.get_by_role("table", name="Members of Acme")
    expect(members.get_by_role("row", name="mia Member")).to_be_visible()
    expect(members.get_by_role("row", name="olivia (you) Owner")).to_be_visible()
    expect(members.get_by_role("textbox")).to_have_count(0)
    screenshot(page, "general", copy_to=DOCS / "settings-general.png")


def test_row_test_result_spans_the_table_below_the_row_and_can_be_dismissed(
    page, owner, organization
):
    harbor = RegistryFactory(organization=organization, display_name="Harbor", address=LOOPBACK)
    RegistryFactory(organization=organization, display_name="Quay", address="quay.io")
    open_registries(page, owner)
    page.get_by_role("button", name="Test connection to Harbor").click()

    result = page.locator(f"#probe-result-{harbor.pk} [data-outcome=blocked]")
    expect(result).to_contain_text("Address not allowed")
    row = page.locator(f"#registry-{harbor.pk} .registry-row").bounding_box()
    table = page.locator("#registry-table table").bounding_box()
    box = result.bounding_box()
    assert box["y"] >= row["y"] + row["height"] - 1
    assert box["width"] > 0.9 * table["width"]
    screenshot(page, "row-test-result", copy_to=DOCS / "row-test-result.png")

    page.get_by_role("button", name="Dismiss the test result").click()
    expect(result).to_have_count(0)
    expect(page.get_by_role("button", name="Test connection to Harbor")).to_be_focused()


def test_row_test_result_on_a_phone_sits_in_the_card(browser, live_server, owner, organization):
    harbor = RegistryFactory(organization=organization, display_name="Harbor", address=LOOPBACK)
    page = new_page(browser, live_server, viewport=PHONE)
    try:
        open_registries(page, owner)
        page.get_by_role("button", name="Test connection to Harbor").click()
        result = page.locator(f"#probe-result-{harbor.pk} [data-outcome=blocked]")
        expect(result).to_be_visible()
        box = result.bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1]
        screenshot(
            page,
            "phone-row-test-result",
            copy_to=DOCS / "phone-row-test-result.png",
            full_page=True,
        )
    finally:
        page.context.close()
