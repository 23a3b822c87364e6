"""The registries section's view of delivery: the status line, Sync now, and the poll."""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from delivery.models import DeliveryTarget, TargetStatus
from registries.models import ContainerRegistry

from .factories import (
    ClusterFactory,
    DeliveryTargetFactory,
    OrganizationFactory,
    RegistryFactory,
)

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
NOT_DELIVERED = "Not delivered: no cluster configured"


def page_url(organization):
    return reverse("registries:list", kwargs={"slug": organization.slug})


def sync_url(organization):
    return reverse("delivery:sync", kwargs={"slug": organization.slug})


def held_by(*registries):
    return {str(r.pk): r.version for r in registries}


def watch_in(html: str) -> dict[str, str]:
    """What the page tells the next poll and Sync now: the poll element's hidden inputs."""
    element = re.search(r'<div id="delivery-poll".*?</div>', html, re.S)
    assert element, "the page has no poll element"
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', element[0]))


def poll_url_in(html: str) -> str | None:
    """The URL the page's poll element asks next, or None when it does not poll."""
    tag = re.search(r'<div id="delivery-poll"[^>]*>', html)
    assert tag, "the page has no poll element"
    url = re.search(r'hx-get="([^"]+)"', tag[0])
    return f"{url[1]}?{urlencode(watch_in(html))}" if url else None


def cells_in(html: str) -> list[str]:
    """The ids of the Status cells an answer swaps in."""
    return re.findall(r'<div id="(status-\d+)" class="delivery-cell"[^>]*hx-swap-oob', html)


@pytest.fixture
def eu_west():
    return ClusterFactory(name="eu-west")


# The status line


def test_without_a_cluster_not_delivered_appears_once_and_never_per_row(
    client, organization, owner
):
    RegistryFactory.create_batch(3, organization=organization)
    client.force_login(owner)
    text = client.get(page_url(organization)).text
    assert text.count(NOT_DELIVERED) == 1
    assert "No cluster configured" not in text
    assert "Sync now" not in text
    assert poll_url_in(text) is None


def test_status_line_names_the_secret_namespace_and_kubectl_command(
    client, organization, owner, eu_west, settings
):
    settings.REGISTRY_SECRET_NAME = "org-registry-credentials"
    DeliveryTargetFactory(organization=organization, cluster=eu_west, synced_at=timezone.now())
    client.force_login(owner)
    text = client.get(page_url(organization)).text
    assert "Delivered to cluster eu-west" in text
    assert "Secret <code>org-registry-credentials</code> in namespace <code>org-acme</code>" in text
    assert "kubectl get secret org-registry-credentials -n org-acme" in text
    assert 'data-copy="#delivery-command-1"' in text


def test_status_line_lists_each_cluster_with_status_last_synced_and_advice(
    client, organization, owner, eu_west
):
    DeliveryTargetFactory(organization=organization, cluster=eu_west, synced_at=timezone.now())
    DeliveryTargetFactory(
        organization=organization,
        cluster=ClusterFactory(name="us-east"),
        namespace="org-other",
        status=TargetStatus.ERROR,
        error_kind="namespace-missing",
        error="Namespace “org-other” does not exist.",
        failing_since=timezone.now(),
    )
    client.force_login(owner)
    text = client.get(page_url(organization)).text
    assert "Delivery to us-east failed" in text
    assert 'data-cluster="eu-west" data-status="synced"' in text
    assert 'data-cluster="us-east" data-status="error"' in text
    assert "Last synced" in text
    assert "Never synced" in text
    assert "Namespace “org-other” does not exist." in text
    assert "Ask your platform operator to create namespace org-other on cluster us-east" in text


def test_rows_say_per_registry_whether_every_cluster_holds_it(client, organization, owner, eu_west):
    held = RegistryFactory(organization=organization, display_name="Held")
    saved_since = RegistryFactory(organization=organization, display_name="Saved since")
    DeliveryTargetFactory(
        organization=organization, cluster=eu_west, delivered_versions=held_by(held)
    )
    DeliveryTargetFactory(
        organization=organization,
        cluster=ClusterFactory(name="us-east"),
        status=TargetStatus.ERROR,
        error_kind="unreachable",
        delivered_versions=held_by(held, saved_since) | {str(saved_since.pk): 0},
    )
    client.force_login(owner)
    text = client.get(page_url(organization)).text
    held_cell = re.search(rf'id="status-{held.pk}".*?</div>', text, re.S)[0]
    assert "Synced" in held_cell
    assert "Synced on" not in held_cell
    other_cell = re.search(rf'id="status-{saved_since.pk}".*?</div>', text, re.S)[0]
    assert "Not synced · us-east: the cluster is unreachable" in other_cell
    assert "eu-west</span>: pending" in other_cell


