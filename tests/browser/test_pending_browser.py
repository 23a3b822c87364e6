"""The Registries table while a cluster sync is under way: rows are Pending and the table polls.

Every control that opens the dialog or tests a row must keep working through the table's
refreshes, more than once, and after the rows settle.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from delivery.models import TargetStatus
from tests.factories import RegistryFactory

from .conftest import log_in, new_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE_URL = "/orgs/acme/settings/registries/"
# A loopback address: the connection test refuses it before connecting ("Address not allowed").
LOOPBACK = "127.0.0.1:5999"


def open_polling_table(page: Page, user) -> None:
    log_in(page, user)
    page.goto(PAGE_URL)
    # Count the delivery poll's answers, to click only after the page has refreshed at least once.
    page.evaluate(
        """() => {
          window.__polls = 0;
          document.addEventListener("htmx:beforeSwap", (event) => {
            if (event.detail.elt && event.detail.elt.id === "delivery-poll") window.__polls++;
          });
        }"""
    )


def wait_for_refreshes(page: Page, count: int = 1) -> None:
    start = page.evaluate("window.__polls")
    page.wait_for_function("(n) => window.__polls >= n", arg=start + count)


def use_every_control(page: Page, name: str) -> None:
    """Edit, Delete, New registry and the row's Test, each opening and closing cleanly."""
    dialog = page.locator("#app-dialog")
    page.get_by_role("link", name=f"Edit {name}").click()
    expect(dialog.get_by_role("heading", name=f"Edit “{name}”")).to_be_visible()
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog).to_be_hidden()

    page.get_by_role("link", name=f"Delete {name}").click()
    expect(dialog.get_by_role("heading", name=f"Delete “{name}”?")).to_be_visible()
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog).to_be_hidden()

    page.get_by_role("link", name="New registry").click()
    expect(dialog.get_by_role("heading", name="New registry")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.get_by_role("button", name=f"Test connection to {name}").click()
    result = page.locator('#registry-table [data-probe-slot] [data-outcome="blocked"]')
    expect(result).to_contain_text("Address not allowed")
    page.get_by_role("button", name="Dismiss the test result").click()
    expect(result).to_have_count(0)


def test_dialog_and_row_test_work_while_the_table_polls_and_after_it_settles(
    page, owner, organization, pending_cluster
):
    RegistryFactory(organization=organization, display_name="Harbor", address=LOOPBACK)
    RegistryFactory(organization=organization, display_name="Quay", address="quay.io")
    assert organization.delivery_targets.get().status == TargetStatus.PENDING
    open_polling_table(page, owner)
    table = page.locator("#registry-table")
    expect(page.locator("#delivery-poll")).to_have_attribute("hx-trigger", "every 2s")
    expect(table.locator('td[data-label="Status"]', has_text="Pending")).to_have_count(2)

    for _ in range(2):
        wait_for_refreshes(page)
        use_every_control(page, "Harbor")

    pending_cluster.release()
    expect(table.locator('td[data-label="Status"]', has_text="Synced")).to_have_count(2)
    expect(page.locator("#delivery-poll[hx-trigger]")).to_have_count(0)
    for _ in range(2):
        use_every_control(page, "Harbor")


def test_saves_in_the_dialog_work_while_the_table_polls(page, owner, organization, pending_cluster):
    harbor = RegistryFactory(organization=organization, display_name="Harbor", address=LOOPBACK)
    RegistryFactory(organization=organization, display_name="Quay", address="quay.io")
    open_polling_table(page, owner)
    dialog = page.locator("#app-dialog")
    wait_for_refreshes(page)

    page.get_by_role("link", name="Edit Harbor").click()
    dialog.get_by_label("Display Name").fill("Harbor (on-prem)")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(f"#registry-{harbor.pk} th")).to_have_text("Harbor (on-prem)")
    expect(page.locator("#messages")).to_contain_text("Saved “Harbor (on-prem)”.")

    wait_for_refreshes(page)
    page.get_by_role("link", name="New registry").click()
    dialog.get_by_label("Display Name").fill("GitHub packages")
    dialog.get_by_label("Address").fill("ghcr.io")
    dialog.get_by_label("Username").fill("octocat")
    dialog.get_by_label("Password").fill("ghp_example0123456789")
    dialog.get_by_role("button", name="Add registry").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#registry-table tbody").get_by_role("rowheader")).to_have_count(3)

    wait_for_refreshes(page)
    page.get_by_role("link", name="Delete Quay").click()
    dialog.get_by_role("button", name="Delete registry").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("link", name="Delete Quay")).to_have_count(0)
    expect(page.locator("#messages")).to_contain_text("Deleted “Quay”.")

    pending_cluster.release()
    table = page.locator("#registry-table")
    expect(table.locator('td[data-label="Status"]', has_text="Synced")).to_have_count(2)
    secret = pending_cluster.cluster.get_object("secret", "org-acme", "org-registry-credentials")
    assert secret is not None
    assert set(organization.registries.values_list("display_name", flat=True)) == {
        "Harbor (on-prem)",
        "GitHub packages",
    }


