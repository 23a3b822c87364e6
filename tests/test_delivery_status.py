"""What the Registries section reads of delivery: stored state only, in a number of queries
that does not depend on how many registries, clusters and targets there are."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from delivery.models import Cluster, DeliveryTarget, TargetStatus
from delivery.status import organization_delivery

from .factories import RegistryFactory

pytestmark = pytest.mark.django_db


def place(organization, name: str, **state) -> DeliveryTarget:
    cluster = Cluster.objects.create(name=name, connection="in-cluster")
    return DeliveryTarget.objects.create(
        organization=organization, cluster=cluster, namespace=organization.namespace, **state
    )


def queries_for(client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return len(captured)


def test_section_query_count_is_the_same_for_any_number_of_registries_clusters_and_targets(
    client, organization, owner
):
    client.force_login(owner)
    url = reverse("registries:list", kwargs={"slug": "acme"})
    RegistryFactory(organization=organization)
    place(organization, "one")
    few = queries_for(client, url)
    registries = RegistryFactory.create_batch(20, organization=organization)
    for index in range(4):
        place(
            organization,
            f"c{index}",
            status=TargetStatus.ERROR if index % 2 else TargetStatus.SYNCED,
            error="The cluster is unreachable." if index % 2 else "",
            delivered_versions={str(r.pk): r.version for r in registries},
        )
    assert queries_for(client, url) == few


def test_a_registry_is_synced_only_where_the_delivered_secret_holds_its_version(organization):
    registry = RegistryFactory(organization=organization)
    place(organization, "eu", status=TargetStatus.SYNCED, delivered_versions={str(registry.pk): 1})
    place(organization, "us", status=TargetStatus.ERROR, error="The cluster is unreachable.")
    state = organization_delivery(organization).for_registry(registry.pk, registry.version)
    assert state.status == "error"
    assert ([t.cluster.name for t in state.holding], state.error) == (
        ["eu"],
        "us: The cluster is unreachable.",
    )
    registry.version = 2
    assert organization_delivery(organization).for_registry(registry.pk, 2).holding == []
