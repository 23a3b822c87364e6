"""Pull health reads Running pods too, over HTTP against the fake API server: a container that
restarts and cannot pull again waits in ImagePullBackOff while its pod stays Running (a pod is
Pending only until each container has started once). Pods that have Succeeded or Failed pull
nothing any more and are never read, and healthy Running pods are never stored."""

from __future__ import annotations

import pytest

from delivery.reconcile import reconcile
from pullhealth.models import PullFailure

from .deliveries import add_delivered_registry

pytestmark = pytest.mark.django_db

NS = "org-acme"
# CRI-O's answer (containers/image) when the registry does not take the credentials sent.
AUTHENTICATION_REQUIRED = (
    "rpc error: code = Unknown desc = initializing source docker://ghcr.io/acme/api:1.4: reading"
    " manifest 1.4 in ghcr.io/acme/api: unauthorized: authentication required"
)


@pytest.fixture
def ghcr(cluster, organization):
    return add_delivered_registry(organization, "GitHub", "ghcr.io", password="changed")


def stored(organization) -> set[tuple[str, str, str | None, str, bool]]:
    return {
        (
            f.workload_kind,
            f.workload_name,
            f.registry.address if f.registry else None,
            f.cause,
            f.references_secret,
        )
        for f in PullFailure.objects.filter(health__target__organization=organization)
    }


@pytest.mark.parametrize("scope", ["cluster", "namespaced"])
def test_a_running_pod_whose_restarted_container_cannot_pull_is_stored_on_its_registry(
    cluster, organization, ghcr, settings, scope
):
    settings.REGISTRY_RBAC_SCOPE = scope
    cluster.add_deployment(
        NS,
        "api",
        "ghcr.io/acme/api:1.4",
        waiting=("ImagePullBackOff", AUTHENTICATION_REQUIRED),
        restarted=True,
    )
    (pod,) = cluster.pods_of("deployments", NS, "api")
    assert pod["status"]["phase"] == "Running"

    reconcile()

    assert stored(organization) == {("Deployment", "api", "ghcr.io", "credentials_refused", True)}


def test_a_pod_that_breaks_after_it_ran_is_listed_on_the_next_pass(cluster, organization, ghcr):
    cluster.add_deployment(NS, "api", "ghcr.io/acme/api:1.4")
    reconcile()
    assert stored(organization) == set()
    (pod,) = cluster.pods_of("deployments", NS, "api")

    # The password changed, the container restarted, and imagePullPolicy Always pulls again.
    cluster.set_waiting(
        NS, pod["metadata"]["name"], ("ErrImagePull", AUTHENTICATION_REQUIRED), restarted=True
    )
    reconcile()

    assert stored(organization) == {("Deployment", "api", "ghcr.io", "credentials_refused", True)}


@pytest.mark.parametrize("scope", ["cluster", "namespaced"])
def test_finished_pods_are_never_read_and_healthy_running_pods_never_stored(
    cluster, organization, ghcr, settings, scope
):
    settings.REGISTRY_RBAC_SCOPE = scope
    cluster.add_pod(NS, "migrate", "ghcr.io/acme/migrate:2", finished="Succeeded")
    cluster.add_pod(NS, "report", "ghcr.io/acme/report:2", finished="Failed")
    cluster.add_deployment(NS, "web", "ghcr.io/acme/web:1", replicas=3)
    cluster.clear_requests()

    reconcile()

    listed = {name for namespace, name in cluster.listed("pods") if namespace == NS}
    assert len(listed) == 3
    assert not listed & {"migrate", "report"}
    assert stored(organization) == set()
