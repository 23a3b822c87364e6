"""Delivery to clusters on the registries section, as a person sees it in Chromium: the status
line in its states, Copy, Sync now, and the poll that brings news without a reload.

The targets' state is written the way the delivery worker leaves it; what the page shows of it
is what is tested here.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from delivery.models import DeliveryTarget, TargetStatus
from tests.factories import ClusterFactory, DeliveryTargetFactory, RegistryFactory

from .conftest import log_in, new_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE_URL = "/orgs/acme/settings/registries/"
PHONE = {"width": 390, "height": 844}
# The poll asks every 2 seconds: allow a few rounds.
POLL_WAIT = 10_000


def open_registries(page: Page, user) -> None:
    log_in(page, user)
    page.goto(PAGE_URL)
    expect(page.get_by_role("heading", name="Container Registries")).to_be_visible()


def watch_navigation(page: Page) -> list[str]:
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


def assert_no_horizontal_overflow(page: Page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page is {widths[0]}px wide in a {widths[1]}px window"


def section_box(page: Page) -> dict:
    """The registries section's box in page coordinates, for a full-page clip."""
    box = page.locator("section[aria-labelledby=registries-title]").bounding_box()
    return {**box, "y": box["y"] + page.evaluate("window.scrollY")}


def showcase(organization, owner):
    """Three registries; Harbor was just saved, so no cluster holds its new version yet."""
    now = timezone.now()
    registries = [
        RegistryFactory(
            organization=organization,
            display_name=name,
            address=address,
            username="acme-bot",
            created_by=owner,
            updated_by=owner,
        )
        for name, address in [
            ("GitHub packages", "ghcr.io"),
            ("Docker Hub", "docker.io"),
            ("Harbor (on-prem)", "harbor.example.com:8443/team"),
        ]
    ]
    held = {str(r.pk): r.version for r in registries[:2]}
    eu_west = DeliveryTargetFactory(
        organization=organization,
        cluster=ClusterFactory(name="eu-west"),
        status=TargetStatus.PENDING,
        synced_at=now - datetime.timedelta(minutes=4),
        delivered_versions=held,
    )
    return registries, eu_west, held


def deliver(target: DeliveryTarget, registries) -> None:
    """What the worker records after a successful delivery."""
    target.status = TargetStatus.SYNCED
    target.synced_at = timezone.now()
    target.error, target.error_kind, target.failing_since = "", "", None
    target.delivered_versions = {str(r.pk): r.version for r in registries}
    target.save()


def fail(target: DeliveryTarget, kind: str, error: str) -> None:
    target.status = TargetStatus.ERROR
    target.error_kind, target.error = kind, error
    target.failing_since = timezone.now() - datetime.timedelta(minutes=12)
    target.save()


def test_synced_status_line_names_the_secret_and_copies_the_kubectl_command(
    browser, live_server, organization, owner
):
    registries, eu_west, _ = showcase(organization, owner)
    deliver(eu_west, registries)
    page = new_page(browser, live_server)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_registries(page, owner)

    line = page.locator("#delivery-status")
    expect(line).to_contain_text("Delivered to cluster eu-west")
    expect(line).to_contain_text("Secret org-registry-credentials in namespace org-acme")
    expect(line.locator("[data-cluster=eu-west]")).to_contain_text("Synced")
    expect(line.locator("[data-cluster=eu-west]")).to_contain_text("Last synced")
    for registry in registries:
        expect(page.locator(f"#status-{registry.pk} summary")).to_have_text("✓ Synced")

    copy = line.get_by_role("button", name="Copy the command")
    copy.click()
    expect(copy).to_have_text("Copied")
    clipboard = page.evaluate("navigator.clipboard.readText()")
    assert clipboard == "kubectl get secret org-registry-credentials -n org-acme"
    page.context.close()


def test_without_javascript_the_command_is_selectable_text_and_copy_is_hidden(
    browser, live_server, organization, owner
):
    registries, eu_west, _ = showcase(organization, owner)
    deliver(eu_west, registries)
    page = new_page(browser, live_server, java_script_enabled=False)
    open_registries(page, owner)
    command = page.locator("#delivery-command-1")
    expect(command).to_have_text("kubectl get secret org-registry-credentials -n org-acme")
    assert command.evaluate("e => getComputedStyle(e).userSelect") == "all"
    expect(page.get_by_role("button", name="Copy the command")).to_be_hidden()
    page.context.close()


def test_pending_delivery_settles_on_the_page_without_a_reload(page, organization, owner):
    registries, eu_west, _ = showcase(organization, owner)
    harbor = registries[2]
    open_registries(page, owner)
    navigations = watch_navigation(page)
    expect(page.locator("#delivery-status")).to_contain_text("Delivering to cluster eu-west…")
    expect(page.locator(f"#status-{harbor.pk}")).to_contain_text("Pending")
    expect(page.locator(f"#status-{registries[0].pk}")).to_contain_text("Synced")

    deliver(eu_west, registries)

    expect(page.locator(f"#status-{harbor.pk} summary")).to_have_text("✓ Synced", timeout=POLL_WAIT)
    expect(page.locator("#delivery-status")).to_contain_text("Delivered to cluster eu-west")
    # Settled: the poll element no longer asks.
    expect(page.locator("#delivery-poll")).not_to_have_attribute("hx-trigger", "every 2s")
    assert_not_reloaded(page, navigations)


