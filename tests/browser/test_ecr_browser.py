"""Adding an Amazon ECR registry as a person does: the kind's fields in the dialog and in the
plain form without JavaScript, and the row saying when its token expires and is refreshed."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from playwright.sync_api import expect

from registries.ecr_refresh import refresh_ecr_token
from registries.models import ContainerRegistry
from tests.aws import ACCESS_KEY_ID, HOST, SECRET_ACCESS_KEY
from tests.deliveries import run_tasks

from .conftest import DESKTOP, new_page, screenshot
from .test_registries_browser import PAGE_URL, open_new_registry_dialog, open_registries

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs"
PHONE = {"width": 390, "height": 844}


def fill_ecr(form) -> None:
    form.get_by_label("Display Name").fill("Production ECR")
    form.get_by_label("Address").fill(HOST)
    form.get_by_label("Amazon ECR").check()
    form.get_by_label("AWS Access Key ID").fill(ACCESS_KEY_ID)
    form.get_by_label("AWS Secret Access Key").fill(SECRET_ACCESS_KEY)


def assert_fits(page, element) -> None:
    box = element.bounding_box()
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= page.viewport_size["width"]


def assert_note_readable(page, note) -> None:
    """The note wraps in a few lines of several words each, inside the page."""
    box = note.bounding_box()
    line_height = float(note.evaluate("n => parseFloat(getComputedStyle(n).lineHeight)"))
    assert box["width"] >= 150
    assert box["height"] <= 3 * line_height + 8  # its padding and border, for a badge
    assert_fits(page, note)


def test_owner_adds_an_ecr_registry_and_its_row_shows_the_token_schedule(page, owner, aws):
    open_registries(page, owner)
    dialog = open_new_registry_dialog(page)
    dialog.get_by_label("Amazon ECR").check()
    expect(dialog.get_by_label("Password")).to_be_hidden()
    fill_ecr(dialog)
    screenshot(page, "ecr-dialog", copy_to=DOCS / "ecr-dialog.png")
    dialog.get_by_role("button", name="Add registry").click()

    expect(dialog).to_be_hidden()
    row = page.locator("#registry-table tr.registry-row")
    expect(row).to_contain_text("Amazon ECR")
    expect(row).to_contain_text("no token yet; minting one")
    registry = ContainerRegistry.objects.get()
    assert registry.options["aws_region"] == "eu-west-1"

    run_tasks()  # the worker mints the first token
    page.goto(PAGE_URL)

    expect(row).to_contain_text("token expires in 12 h; next refresh in 6 h")
    assert_note_readable(page, row.locator(".row-note"))
    screenshot(page, "ecr-registry", copy_to=DOCS / "ecr-registry.png")
    page.set_viewport_size(PHONE)
    assert_note_readable(page, row.locator(".row-note"))
    screenshot(page, "ecr-registry-phone", full_page=True)
    page.set_viewport_size(DESKTOP)

    # Six hours on, AWS refuses the keys: the row says so, and how long the last token lasts.
    aws.deny_all()
    DBTaskResult.objects.filter(status="READY", task_path=refresh_ecr_token.module_path).update(
        run_after=timezone.now()
    )
    run_tasks()
    page.goto(PAGE_URL)

    expect(row).to_contain_text("token expires in 12 h; refresh failed: access denied")
    assert_note_readable(page, row.locator(".badge.expiry"))
    assert_fits(page, row.locator(".row-actions"))
    screenshot(page, "ecr-refresh-failed", copy_to=DOCS / "ecr-refresh-failed.png")


def test_without_javascript_the_ecr_fields_are_in_the_plain_form(browser, live_server, owner, aws):
    page = new_page(browser, live_server, java_script_enabled=False)
    try:
        open_registries(page, owner)
        page.get_by_role("link", name="New registry").click()
        form = page.locator("form#registry-form")
        fill_ecr(form)
        form.get_by_role("button", name="Add registry").click()

        expect(page).to_have_url(f"{live_server.url}{PAGE_URL}")
        expect(page.locator("#messages")).to_contain_text("Added “Production ECR”.")
    finally:
        page.context.close()
    registry = ContainerRegistry.objects.get()
    assert registry.auth_type == "ECR"
    assert registry.secret_values() == {"aws_secret_access_key": SECRET_ACCESS_KEY}


@pytest.mark.parametrize("width", [1280, 390])
def test_a_failing_first_mint_fits_its_row_at_any_width(
    browser, live_server, owner, organization, aws, monkeypatch, width
):
    from tests.aws import ecr_registry

    ecr_registry(organization, display_name="Production ECR")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    run_tasks()  # the first mint: AWS cannot be reached
    page = new_page(browser, live_server, viewport={"width": width, "height": 800})
    open_registries(page, owner)

    note = page.locator("#registry-table tr.registry-row [data-expiry]")
    expect(note).to_contain_text("no token; minting failed: cannot reach AWS")
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page is {widths[0]}px wide in a {widths[1]}px window"
    cell, badge = (
        page.locator("#registry-table tr.registry-row td").nth(2).bounding_box(),
        note.bounding_box(),
    )
    assert badge["x"] + badge["width"] <= cell["x"] + cell["width"] + 1
    screenshot(page, f"ecr-mint-failed-{width}")
    page.context.close()
