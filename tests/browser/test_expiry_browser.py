"""An "Expires on" date entered in the dialog, and the row's warning."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from registries.models import ContainerRegistry

from .conftest import screenshot
from .test_registries_browser import open_new_registry_dialog, open_registries

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_a_token_with_an_expiry_date_warns_on_its_row(page, owner):
    expires_on = timezone.localdate() + datetime.timedelta(days=5)
    open_registries(page, owner)
    dialog = open_new_registry_dialog(page)
    dialog.get_by_label("Display Name").fill("GitLab deploy token")
    dialog.get_by_label("Address").fill("registry.gitlab.com")
    dialog.get_by_role("radio", name="Token").check()
    date = dialog.get_by_label("Expires on")
    expect(date).to_be_visible()
    expect(date).to_have_attribute("type", "date")
    dialog.get_by_label("Username").fill("gitlab+deploy-token-7")
    dialog.locator("#id_token").fill("gldt-example0123456789")
    date.fill(expires_on.isoformat())
    dialog.get_by_role("button", name="Add registry").click()

    expect(dialog).to_be_hidden()
    row = page.locator("#registry-table tr.registry-row")
    expect(row.locator("[data-expiry]")).to_have_text("expires in 5 days")
    assert ContainerRegistry.objects.get().expires_on == expires_on
    screenshot(page, "registries-expiry", copy_to=DOCS / "registries-expiry.png")


def test_a_past_expiry_date_is_warned_in_the_dialog_and_the_answer_then_kept(page, owner):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    open_registries(page, owner)
    dialog = open_new_registry_dialog(page)
    dialog.get_by_label("Display Name").fill("GitLab deploy token")
    dialog.get_by_label("Address").fill("registry.gitlab.com")
    dialog.get_by_role("radio", name="Token").check()
    dialog.get_by_label("Username").fill("gitlab+deploy-token-7")
    dialog.locator("#id_token").fill("gldt-example0123456789")
    dialog.get_by_label("Expires on").fill(yesterday.isoformat())

    warning = "This date is in the past: the row will show it as expired."
    expect(dialog.locator("#registry-hints")).to_contain_text(warning)
    dialog.get_by_role("button", name="Add registry").click()

    expect(dialog).to_be_hidden()
    expect(page.locator("#messages")).to_contain_text(warning)
    row = page.locator("#registry-table tr.registry-row")
    expect(row.locator("[data-expiry]")).to_have_text("expired")
    assert ContainerRegistry.objects.get().expires_on == yesterday
