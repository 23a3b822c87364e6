"""The Container Registries section as a person uses it: a real Chromium against the live server.

Each test states one behaviour a user sees. Database checks confirm what the page claims.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from delivery.models import Cluster, DeliveryTarget, TargetStatus
from registries.models import AuthType, ContainerRegistry
from tests.factories import RegistryFactory

from .conftest import log_in, new_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE_URL = "/orgs/acme/settings/registries/"


def open_registries(page: Page, user) -> None:
    log_in(page, user)
    page.goto(PAGE_URL)
    expect(page.get_by_role("heading", name="Container Registries")).to_be_visible()


def watch_navigation(page: Page) -> list[str]:
    """Mark the loaded document and record navigations: both must survive an htmx update."""
    page.evaluate("window.__marker = 1")
    navigations: list[str] = []
    page.on(
        "framenavigated",
        lambda frame: navigations.append(frame.url) if frame == page.main_frame else None,
    )
    return navigations


def assert_not_reloaded(page: Page, navigations: list[str]) -> None:
    assert page.evaluate("window.__marker") == 1
    assert navigations == []


def open_new_registry_dialog(page: Page):
    page.get_by_role("link", name="New registry").click()
    dialog = page.locator("#app-dialog")
    expect(dialog.get_by_role("heading", name="New registry")).to_be_visible()
    return dialog


def assert_within_window(locator, window_width: int) -> dict:
    box = locator.bounding_box()
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= window_width
    return box


def assert_no_horizontal_overflow(page: Page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page is {widths[0]}px wide in a {widths[1]}px window"


def create_showcase_registries(organization, owner) -> None:
    """Three registries as a real organization might have them, changed at different times,
    on a cluster that holds two of them (the third is being delivered)."""
    now = timezone.now()
    held = {}
    # Display Name, Address, Auth Type, Username, delivered yet, hours since the last change
    for name, address, auth_type, username, delivered, age in [
        ("GitHub packages", "ghcr.io", AuthType.BASIC, "acme-bot", True, 3),
        ("Docker Hub", "docker.io", AuthType.TOKEN, "acmebot", True, 26),
        ("Harbor (on-prem)", "harbor.example.com:8443/team", AuthType.BASIC, "robot$ci", False, 0),
    ]:
        registry = RegistryFactory(
            organization=organization,
            display_name=name,
            address=address,
            auth_type=auth_type,
            username=username,
            password="" if auth_type == AuthType.TOKEN else "example-password",
            token="example-token" if auth_type == AuthType.TOKEN else "",
            created_by=owner,
            updated_by=owner,
        )
        ContainerRegistry.objects.filter(pk=registry.pk).update(
            updated_at=now - datetime.timedelta(hours=age, minutes=5)
        )
        if delivered:
            held[str(registry.pk)] = registry.version
    cluster, _ = Cluster.objects.get_or_create(
        name="eu-west", defaults={"connection": "in-cluster"}
    )
    DeliveryTarget.objects.update_or_create(
        organization=organization,
        cluster=cluster,
        defaults={
            "namespace": organization.namespace,
            "status": TargetStatus.PENDING,
            "synced_at": now - datetime.timedelta(hours=3),
            "delivered_versions": held,
        },
    )


def test_owner_creates_basic_auth_registry_in_the_dialog_without_reload(page, owner):
    open_registries(page, owner)
    navigations = watch_navigation(page)
    dialog = page.locator("#app-dialog")

    page.get_by_role("link", name="New registry").click()
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="New registry")).to_be_visible()
    expect(dialog.get_by_label("Display Name")).to_be_focused()
    dialog.get_by_label("Display Name").fill("GitHub packages")
    dialog.get_by_label("Address").fill("ghcr.io")
    dialog.get_by_label("Username").fill("octocat")
    dialog.get_by_label("Password").fill("ghp_example0123456789")
    dialog.get_by_role("button", name="Add registry").click()

    expect(dialog).to_be_hidden()
    row = page.locator("#registry-table tr.registry-row")
    expect(row).to_have_count(1)
    expect(row.get_by_role("rowheader")).to_have_text("GitHub packages")
    expect(row).to_contain_text("ghcr.io")
    expect(row).to_contain_text("BasicAuth")
    expect(page.locator("#messages")).to_contain_text("Added “GitHub packages”.")
    expect(page.get_by_role("link", name="New registry")).to_be_focused()
    assert_not_reloaded(page, navigations)

    registry = ContainerRegistry.objects.get()
    assert (registry.display_name, registry.address, registry.auth_type) == (
        "GitHub packages",
        "ghcr.io",
        AuthType.BASIC,
    )
    assert registry.username == "octocat"
    assert registry.password == "ghp_example0123456789"
    assert registry.created_by == owner
    screenshot(page, "created-in-dialog")


def test_switching_auth_type_swaps_password_and_token_fields(page, owner):
    open_registries(page, owner)
    dialog = open_new_registry_dialog(page)
    password, token = dialog.locator("#id_password"), dialog.locator("#id_token")
    expect(dialog.get_by_role("radio", name="BasicAuth")).to_be_checked()
    expect(password).to_be_visible()
    expect(token).to_be_hidden()

    dialog.get_by_role("radio", name="Token").check()
    expect(token).to_be_visible()
    expect(password).to_be_hidden()
    expect(dialog.get_by_text("Token: a long-lived access token")).to_be_visible()

    dialog.get_by_role("radio", name="BasicAuth").check()
    expect(password).to_be_visible()
    expect(token).to_be_hidden()


def test_invalid_address_shows_error_in_the_open_dialog_and_saves_nothing(page, owner):
    open_registries(page, owner)
    dialog = open_new_registry_dialog(page)
    dialog.get_by_label("Display Name").fill("Broken")
    dialog.get_by_label("Address").fill("bad host")
    dialog.get_by_label("Username").fill("robot")
    dialog.get_by_label("Password").fill("s3cret-value")
    dialog.get_by_role("button", name="Add registry").click()

    error = dialog.locator("#id_address_error")
    expect(error).to_have_text("The address cannot contain spaces.")
    expect(dialog).to_be_visible()
    address = dialog.get_by_label("Address")
    expect(address).to_have_attribute("aria-invalid", "true")
    expect(address).to_have_accessible_description(re.compile("cannot contain spaces"))
    expect(address).to_have_value("bad host")
    expect(address).to_be_focused()
    expect(dialog.get_by_role("alert")).to_have_text(
        "Please correct the fields marked below: Address, Password."
    )
    # The password is never sent back to the browser: its field says to paste it again.
    expect(dialog.get_by_label("Password")).to_have_value("")
    expect(dialog.locator("#id_password_error")).to_contain_text("Paste the password again")
    assert not ContainerRegistry.objects.exists()
    screenshot(page, "validation-error")


def test_typing_a_known_address_shows_username_advice_inside_the_form(page, owner):
    open_registries(page, owner)
    dialog = open_new_registry_dialog(page)
    dialog.get_by_label("Display Name").fill("GitHub packages")
    dialog.get_by_label("Address").fill("ghcr.io")

    hints = dialog.locator("#registry-hints")
    expect(hints).to_contain_text("GitHub: your GitHub user name")
    # The advice lands in its own box; the form around it stays as typed.
    expect(dialog.get_by_label("Display Name")).to_have_value("GitHub packages")
    expect(dialog.get_by_role("button", name="Add registry")).to_be_visible()
    expect(dialog.get_by_label("Address")).to_be_focused()


def test_edit_with_blank_password_keeps_stored_password(page, owner, organization):
    registry = RegistryFactory(
        organization=organization,
        display_name="Harbor",
        address="harbor.example.com",
        username="robot$ci",
        password="stored-harbor-password",
    )
    open_registries(page, owner)
    navigations = watch_navigation(page)

    page.get_by_role("link", name="Edit Harbor").click()
    dialog = page.locator("#app-dialog")
    expect(dialog.get_by_role("heading", name="Edit “Harbor”")).to_be_visible()
    expect(dialog.get_by_label("Password")).to_have_value("")
    expect(dialog.get_by_text("Leave blank to keep the stored password")).to_be_visible()
    screenshot(page, "edit-dialog")
    dialog.get_by_label("Display Name").fill("Harbor (on-prem)")
    dialog.get_by_role("button", name="Save changes").click()

    expect(dialog).to_be_hidden()
    expect(page.locator(f"#registry-{registry.pk} th")).to_have_text("Harbor (on-prem)")
    expect(page.locator("#messages")).to_contain_text("Saved “Harbor (on-prem)”.")
    # The Edit link was re-rendered with the table: focus is on its replacement.
    expect(page.get_by_role("link", name="Edit Harbor (on-prem)")).to_be_focused()
    assert_not_reloaded(page, navigations)

    registry.refresh_from_db()
    assert registry.display_name == "Harbor (on-prem)"
    assert registry.password == "stored-harbor-password"
    assert registry.updated_by == owner


def test_delete_asks_for_confirmation_in_the_dialog(page, owner, organization):
    registry = RegistryFactory(
        organization=organization, display_name="Docker Hub", address="docker.io"
    )
    open_registries(page, owner)
    navigations = watch_navigation(page)
    dialog = page.locator("#app-dialog")
    row = page.locator(f"#registry-{registry.pk}")
    delete = page.get_by_role("link", name="Delete Docker Hub")

    delete.click()
    expect(dialog.get_by_role("heading", name="Delete “Docker Hub”?")).to_be_visible()
    expect(dialog).to_contain_text("docker.io")
    screenshot(page, "delete-confirm")
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(row).to_be_visible()
    expect(delete).to_be_focused()
    assert ContainerRegistry.objects.filter(pk=registry.pk).exists()

    delete.click()
    dialog.get_by_role("button", name="Delete registry").click()
    expect(dialog).to_be_hidden()
    expect(row).to_have_count(0)
    expect(page.get_by_text("No registries yet")).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("Deleted “Docker Hub”.")
    expect(page.get_by_role("link", name="New registry")).to_be_focused()
    assert_not_reloaded(page, navigations)
    assert not ContainerRegistry.objects.filter(pk=registry.pk).exists()


def test_member_sees_registries_without_change_controls(page, member, organization):
    RegistryFactory(organization=organization, display_name="GitHub packages", address="ghcr.io")
    open_registries(page, member)

    table = page.locator("#registry-table")
    expect(table.get_by_role("row", name="GitHub packages")).to_be_visible()
    expect(page.get_by_role("link", name="New registry")).to_have_count(0)
    # Only the column headers' sort links: nothing that changes a registry.
    expect(table.locator("tbody").get_by_role("link")).to_have_count(0)
    expect(table.get_by_role("button")).to_have_count(0)
    expect(table.get_by_role("columnheader")).to_have_count(5)


def test_dialog_closes_on_escape_and_keeps_tab_focus_inside(page, owner, organization):
    registry = RegistryFactory(organization=organization, display_name="Quay", address="quay.io")
    open_registries(page, owner)
    inside = "() => document.getElementById('app-dialog').contains(document.activeElement)"

    dialog = open_new_registry_dialog(page)
    first = dialog.get_by_label("Display Name")
    last = dialog.get_by_role("button", name="Add registry")
    expect(first).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(last).to_be_focused()
    page.keyboard.press("Tab")
    expect(first).to_be_focused()
    for _ in range(20):
        page.keyboard.press("Tab")
        assert page.evaluate(inside), page.evaluate("document.activeElement.outerHTML")
    for _ in range(3):
        page.keyboard.press("Shift+Tab")
        assert page.evaluate(inside), page.evaluate("document.activeElement.outerHTML")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("link", name="New registry")).to_be_focused()

    edit = page.locator(f"#edit-registry-{registry.pk}")
    edit.click()
    expect(dialog.get_by_role("heading", name="Edit “Quay”")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(edit).to_be_focused()
    # Closing empties the dialog, so a stale form cannot be submitted later.
    expect(dialog.locator("form")).to_have_count(0)


def test_without_javascript_create_is_a_plain_page_that_redirects_back(browser, live_server, owner):
    page = new_page(browser, live_server, java_script_enabled=False)
    try:
        open_registries(page, owner)
        page.get_by_role("link", name="New registry").click()
        expect(page).to_have_url(f"{live_server.url}/orgs/acme/settings/registries/new/")
        page.get_by_label("Display Name").fill("Docker Hub")
        page.get_by_label("Address").fill("docker.io")
        page.get_by_label("Username").fill("acmebot")
        page.get_by_label("Password").fill("dckr_pat_example")
        screenshot(page, "no-javascript-form", full_page=True)
        page.get_by_role("button", name="Add registry").click()

        expect(page).to_have_url(f"{live_server.url}{PAGE_URL}")
        expect(
            page.locator("#registry-table").get_by_role("row", name="Docker Hub")
        ).to_be_visible()
        expect(page.locator("#messages")).to_contain_text("Added “Docker Hub”.")
        screenshot(page, "no-javascript-created")
    finally:
        page.context.close()
    assert ContainerRegistry.objects.get().address == "docker.io"


def test_phone_viewport_shows_registries_as_cards_without_horizontal_scroll(
    browser, live_server, owner, organization
):
    create_showcase_registries(organization, owner)
    page = new_page(browser, live_server, viewport={"width": 390, "height": 844})
    try:
        open_registries(page, owner)
        table = page.locator("#registry-table")
        expect(table.locator("tr.registry-row")).to_have_count(3)
        expect(table.locator("thead")).to_be_hidden()
        assert_no_horizontal_overflow(page)
        # The header row is hidden, so every cell carries its column's name.
        label = page.evaluate(
            "getComputedStyle(document.querySelector('#registry-table td[data-label=Address]'),"
            " '::before').content"
        )
        assert label == '"Address"'
        # A card's fields use the card's width instead of squeezing into columns.
        for row in table.locator("tr.registry-row").all():
            row_box = assert_within_window(row, 390)
            for cell in row.locator("th, td").all():
                cell_html = cell.evaluate("cell => cell.outerHTML")
                assert cell.bounding_box()["width"] >= 0.9 * row_box["width"], cell_html
        screenshot(page, "phone", full_page=True)

        dialog = open_new_registry_dialog(page)
        assert_within_window(dialog, 390)
        expect(dialog.get_by_label("Address")).to_be_in_viewport()
        assert_no_horizontal_overflow(page)
        screenshot(page, "phone-dialog")
    finally:
        page.context.close()


@pytest.mark.parametrize("width", [820, 1024])
def test_tablet_and_laptop_widths_fit_without_horizontal_scroll(
    browser, live_server, owner, organization, width
):
    create_showcase_registries(organization, owner)
    RegistryFactory(
        organization=organization,
        display_name="ECR production",
        address="123456789012.dkr.ecr.eu-central-1.amazonaws.com/platform/services",
    )
    page = new_page(browser, live_server, viewport={"width": width, "height": 800})
    try:
        open_registries(page, owner)
        expect(page.locator("#registry-table tr.registry-row")).to_have_count(4)
        expect(page.get_by_role("link", name="Delete ECR production")).to_be_visible()
        assert_no_horizontal_overflow(page)
        screenshot(page, f"width-{width}", full_page=True)
    finally:
        page.context.close()


def test_screenshots_of_the_registries_page_and_the_create_dialog(page, owner, organization):
    """Keeps docs/ pictures current; they show the page as the suite last saw it."""
    create_showcase_registries(organization, owner)
    page.emulate_media(reduced_motion="reduce")
    open_registries(page, owner)
    expect(page.locator("#registry-table tr.registry-row")).to_have_count(3)
    screenshot(page, "settings-registries", copy_to=DOCS / "settings-registries.png")

    dialog = open_new_registry_dialog(page)
    dialog.get_by_label("Display Name").fill("GitLab")
    dialog.get_by_label("Address").fill("registry.gitlab.com")
    expect(dialog.get_by_text("GitLab: a deploy token's username")).to_be_visible()
    screenshot(page, "settings-registries-dialog", copy_to=DOCS / "settings-registries-dialog.png")


def test_pages_run_under_a_policy_that_blocks_inline_scripts_and_styles(
    page: Page, organization, owner, csp_violations
):
    log_in(page, owner)
    page.goto(f"/orgs/{organization.slug}/settings/registries/")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
            const style = document.createElement("style");
            style.textContent = "body { background: red }";
            document.head.append(style);
        }"""
    )
    expect(page.locator("body")).to_be_visible()
    assert page.evaluate("() => window.injected === undefined")
    assert (
        page.evaluate("() => getComputedStyle(document.body).backgroundColor") != "rgb(255, 0, 0)"
    )
    assert any("script-src" in v for v in csp_violations), csp_violations
    assert any("style-src" in v for v in csp_violations), csp_violations
    csp_violations.clear()


