"""Tables holding real data, in a real Chromium: long names wrap instead of widening the page,
addresses break between their parts, and search, sort and pages work in place and by URL."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from registries.models import AuthType, ContainerRegistry
from registries.services import registry_create, registry_delete
from tests.factories import RegistryFactory

from .conftest import log_in, new_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REGISTRIES = "/orgs/acme/settings/registries/"
ACTIVITY = "/orgs/acme/settings/activity/"
LONG_NAME = "X" * 100  # a Display Name at its longest, without a space to break at
LONG_ADDRESS = "registry-with-a-long-name.gitlab.example.com:5050/some-group/some-project"
WIDTHS = [1280, 390]


def page_width(page: Page) -> tuple[int, int]:
    return tuple(page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]"))


def assert_no_sideways_scroll(page: Page) -> None:
    scroll_width, window_width = page_width(page)
    assert scroll_width <= window_width, f"{scroll_width}px wide in a {window_width}px window"


def add_long_registry(organization, owner) -> ContainerRegistry:
    return registry_create(
        organization,
        actor=owner,
        display_name=LONG_NAME,
        address=LONG_ADDRESS,
        auth_type=AuthType.BASIC,
        username="robot",
        password="pw-Long-Row-Browser-1",
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_a_long_name_wraps_on_registries(browser, live_server, owner, organization, width):
    add_long_registry(organization, owner)
    RegistryFactory(organization=organization, display_name="Quay", address="quay.io")
    page = new_page(browser, live_server, viewport={"width": width, "height": 800})
    try:
        log_in(page, owner)
        page.goto(REGISTRIES)
        expect(page.locator("#registry-table tr.registry-row")).to_have_count(2)
        assert_no_sideways_scroll(page)
        name = page.locator("#registry-table tbody th", has_text="XXXX")
        assert name.bounding_box()["x"] + name.bounding_box()["width"] <= width
        screenshot(page, f"long-name-registries-{width}", full_page=True)
    finally:
        page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_addresses_break_only_after_dots_colons_and_slashes(
    browser, live_server, owner, organization, width
):
    add_long_registry(organization, owner)
    page = new_page(browser, live_server, viewport={"width": width, "height": 800})
    try:
        log_in(page, owner)
        page.goto(REGISTRIES)
        address = page.locator("#registry-table code.address")
        # Each visual line of the address, from the positions of its characters.
        lines = address.evaluate(
            """code => {
                const text = code.textContent, range = document.createRange(), lines = [];
                let top = null, line = "";
                const node = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
                for (let n = node.nextNode(); n; n = node.nextNode()) {
                    for (let i = 0; i < n.length; i++) {
                        range.setStart(n, i); range.setEnd(n, i + 1);
                        const y = Math.round(range.getBoundingClientRect().top);
                        if (top !== null && y > top + 2) { lines.push(line); line = ""; }
                        top = y; line += n.data[i];
                    }
                }
                lines.push(line);
                return lines;
            }"""
        )
        assert "".join(lines) == LONG_ADDRESS
        for line in lines[:-1]:
            assert line[-1] in ".:/", lines
        if width == 390:
            assert len(lines) > 1  # it does not fit on one line there
        assert_no_sideways_scroll(page)
    finally:
        page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_long_name_wraps_on_activity_also_after_the_registry_is_deleted(
    browser, live_server, owner, organization, width
):
    registry = add_long_registry(organization, owner)
    page = new_page(browser, live_server, viewport={"width": width, "height": 800})
    try:
        log_in(page, owner)
        page.goto(ACTIVITY)
        expect(page.locator(".activity-table tbody tr")).to_have_count(1)
        assert_no_sideways_scroll(page)

        registry_delete(registry, actor=owner)
        page.reload()
        expect(page.locator(".activity-table tbody tr")).to_have_count(2)
        expect(page.get_by_role("rowheader", name=re.compile("Registry deleted"))).to_be_visible()
        assert_no_sideways_scroll(page)
        screenshot(page, f"long-name-activity-{width}", full_page=True)
    finally:
        page.context.close()


def test_search_sort_and_pages_update_the_table_and_the_url(page, owner, organization):
    for index in range(60):
        RegistryFactory(
            organization=organization,
            display_name=f"Team {index:02d}",
            address=f"team-{index:02d}.example.com",
        )
    RegistryFactory(organization=organization, display_name="Quay robots", address="quay.io")
    log_in(page, owner)
    page.goto(REGISTRIES)
    page.evaluate("window.__marker = 1")
    rows = page.locator("#registry-table tr.registry-row")
    expect(rows).to_have_count(50)
    expect(page.locator("#registry-count")).to_have_text("61 registries, showing 1 to 50.")

    page.get_by_role("link", name="Next").click()
    expect(rows).to_have_count(11)
    expect(page).to_have_url(re.compile(r"\?page=2$"))

    page.get_by_role("link", name="Display Name").click()  # already by name: reverses it
    expect(rows.first.locator("th")).to_have_text("Team 59")
    expect(page).to_have_url(re.compile(r"\?sort=-name$"))

    page.get_by_label("Search registries").fill("quay")
    expect(rows).to_have_count(1)
    expect(page.locator("#registry-count")).to_contain_text("1 of 61 registries matches “quay”")
    expect(page).to_have_url(re.compile(r"\?q=quay&sort=-name$"))
    # A filter chosen after sorting keeps the sort (the search box losing focus changes nothing).
    page.get_by_role("link", name="Address").click()
    expect(page).to_have_url(re.compile(r"\?q=quay&sort=address$"))
    page.get_by_label("Filter by auth type").select_option("BasicAuth")
    expect(page).to_have_url(re.compile(r"\?q=quay&auth=BasicAuth&sort=address$"))
    expect(rows).to_have_count(1)
    assert page.evaluate("window.__marker") == 1  # all of it without reloading the page

    # The URL shows the same view to whoever opens it, and Back goes to the view before.
    page.reload()
    expect(rows).to_have_count(1)
    expect(page.get_by_label("Search registries")).to_have_value("quay")
    page.go_back()
    expect(page).to_have_url(re.compile(r"\?q=quay&sort=address$"))
    screenshot(page, "registries-sorted")


def test_search_and_pages_work_without_javascript(browser, live_server, owner, organization):
    for index in range(55):
        RegistryFactory(organization=organization, display_name=f"Team {index:02d}")
    page = new_page(browser, live_server, java_script_enabled=False)
    try:
        log_in(page, owner)
        page.goto(REGISTRIES)
        page.get_by_label("Search registries").fill("Team 5")
        page.get_by_role("button", name="Search").click()
        expect(page).to_have_url(re.compile(r"\?q=Team\+5"))
        expect(page.locator("#registry-table tr.registry-row")).to_have_count(5)
        page.get_by_role("link", name="Address").click()
        expect(page).to_have_url(re.compile(r"q=Team\+5&sort=address"))
        expect(page.locator("#registry-table tr.registry-row")).to_have_count(5)
    finally:
        page.context.close()


def test_a_member_searches_without_change_controls(page, member, organization):
    RegistryFactory(organization=organization, display_name="Quay robots", address="quay.io")
    RegistryFactory(organization=organization, display_name="Harbor")
    log_in(page, member)
    page.goto(REGISTRIES)
    page.get_by_label("Search registries").fill("quay")
    expect(page.locator("#registry-table tr.registry-row")).to_have_count(1)
    expect(page.get_by_role("link", name="Edit Quay robots")).to_have_count(0)


def test_on_a_phone_the_rows_are_sorted_from_a_menu(browser, live_server, owner, organization):
    for name in ("Alpha", "Bravo", "Charlie"):
        RegistryFactory(organization=organization, display_name=name)
    page = new_page(browser, live_server, viewport={"width": 390, "height": 844})
    try:
        log_in(page, owner)
        page.goto(REGISTRIES)
        expect(page.locator("#registry-table thead")).to_be_hidden()
        page.get_by_label("Sort by").select_option("-name")
        expect(page.locator("#registry-table tr.registry-row").first.locator("th")).to_have_text(
            "Charlie"
        )
        expect(page).to_have_url(re.compile(r"\?sort=-name$"))
        expect(page.get_by_label("Sort by")).to_have_value("-name")
        assert_no_sideways_scroll(page)
        screenshot(page, "phone-sorted", full_page=True)
    finally:
        page.context.close()