def test_the_poll_leaves_an_open_dialog_and_the_row_actions_alone(page, organization, owner):
    registries, eu_west, _ = showcase(organization, owner)
    harbor = registries[2]
    open_registries(page, owner)
    dialog = page.locator("#app-dialog")

    page.get_by_role("link", name="Edit GitHub packages").click()
    expect(dialog.get_by_role("heading", name="Edit “GitHub packages”")).to_be_visible()
    dialog.get_by_label("Display Name").fill("GitHub (renamed)")
    with page.expect_response(lambda r: "/delivery/poll/" in r.url, timeout=POLL_WAIT):
        pass
    deliver(eu_west, registries)
    expect(page.locator(f"#status-{harbor.pk} summary")).to_have_text("✓ Synced", timeout=POLL_WAIT)

    # The poll landed behind the dialog: the form is where it was, with what was typed.
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Display Name")).to_have_value("GitHub (renamed)")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(f"#registry-{registries[0].pk}")).to_contain_text("GitHub (renamed)")
    # The save made the row Pending again, and the poll came back with the status line.
    expect(page.locator("#delivery-status")).to_contain_text("Delivering to cluster eu-west…")
    expect(page.locator(f"#status-{registries[0].pk}")).to_contain_text("Pending")

    page.get_by_role("link", name="Delete Docker Hub").click()
    expect(dialog.get_by_role("heading", name="Delete “Docker Hub”?")).to_be_visible()
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog).to_be_hidden()


def test_error_state_says_what_failed_and_what_to_do_and_sync_now_retries(
    page, organization, owner
):
    registries, eu_west, held = showcase(organization, owner)
    harbor = registries[2]
    us_east = DeliveryTargetFactory(
        organization=organization,
        cluster=ClusterFactory(name="us-east"),
        namespace="org-other",
        delivered_versions=held,
        synced_at=timezone.now() - datetime.timedelta(hours=2),
    )
    fail(us_east, "namespace-missing", "Namespace “org-other” does not exist.")
    deliver(eu_west, registries)
    open_registries(page, owner)
    navigations = watch_navigation(page)

    line = page.locator("#delivery-status")
    expect(line).to_contain_text("Delivery to us-east failed")
    failing = line.locator("[data-cluster=us-east]")
    expect(failing).to_contain_text("Namespace “org-other” does not exist.")
    expect(failing).to_contain_text(
        "Ask your platform operator to create namespace org-other on cluster us-east."
    )
    cell = page.locator(f"#status-{harbor.pk}")
    expect(cell).to_contain_text(
        "Synced on 1 of 2 clusters · us-east: namespace org-other does not exist"
    )
    expect(cell.get_by_text("eu-west")).to_be_hidden()
    cell.locator("summary").click()
    expect(cell.locator("li")).to_have_text(
        ["eu-west: holds it", "us-east: namespace org-other does not exist"]
    )

    line.get_by_role("button", name="Sync now").click()
    expect(line).to_contain_text("Delivering to clusters eu-west and us-east…")
    expect(page.locator("#messages")).to_contain_text("Sync requested")
    expect(cell).to_contain_text("Synced on 1 of 2 clusters · pending on us-east")
    # The new line works like the old one: focus stayed on Sync now, Copy is there.
    expect(line.get_by_role("button", name="Sync now")).to_be_focused()
    # One command per namespace: this organization uses org-acme and org-other.
    copies = line.get_by_role("button", name="Copy the command")
    expect(copies).to_have_count(2)
    for index in range(2):
        expect(copies.nth(index)).to_be_visible()
    assert set(DeliveryTarget.objects.values_list("status", flat=True)) == {TargetStatus.PENDING}
    assert_not_reloaded(page, navigations)


def test_member_sees_the_status_line_without_sync_now(page, organization, member, owner):
    registries, eu_west, _ = showcase(organization, owner)
    deliver(eu_west, registries)
    open_registries(page, member)
    expect(page.locator("#delivery-status")).to_contain_text("Delivered to cluster eu-west")
    expect(page.get_by_role("button", name="Sync now")).to_have_count(0)


def test_without_a_cluster_the_status_line_says_so_once(page, organization, owner):
    RegistryFactory.create_batch(2, organization=organization)
    open_registries(page, owner)
    expect(page.get_by_text("Not delivered: no cluster configured")).to_have_count(1)
    expect(page.get_by_role("button", name="Sync now")).to_have_count(0)


@pytest.mark.parametrize(("width", "suffix"), [(1280, ""), (390, "-phone")])
def test_screenshots_of_the_section_pending_and_failing(
    browser, live_server, organization, owner, width, suffix
):
    registries, eu_west, held = showcase(organization, owner)
    page = new_page(
        browser, live_server, viewport={"width": width, "height": 900}, reduced_motion="reduce"
    )
    open_registries(page, owner)
    expect(page.locator("#delivery-status")).to_contain_text("Delivering to cluster eu-west…")
    assert_no_horizontal_overflow(page)
    screenshot(
        page,
        f"delivery-pending{suffix}",
        copy_to=DOCS / f"settings-delivery-pending{suffix}.png",
        clip=section_box(page),
        full_page=True,
        animations="disabled",
    )

    us_east = DeliveryTargetFactory(
        organization=organization,
        cluster=ClusterFactory(name="us-east"),
        delivered_versions=held,
        synced_at=timezone.now() - datetime.timedelta(hours=2),
    )
    fail(us_east, "unreachable", "The cluster is unreachable.")
    deliver(eu_west, registries)
    page.reload()
    expect(page.locator("#delivery-status")).to_contain_text("Delivery to us-east failed")
    page.locator(f"#status-{registries[2].pk} summary").click()
    assert_no_horizontal_overflow(page)
    screenshot(
        page,
        f"delivery-error{suffix}",
        copy_to=DOCS / f"settings-delivery-error{suffix}.png",
        clip=section_box(page),
        full_page=True,
        animations="disabled",
    )
    page.context.close()