def test_a_rows_test_result_stays_through_the_tables_refreshes(
    page, owner, organization, pending_cluster
):
    harbor = RegistryFactory(organization=organization, display_name="Harbor", address=LOOPBACK)
    open_polling_table(page, owner)
    page.get_by_role("button", name="Test connection to Harbor").click()
    result = page.locator(f"#probe-result-{harbor.pk} [data-outcome=blocked]")
    expect(result).to_be_visible()

    wait_for_refreshes(page, 2)
    expect(result).to_be_visible()
    pending_cluster.release()
    expect(
        page.locator("#registry-table").locator('td[data-label="Status"]', has_text="Synced")
    ).to_have_count(1)
    expect(result).to_be_visible()


def test_a_save_on_a_settled_table_starts_polling_until_its_sync_is_done(
    page, owner, organization, pending_cluster
):
    harbor = RegistryFactory(organization=organization, display_name="Harbor", address=LOOPBACK)
    pending_cluster.release()
    open_polling_table(page, owner)
    expect(page.locator("#delivery-poll[hx-trigger]")).to_have_count(0)

    page.get_by_role("link", name="Edit Harbor").click()
    dialog = page.locator("#app-dialog")
    dialog.get_by_label("Display Name").fill("Harbor EU")
    dialog.get_by_role("button", name="Save changes").click()

    expect(dialog).to_be_hidden()
    expect(page.locator(f"#registry-{harbor.pk}")).to_contain_text("Pending")
    expect(page.locator("#delivery-poll")).to_have_attribute("hx-trigger", "every 2s")
    pending_cluster.release()
    expect(page.locator(f"#registry-{harbor.pk}")).to_contain_text("Synced")
    expect(page.locator("#delivery-poll[hx-trigger]")).to_have_count(0)


@pytest.mark.parametrize(
    ("viewport", "name"),
    [({"width": 1280, "height": 800}, "desktop"), ({"width": 390, "height": 844}, "phone")],
)
def test_screenshots_of_a_pending_and_a_failing_table_with_the_dialog_open(
    browser, live_server, owner, organization, pending_cluster, viewport, name
):
    """Keeps docs/ pictures of the table mid-sync current, at desktop and phone width."""
    RegistryFactory(organization=organization, display_name="GitHub packages", address="ghcr.io")
    harbor = RegistryFactory(
        organization=organization, display_name="Harbor", address="harbor.example.com"
    )
    # The cluster holds GitHub's entry, and Harbor's delivery failed.
    github = organization.registries.get(display_name="GitHub packages")
    organization.delivery_targets.update(
        status=TargetStatus.ERROR,
        error_kind="namespace-missing",
        error="Namespace “org-acme” does not exist.",
        delivered_versions={str(github.pk): github.version},
    )
    page = new_page(browser, live_server, viewport=viewport)
    try:
        page.emulate_media(reduced_motion="reduce")
        open_polling_table(page, owner)
        expect(page.locator(f"#registry-{github.pk}").get_by_text("Synced")).to_have_count(1)
        expect(page.locator(f"#registry-{harbor.pk}").get_by_text("Not synced")).to_have_count(1)
        screenshot(
            page,
            f"pending-{name}",
            copy_to=DOCS / f"registries-pending-{name}.png",
            full_page=name == "phone",
        )
        wait_for_refreshes(page)
        page.get_by_role("link", name="Edit Harbor").click()
        dialog = page.locator("#app-dialog")
        expect(dialog.get_by_role("heading", name="Edit “Harbor”")).to_be_visible()
        screenshot(page, f"pending-dialog-{name}", copy_to=DOCS / f"dialog-edit-{name}.png")
    finally:
        page.context.close()