def test_the_admin_and_the_login_page_run_without_violations(page: Page, organization):
    from tests.factories import UserFactory

    registry = RegistryFactory(organization=organization)
    log_in(page, UserFactory(username="root", is_staff=True, is_superuser=True))
    for path in (
        "/admin/",
        "/admin/registries/containerregistry/",
        f"/admin/registries/containerregistry/{registry.pk}/change/",
        "/admin/registries/containerregistry/add/",
        f"/admin/orgsettings/organization/{organization.pk}/change/",
        "/admin/orgsettings/auditevent/",
    ):
        page.goto(path)
        expect(page.locator("#content")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_a_credential_no_key_reads_is_marked_on_its_row(page, owner, organization, settings):
    suite_key = settings.CREDENTIALS_KEY
    settings.CREDENTIALS_KEY = "a-key-that-was-later-removed-" + "b" * 30
    RegistryFactory(organization=organization, display_name="Harbor", address="harbor.example.com")
    settings.CREDENTIALS_KEY = suite_key
    RegistryFactory(organization=organization, display_name="GitHub", address="ghcr.io")

    open_registries(page, owner)

    expect(page.locator("tbody.registry", has_text="Harbor")).to_contain_text(
        "Password cannot be decrypted: the encryption key changed. Enter it again."
    )
    expect(page.locator("tbody.registry", has_text="GitHub")).not_to_contain_text("decrypted")