def test_members_see_the_status_line_without_sync_now(client, organization, member, eu_west):
    DeliveryTargetFactory(organization=organization, cluster=eu_west)
    client.force_login(member)
    text = client.get(page_url(organization)).text
    assert "Delivered to cluster eu-west" in text
    assert "Sync now" not in text


def test_the_table_itself_never_polls_so_row_actions_inherit_nothing(
    client, organization, owner, eu_west
):
    registry = RegistryFactory(organization=organization)
    DeliveryTargetFactory(organization=organization, cluster=eu_west, status=TargetStatus.PENDING)
    client.force_login(owner)
    text = client.get(page_url(organization)).text
    table_tag = re.search(r'<div id="registry-table"[^>]*>', text)[0]
    assert "hx-" not in table_tag
    assert poll_url_in(text) is not None
    assert f'id="registry-{registry.pk}"' in text


# Sync now


@pytest.mark.parametrize("role", ["owner", "org_admin"])
def test_owners_and_admins_sync_now_turns_every_target_pending(
    client, organization, eu_west, role, request
):
    target = DeliveryTargetFactory(organization=organization, cluster=eu_west)
    client.force_login(request.getfixturevalue(role))
    response = client.post(sync_url(organization))
    assert response.status_code == 302
    assert response["Location"] == page_url(organization)
    target.refresh_from_db()
    assert target.status == TargetStatus.PENDING
    page = client.get(page_url(organization)).text
    assert "Sync requested" in page
    assert "Delivering to cluster eu-west…" in page
    assert poll_url_in(page) is not None


def test_sync_now_over_htmx_answers_the_status_line_and_starts_the_poll(
    client, organization, owner, eu_west
):
    registry = RegistryFactory(organization=organization)
    DeliveryTargetFactory(
        organization=organization,
        cluster=eu_west,
        status=TargetStatus.ERROR,
        error_kind="timeout",
        delivered_versions={},
    )
    client.force_login(owner)
    response = client.post(sync_url(organization), **HX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="delivery-status"')
    assert "Delivering to cluster eu-west…" in response.text
    assert 'id="delivery-poll" hidden hx-get=' in response.text
    assert cells_in(response.text) == [f"status-{registry.pk}"]
    assert "Sync requested" in response.text


def test_sync_now_answers_the_rows_shown_failing_that_settled_meanwhile(
    client, organization, owner, eu_west
):
    failing, fine = RegistryFactory.create_batch(2, organization=organization)
    target = DeliveryTargetFactory(
        organization=organization,
        cluster=eu_west,
        status=TargetStatus.ERROR,
        error_kind="unreachable",
        delivered_versions=held_by(fine),
    )
    client.force_login(owner)
    page = client.get(page_url(organization)).text
    # The worker's retry delivered before the user pressed Sync now.
    target.status, target.delivered_versions = TargetStatus.SYNCED, held_by(failing, fine)
    target.save()
    response = client.post(sync_url(organization), watch_in(page), **HX)
    assert cells_in(response.text) == [f"status-{failing.pk}"]


def test_member_cannot_sync_now(client, organization, member, eu_west):
    target = DeliveryTargetFactory(organization=organization, cluster=eu_west)
    client.force_login(member)
    response = client.post(sync_url(organization), **HX)
    assert response.status_code == 403
    assert "Members can view the delivery status but not sync the Secret" in response.text
    target.refresh_from_db()
    assert target.status == TargetStatus.SYNCED


def test_outsider_gets_404_for_sync_now(client, organization, outsider, eu_west):
    target = DeliveryTargetFactory(organization=organization, cluster=eu_west)
    client.force_login(outsider)
    assert client.post(sync_url(organization)).status_code == 404
    target.refresh_from_db()
    assert target.status == TargetStatus.SYNCED


def test_sync_now_is_post_only(client, organization, owner):
    client.force_login(owner)
    assert client.get(sync_url(organization)).status_code == 405


def test_sync_now_without_a_cluster_says_so_and_changes_nothing(client, organization, owner):
    client.force_login(owner)
    response = client.post(sync_url(organization), follow=True)
    assert "Nothing to sync: no cluster is configured for this organization." in response.text
    assert not DeliveryTarget.objects.exists()


def test_sync_now_with_an_expired_session_over_htmx_sends_to_login(client, organization):
    response = client.post(sync_url(organization), **HX)
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("login"))


