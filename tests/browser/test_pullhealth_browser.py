"""Pull health on the registries section, as a person sees it in Chromium: the failing count
on a registry's row, the list one click opens, news without a reload, and a restart.

The organization is placed on the fake cluster; what the worker read from it is stored with
the services it uses, and the page shows what is stored.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from delivery.models import DeliveryTarget, TargetStatus
from pullhealth.causes import Cause
from pullhealth.failures import PullFailure as ReadFailure
from pullhealth.pods import WorkloadRef
from pullhealth.services import pull_health_record, pull_health_unavailable
from tests.factories import RegistryFactory

from .conftest import log_in, new_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE_URL = "/orgs/acme/settings/registries/"
PHONE = {"width": 390, "height": 844}
MESSAGES = {
    Cause.CREDENTIALS_REFUSED: "failed to fetch oauth token: unexpected status from GET request to https://ghcr.io/token: 401 Unauthorized",
    Cause.NO_CREDENTIALS: "authorization failed: no basic auth credentials",
    Cause.IMAGE_NOT_FOUND: "docker.io/acme/agent:9.9: not found",
}


def failing(kind, name, registry, image, cause, *, owned=False) -> ReadFailure:
    return ReadFailure(
        workload=WorkloadRef(kind, "org-acme", name, controller_owned=owned),
        container=name,
        init=False,
        image=image,
        reason="ImagePullBackOff",
        cause=cause,
        message=MESSAGES.get(cause, ""),
        registry=registry,
        references_secret=kind != "Pod",
        pods=(f"{name}-7d9f8",),
    )


@pytest.fixture
def failing_pulls(organization, owner, cluster):
    """Three registries delivered to the fake cluster; the last read found GitHub's
    credentials refused for two workloads, Docker Hub's image missing for one, a bare pod, and
    an image on a host no registry names."""
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
            ("Harbor (on-prem)", "harbor.example.com:8443"),
        ]
    ]
    github, hub, _ = registries
    target = DeliveryTarget.objects.get(organization=organization)
    target.status = TargetStatus.SYNCED
    target.synced_at = timezone.now()
    target.delivered_versions = {str(r.pk): r.version for r in registries}
    target.save()
    failures = [
        failing("Deployment", "api", github, "ghcr.io/acme/api:2.4.1", Cause.CREDENTIALS_REFUSED),
        failing("StatefulSet", "db", github, "ghcr.io/acme/db:16", Cause.CREDENTIALS_REFUSED),
        failing("Pod", "debug", github, "ghcr.io/acme/toolbox:1", Cause.CREDENTIALS_REFUSED),
        failing("DaemonSet", "agent", hub, "acme/agent:9.9", Cause.IMAGE_NOT_FOUND),
        failing(
            "Deployment", "legacy", None, "registry.internal:5000/legacy:3", Cause.NO_CREDENTIALS
        ),
    ]
    # Failing for 20 minutes, last read 2 minutes ago.
    for minutes in (20, 2):
        read_at = timezone.now() - timedelta(minutes=minutes)
        pull_health_record(target, failures=failures, read_at=read_at)
    return registries, target, failures


def open_registries(page: Page, user) -> None:
    log_in(page, user)
    page.goto(PAGE_URL)
    expect(page.get_by_role("heading", name="Container Registries")).to_be_visible()


def section_box(page: Page, selector: str = "section[aria-labelledby=registries-title]") -> dict:
    box = page.locator(selector).bounding_box()
    return {**box, "y": box["y"] + page.evaluate("window.scrollY")}


def assert_no_horizontal_overflow(page: Page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page is {widths[0]}px wide in a {widths[1]}px window"


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_a_row_shows_its_failing_count_and_one_click_lists_them(
    browser, live_server, organization, owner, failing_pulls, width
):
    (github, hub, harbor), _, _ = failing_pulls
    options = {"viewport": PHONE} if width == "phone" else {}
    page = new_page(browser, live_server, **options)
    open_registries(page, owner)
    suffix = "-phone" if width == "phone" else ""

    row = page.locator(f"#pull-cell-{github.pk}")
    expect(row).to_contain_text("3 workloads can't pull: credentials refused")
    expect(row).to_contain_text("checked 2 minutes ago")
    expect(page.locator(f"#pull-cell-{hub.pk}")).to_contain_text(
        "1 workload can't pull: image not found"
    )
    expect(page.locator(f"#pull-cell-{harbor.pk}")).to_be_hidden()
    panel = page.locator("#pull-health")
    expect(panel).to_contain_text("Pull health: 5 workloads can't pull")
    expect(panel).to_contain_text("1 workload can't pull: no registry matches")
    expect(row.locator("table")).to_be_hidden()
    assert_no_horizontal_overflow(page)
    if width == "phone":
        # From the panel down to GitHub's card: the whole section is many screens long.
        top, bottom = section_box(page, "#pull-health"), section_box(page, f"#registry-{github.pk}")
        box = {**top, "height": bottom["y"] + bottom["height"] - top["y"]}
    else:
        box = section_box(page)
    screenshot(
        page,
        f"pull-health-row{suffix}",
        copy_to=DOCS / f"pull-health-row{suffix}.png",
        full_page=True,
        clip=box,
    )

    row.get_by_text("3 workloads can't pull").click()

    listing = row.locator("table")
    expect(listing).to_be_visible()
    api = listing.locator("tr", has_text="Deployment api")
    expect(api).to_contain_text("main")  # the cluster
    expect(api).to_contain_text("ghcr.io/acme/api:2.4.1")
    expect(api).to_contain_text("credentials refused")
    expect(api).to_contain_text("20 minutes ago")
    expect(listing.locator("tr", has_text="StatefulSet db")).to_be_visible()
    expect(listing.locator("tr", has_text="Pod debug")).to_contain_text("recreate it yourself")
    expect(row.get_by_role("button", name="Restart affected workloads")).to_be_visible()
    assert_no_horizontal_overflow(page)
    # On a phone the section is long: the registry's card with its list.
    box = section_box(page, f"#registry-{github.pk}") if width == "phone" else section_box(page)
    screenshot(
        page,
        f"pull-health-details{suffix}",
        copy_to=DOCS / f"pull-health-details{suffix}.png",
        full_page=True,
        clip=box,
    )

    panel.get_by_text("Show the failing workloads").click()
    everything = panel.locator("table")
    expect(everything.locator("tr", has_text="Deployment legacy")).to_contain_text(
        "no registry matches"
    )
    expect(everything.locator("tr", has_text="DaemonSet agent")).to_contain_text("Docker Hub")
    page.context.close()


def test_the_list_refreshes_without_a_reload_and_stays_open(
    page, settings, organization, owner, failing_pulls
):
    settings.PULL_HEALTH_POLL_SECONDS = 1
    (github, hub, _), target, failures = failing_pulls
    open_registries(page, owner)
    page.evaluate("window.__marker = 1")
    row = page.locator(f"#pull-cell-{github.pk}")
    row.get_by_text("3 workloads can't pull").click()
    expect(row.locator("tr", has_text="Deployment api")).to_be_visible()

    # The corrected password was delivered and the API's new pods pull; Docker Hub's agent too.
    pull_health_record(target, failures=[failures[1], failures[2]], read_at=timezone.now())

    expect(row).to_contain_text("2 workloads can't pull: credentials refused", timeout=5_000)
    expect(row.locator("tr", has_text="Deployment api")).to_have_count(0)
    expect(row.locator("tr", has_text="StatefulSet db")).to_be_visible()  # still open
    expect(page.locator(f"#pull-cell-{hub.pk}")).to_be_hidden()
    expect(page.locator("#pull-health")).to_contain_text("Pull health: 2 workloads can't pull")
    assert page.evaluate("window.__marker") == 1


def test_restart_asks_first_then_says_it_was_requested(page, organization, owner, failing_pulls):
    (github, _, _), _, _ = failing_pulls
    open_registries(page, owner)
    questions = []

    def accept(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    row = page.locator(f"#pull-cell-{github.pk}")
    row.get_by_text("3 workloads can't pull").click()
    row.get_by_role("button", name="Restart affected workloads").click()

    result = page.locator(f"#pull-result-{github.pk}")
    expect(result).to_contain_text(
        "Restart requested for 2 of the 3 workloads that can't pull from “GitHub packages”"
    )
    expect(result).to_contain_text("Left alone (recreate it yourself): Pod debug.")
    assert questions == [
        "Restart 2 of the 3 affected workloads? Left alone: recreate it yourself (1)."
    ]


def test_an_admin_turns_automatic_restarts_on(page, organization, owner, failing_pulls):
    open_registries(page, owner)
    auto = page.locator("#pull-auto")
    expect(auto).to_contain_text("Automatic restarts: off")

    auto.get_by_role("button", name="Turn on").click()

    expect(auto).to_contain_text("Automatic restarts: on")
    expect(page.locator("#messages")).to_contain_text("Automatic restarts are on")
    expect(auto.get_by_role("button", name="Turn off")).to_be_visible()


def test_a_cluster_without_the_pod_reads_says_not_permitted(page, organization, owner, cluster):
    github = RegistryFactory(organization=organization, display_name="GitHub", address="ghcr.io")
    target = DeliveryTarget.objects.get(organization=organization)
    pull_health_unavailable(
        target, error_kind="forbidden", error="pods is forbidden", read_at=timezone.now()
    )
    open_registries(page, owner)

    expect(page.locator(f"#pull-cell-{github.pk}")).to_have_text(
        "pull health not available: not permitted"
    )
    expect(page.locator("#pull-health")).to_contain_text("Pull health: not available")
    screenshot(page, "pull-health-not-permitted", full_page=True, clip=section_box(page))
