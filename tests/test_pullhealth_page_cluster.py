"""Pull health on the page, end to end over HTTP against the fake API server: what the
reconciler read is what the rows say, and the page's Restart button patches the workload."""

from __future__ import annotations

import pytest
from django.urls import reverse

from delivery.reconcile import reconcile
from registries.services import registry_update

from . import fakerbac
from .deliveries import add_delivered_registry, run_tasks
from .test_kube_workloads import NOT_FOUND, REFUSED, UNKNOWN_HOST

pytestmark = pytest.mark.django_db

NS = "org-acme"
HX = {"HX-Request": "true"}
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@pytest.fixture
def ghcr(cluster, organization, owner):
    return add_delivered_registry(
        organization, "GitHub", "ghcr.io", actor=owner, username="acme-bot", password="wrong"
    )


def annotations(cluster, name: str) -> dict:
    template = cluster.get_object("deployments", NS, name)["spec"]["template"]
    return template["metadata"].get("annotations") or {}


def test_the_page_shows_what_the_cluster_says_and_its_restart_patches_the_workload(
    client, cluster, organization, owner, ghcr
):
    cluster.add_deployment(NS, "api", "ghcr.io/acme/api:1.4", waiting=("ErrImagePull", REFUSED))
    cluster.add_deployment(NS, "web", "ghcr.io/acme/web:9", waiting=("ErrImagePull", NOT_FOUND))
    cluster.add_deployment(
        NS, "legacy", "registry.unknown.example/app:1", waiting=("ErrImagePull", UNKNOWN_HOST)
    )
    cluster.add_deployment(NS, "healthy", "ghcr.io/acme/healthy:1")
    reconcile()
    client.force_login(owner)

    page = client.get(reverse("registries:list", kwargs={"slug": "acme"})).text

    row = page[page.index(f'id="pull-cell-{ghcr.pk}"') :]
    row = row[: row.index("</tbody>")]
    assert "2 workloads can&#x27;t pull: credentials refused (1), image not found (1)" in row
    assert "Deployment api" in row
    assert "Deployment web" in row
    assert "Deployment healthy" not in page
    assert "1 workload can&#x27;t pull: no registry matches" in page
    assert "registry.unknown.example/app:1" in page

    # The corrected password reaches the cluster; then the row's Restart button.
    registry_update(ghcr, actor=owner, expected_version=ghcr.version, password="right")
    run_tasks()
    url = reverse("pullhealth:restart-registry", kwargs={"slug": "acme", "pk": ghcr.pk})
    answer = client.post(url, headers=HX)
    assert "Restart requested for 1 of the 2 workloads" in answer.text
    assert "Left alone (image not found: a restart cannot fix it): Deployment web." in answer.text
    run_tasks()

    assert RESTARTED_AT in annotations(cluster, "api")
    for name in ("web", "legacy", "healthy"):
        assert annotations(cluster, name) == {}
    activity = client.get(reverse("settings-activity", kwargs={"slug": "acme"})).text
    assert "Deployment api" in activity


def test_a_cluster_without_the_pod_reads_says_not_permitted_on_the_rows(
    client, cluster, organization, member, ghcr
):
    policy = fakerbac.load("rbac.yaml")
    pull_health = {"pods", "replicasets", "deployments", "statefulsets", "daemonsets"}
    policy.grants = [g for g in policy.grants if not g.resources & pull_health]
    cluster.enforce_rbac(policy)
    reconcile()
    client.force_login(member)

    page = client.get(reverse("registries:list", kwargs={"slug": "acme"})).text

    row = page[page.index(f'id="pull-cell-{ghcr.pk}"') :]
    assert "pull health not available: not permitted" in row[: row.index("</tbody>")]
    assert "Delivered to cluster" in page