# The poll


@pytest.mark.parametrize("role", ["owner", "org_admin", "member"])
def test_everyone_in_the_organization_can_poll(client, organization, eu_west, role, request):
    DeliveryTargetFactory(organization=organization, cluster=eu_west, status=TargetStatus.PENDING)
    client.force_login(request.getfixturevalue(role))
    url = poll_url_in(client.get(page_url(organization)).text)
    assert client.get(url, **HX).status_code == 200


def test_outsider_gets_404_for_the_poll(client, organization, outsider):
    client.force_login(outsider)
    url = reverse("delivery:poll", kwargs={"slug": organization.slug})
    assert client.get(url, **HX).status_code == 404


def test_poll_after_the_session_expired_stops_polling_without_a_login_page(client, organization):
    url = reverse("delivery:poll", kwargs={"slug": organization.slug})
    response = client.get(url, **HX)
    assert response.status_code == 286
    assert "hx-get" not in response.text
    assert "Log in" not in response.text


def test_poll_sends_only_the_row_whose_state_changed_and_stays_under_5_kb(
    client, organization, owner, eu_west
):
    ContainerRegistry.objects.bulk_create(
        [
            ContainerRegistry(
                organization=organization,
                display_name=f"Registry {n:04}",
                address=f"registry{n}.example.com",
                auth_type="BasicAuth",
                username="robot",
                password=f"pw-{n}",
            )
            for n in range(1000)
        ]
    )
    registries = list(ContainerRegistry.objects.order_by("pk"))
    saved = registries[5]  # on the first page of 50
    target = DeliveryTargetFactory(
        organization=organization,
        cluster=eu_west,
        status=TargetStatus.PENDING,
        delivered_versions=held_by(*registries) | {str(saved.pk): saved.version - 1},
    )
    client.force_login(owner)
    url = poll_url_in(client.get(page_url(organization)).text)

    # Nothing changed yet: the poll answers itself, with no row and no status line.
    quiet = client.get(url, **HX)
    assert cells_in(quiet.text) == []
    assert "delivery-status" not in quiet.text
    assert poll_url_in(quiet.text) is not None

    # The worker delivered the saved registry: only its cell, and the status line.
    target.status = TargetStatus.SYNCED
    target.synced_at = timezone.now()
    target.delivered_versions = held_by(*registries)
    target.save()
    answer = client.get(poll_url_in(quiet.text), **HX)
    assert cells_in(answer.text) == [f"status-{saved.pk}"]
    assert "Delivered to cluster eu-west" in answer.text
    assert len(answer.content) < 5 * 1024, len(answer.content)
    # Everything settled: the poll element has no trigger any more.
    assert poll_url_in(answer.text) is None


def test_poll_sends_a_row_saved_elsewhere_that_turned_pending(client, organization, owner, eu_west):
    first, _still_pending = RegistryFactory.create_batch(2, organization=organization)
    DeliveryTargetFactory(
        organization=organization,
        cluster=eu_west,
        status=TargetStatus.PENDING,
        delivered_versions={str(first.pk): first.version},
    )
    client.force_login(owner)
    url = poll_url_in(client.get(page_url(organization)).text)
    # Someone saves `first` in another tab: it is Pending now, `second` still is.
    ContainerRegistry.objects.filter(pk=first.pk).update(version=first.version + 1)
    answer = client.get(url, **HX)
    assert cells_in(answer.text) == [f"status-{first.pk}"]


def test_poll_with_a_mangled_query_answers_every_unsettled_row(
    client, organization, owner, eu_west
):
    registry = RegistryFactory(organization=organization)
    DeliveryTargetFactory(organization=organization, cluster=eu_west, status=TargetStatus.PENDING)
    client.force_login(owner)
    url = reverse("delivery:poll", kwargs={"slug": organization.slug})
    answer = client.get(url, {"rows": "x.y_12", "line": "<b>", "since": "-1"}, **HX)
    assert answer.status_code == 200
    assert cells_in(answer.text) == [f"status-{registry.pk}"]
    assert "<b>" not in answer.text


def test_poll_keeps_polling_slowly_while_a_cluster_fails(client, organization, owner, eu_west):
    RegistryFactory(organization=organization)
    DeliveryTargetFactory(
        organization=organization,
        cluster=eu_west,
        status=TargetStatus.ERROR,
        error_kind="unreachable",
        delivered_versions={},
    )
    client.force_login(owner)
    text = client.get(page_url(organization)).text
    assert 'hx-trigger="every 15s"' in text


def test_poll_never_writes_the_session(client, organization, owner, eu_west):
    DeliveryTargetFactory(organization=organization, cluster=eu_west, status=TargetStatus.PENDING)
    client.force_login(owner)
    url = poll_url_in(client.get(page_url(organization)).text)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, **HX)
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes == []


# SQL queries per page: the same whatever the number of registries, clusters and targets


def _populate(organization, registries: int, clusters: int) -> None:
    created = RegistryFactory.create_batch(registries, organization=organization)
    for n in range(clusters):
        DeliveryTargetFactory(
            organization=organization,
            cluster=ClusterFactory(name=f"cluster-{n}"),
            status=TargetStatus.PENDING if n else TargetStatus.ERROR,
            error_kind="timeout",
            delivered_versions=held_by(*created[: registries // 2]),
        )


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, **HX).status_code == 200
    return len(queries)


def test_page_and_poll_queries_do_not_grow_with_registries_clusters_or_targets(client, owner):
    small, large = OrganizationFactory(slug="small"), OrganizationFactory(slug="large")
    for organization in (small, large):
        owner.memberships.create(organization=organization, role="owner")
    _populate(small, registries=1, clusters=1)
    _populate(large, registries=40, clusters=3)
    client.force_login(owner)
    counts = {}
    for organization in (small, large):
        page = page_url(organization)
        client.get(page)  # the session's first write is not what is measured
        with CaptureQueriesContext(connection) as queries:
            text = client.get(page).text
        poll = poll_url_in(text)
        counts[organization.slug] = (len(queries), _queries(client, poll))
        assert urlsplit(poll).path.endswith("/delivery/poll/")
    assert counts["small"] == counts["large"], counts


def test_poll_makes_five_queries_at_any_size(
    client, organization, owner, django_assert_num_queries
):
    _populate(organization, registries=60, clusters=3)
    client.force_login(owner)
    url = poll_url_in(client.get(page_url(organization)).text)
    # Session, user, membership, targets with their clusters, registries' ids and versions.
    with django_assert_num_queries(5):
        client.get(url, **HX)


def test_with_too_many_unsettled_rows_to_list_the_poll_answers_them_when_a_delivery_ran(
    client, organization, owner, eu_west, monkeypatch
):
    monkeypatch.setattr("delivery.poll.MAX_LISTED", 2)
    registries = RegistryFactory.create_batch(3, organization=organization)
    target = DeliveryTargetFactory(
        organization=organization, cluster=eu_west, status=TargetStatus.PENDING
    )
    client.force_login(owner)
    url = poll_url_in(client.get(page_url(organization)).text)
    assert "rows=*" in url or "rows=%2A" in url
    # Nothing ran and nothing was saved since (a poll from long after the saves, past the
    # margin kept for saves that commit late): nothing to send.
    later = url.replace("since=", "since=9")
    assert cells_in(client.get(later, **HX).text) == []
    target.status = TargetStatus.ERROR
    target.error_kind = "timeout"
    target.save()
    assert cells_in(client.get(url, **HX).text) == [f"status-{r.pk}" for r in registries]


@pytest.mark.parametrize(
    "query",
    [
        {"since": "\u00b2"},
        {"since": "\u0661\u0662\u0663"},
        {"rows": "\u0661.0123abcd"},
        {"since": "9" * 40},
    ],
)
def test_poll_reads_only_ascii_digits_and_never_fails(client, organization, owner, eu_west, query):
    registry = RegistryFactory(organization=organization)
    DeliveryTargetFactory(organization=organization, cluster=eu_west, status=TargetStatus.PENDING)
    client.force_login(owner)
    url = reverse("delivery:poll", kwargs={"slug": organization.slug})
    answer = client.get(url, query, **HX)
    assert answer.status_code == 200
    assert cells_in(answer.text) == [f"status-{registry.pk}"]
