"""Pull health end to end, over HTTP against the fake API server: the reconciler and the worker
store what cannot pull, from which registry and why; a restart (asked for, or automatic after
a delivery) patches exactly the failing workloads, once, and never for "image not found"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from delivery.reconcile import reconcile
from orgsettings.models import AuditEvent, AuditSource
from pullhealth.models import PullFailure, PullHealth, PullHealthSettings, WorkloadRestart
from pullhealth.page import NOT_PERMITTED, pull_health_read
from pullhealth.restarts import RESTARTED_AT_ANNOTATION, Skip
from pullhealth.services import request_restart
from registries.services import registry_update

from . import fakerbac
from .deliveries import add_delivered_registry, run_tasks
from .factories import OrganizationFactory
from .test_kube_workloads import NO_CREDENTIALS, NOT_FOUND, OTHER, REFUSED, UNKNOWN_HOST

pytestmark = pytest.mark.django_db

NS = "org-acme"
PULL_HEALTH_RESOURCES = {"pods", "replicasets", "deployments", "statefulsets", "daemonsets"}


def add_registry(organization, display_name: str, address: str, password: str = "p"):
    return add_delivered_registry(organization, display_name, address, password=password)


@pytest.fixture
def ghcr(cluster, organization):
    return add_registry(organization, "GitHub", "ghcr.io", password="wrong")


def stored(organization) -> set[tuple[str, str, str | None, str]]:
    return {
        (f.workload_kind, f.workload_name, f.registry.address if f.registry else None, f.cause)
        for f in PullFailure.objects.filter(health__target__organization=organization)
    }


def template_annotations(cluster, plural: str, name: str, namespace: str = NS) -> dict:
    template = cluster.get_object(plural, namespace, name)["spec"]["template"]
    return template["metadata"].get("annotations") or {}


def test_each_cause_is_stored_on_the_registry_that_serves_the_image(cluster, organization, ghcr):
    add_registry(organization, "Team", "registry.example.com/team")
    add_registry(organization, "Quay", "quay.io")
    cluster.add_deployment(NS, "api", "ghcr.io/acme/api:1.4", waiting=("ErrImagePull", REFUSED))
    cluster.add_deployment(
        NS,
        "worker",
        "registry.example.com/team/worker:3",
        waiting=("ImagePullBackOff", NO_CREDENTIALS),
    )
    cluster.add_deployment(NS, "web", "ghcr.io/acme/web:9", waiting=("ErrImagePull", NOT_FOUND))
    cluster.add_deployment(NS, "agent", "quay.io/acme/agent:3", waiting=("ErrImagePull", OTHER))
    cluster.add_deployment(
        NS, "legacy", "registry.unknown.example/app:1", waiting=("ErrImagePull", UNKNOWN_HOST)
    )
    cluster.add_deployment(NS, "healthy", "ghcr.io/acme/healthy:1", replicas=2)

    reconcile()

    assert stored(organization) == {
        ("Deployment", "api", "ghcr.io", "credentials_refused"),
        ("Deployment", "worker", "registry.example.com/team", "no_credentials"),
        ("Deployment", "web", "ghcr.io", "image_not_found"),
        ("Deployment", "agent", "quay.io", "other"),
        ("Deployment", "legacy", None, "no_credentials"),
    }
    state = pull_health_read(organization)
    assert state.for_registry(ghcr.pk).workloads == 2
    assert [f.name for f in state.unmatched] == ["legacy"]
    assert state.read_at is not None
    assert state.unavailable == ()


def test_the_worker_reads_pull_health_after_it_delivers(cluster, organization):
    cluster.add_deployment(NS, "api", "ghcr.io/acme/api:1.4", waiting=("ErrImagePull", REFUSED))

    add_registry(organization, "GitHub", "ghcr.io")

    assert stored(organization) == {("Deployment", "api", "ghcr.io", "credentials_refused")}


def test_a_cluster_that_does_not_grant_pull_health_says_not_permitted_and_still_delivers(
    cluster, organization, ghcr
):
    policy = fakerbac.load("rbac.yaml")
    policy.grants = [g for g in policy.grants if not g.resources & PULL_HEALTH_RESOURCES]
    cluster.enforce_rbac(policy)
    cluster.add_deployment(NS, "api", "ghcr.io/acme/api:1.4", waiting=("ErrImagePull", REFUSED))
    registry_update(ghcr, actor=None, expected_version=ghcr.version, password="right")

    run_tasks()
    report = reconcile()

    target = organization.delivery_targets.get()
    assert target.status == "synced"
    assert target.holds(ghcr.pk, ghcr.version + 1)
    assert report.errors == {}
    health = PullHealth.objects.get(target=target)
    assert (health.available, health.error_kind) == (False, "forbidden")
    unavailable = pull_health_read(organization).unavailable
    assert [(c.cluster, c.unavailable) for c in unavailable] == [
        (target.cluster.name, NOT_PERMITTED)
    ]


def failing_from_ghcr(cluster) -> None:
    """api cannot log in to ghcr.io, web's image does not exist there, worker's registry is
    another one, and healthy runs."""
    cluster.add_deployment(NS, "api", "ghcr.io/acme/api:1.4", waiting=("ErrImagePull", REFUSED))
    cluster.add_deployment(NS, "web", "ghcr.io/acme/web:9", waiting=("ErrImagePull", NOT_FOUND))
    cluster.add_deployment(
        NS,
        "worker",
        "registry.example.com/team/worker:3",
        waiting=("ErrImagePull", NO_CREDENTIALS),
    )
    cluster.add_deployment(NS, "healthy", "ghcr.io/acme/healthy:1")


def test_after_a_corrected_password_the_restart_patches_exactly_the_failing_deployment(
    cluster, organization, owner, ghcr
):
    add_registry(organization, "Team", "registry.example.com/team")
    failing_from_ghcr(cluster)
    registry_update(ghcr, actor=owner, expected_version=ghcr.version, password="right")
    run_tasks()
    cluster.clear_requests()

    request_restart(organization, registry=ghcr, actor=owner, source=AuditSource.SETTINGS)
    run_tasks()

    assert [(w.method, w.path) for w in cluster.writes()] == [
        ("PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/api")
    ]
    assert RESTARTED_AT_ANNOTATION in template_annotations(cluster, "deployments", "api")
    for name in ("web", "worker", "healthy"):
        assert template_annotations(cluster, "deployments", name) == {}
    event = AuditEvent.objects.get(action="pullhealth.restarted")
    assert (event.actor, event.source, event.target_label) == (owner, "settings", "Deployment api")
    assert event.changes["reason"]["new"] == "cannot pull: credentials refused"
    assert event.changes["registry"]["new"] == "ghcr.io"
    skipped = AuditEvent.objects.get(action="pullhealth.not_restarted")
    assert skipped.target_label == "Deployment web"
    assert skipped.changes["reason"]["new"] == Skip.IMAGE_NOT_FOUND


def test_the_same_restart_task_run_again_restarts_nothing_again(cluster, organization, owner, ghcr):
    failing_from_ghcr(cluster)
    request_restart(organization, registry=ghcr, actor=owner, source=AuditSource.SETTINGS)
    run_tasks()
    first = template_annotations(cluster, "deployments", "api")[RESTARTED_AT_ANNOTATION]
    done = DBTaskResult.objects.get(task_path="pullhealth.tasks.restart_workloads")
    DBTaskResult.objects.filter(pk=done.pk).update(status="READY", started_at=None)
    cluster.clear_requests()

    run_tasks()

    assert [w for w in cluster.writes() if "/deployments/" in w.path] == []
    assert template_annotations(cluster, "deployments", "api")[RESTARTED_AT_ANNOTATION] == first
    assert AuditEvent.objects.filter(action="pullhealth.restarted").count() == 1


def test_image_not_found_is_never_restarted(cluster, organization, owner, ghcr):
    cluster.add_deployment(NS, "web", "ghcr.io/acme/web:9", waiting=("ErrImagePull", NOT_FOUND))
    cluster.clear_requests()

    request_restart(organization, actor=owner, source=AuditSource.SETTINGS)
    run_tasks()

    assert [w for w in cluster.writes() if "/deployments/" in w.path] == []
    assert template_annotations(cluster, "deployments", "web") == {}


def test_a_paused_deployment_is_skipped_and_reported(cluster, organization, owner, ghcr):
    cluster.add_deployment(
        NS, "api", "ghcr.io/acme/api:1.4", waiting=("ErrImagePull", REFUSED), paused=True
    )
    cluster.clear_requests()

    request_restart(organization, registry=ghcr, actor=owner, source=AuditSource.SETTINGS)
    run_tasks()

    assert [w for w in cluster.writes() if "/deployments/" in w.path] == []
    event = AuditEvent.objects.get(action="pullhealth.not_restarted")
    assert (event.target_label, event.changes["reason"]["new"]) == ("Deployment api", Skip.PAUSED)


def test_an_owned_pod_is_deleted_and_a_bare_pod_is_left_to_recreate(
    cluster, organization, owner, ghcr
):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "nightly", "uid": "j1"}}
    cluster.add_pod(
        NS, "nightly-x7k2p", "ghcr.io/acme/job:1", waiting=("ErrImagePull", REFUSED), owner=job
    )
    cluster.add_pod(NS, "debug", "ghcr.io/acme/debug:1", waiting=("ErrImagePull", REFUSED))
    cluster.clear_requests()

    request_restart(organization, registry=ghcr, actor=owner, source=AuditSource.SETTINGS)
    run_tasks()

    assert [(w.method, w.path) for w in cluster.writes()] == [
        ("DELETE", f"/api/v1/namespaces/{NS}/pods/nightly-x7k2p")
    ]
    assert cluster.get_object("pods", NS, "debug") is not None
    assert AuditEvent.objects.get(action="pullhealth.pod_deleted").target_label == (
        "Pod nightly-x7k2p"
    )
    left = AuditEvent.objects.get(action="pullhealth.not_restarted")
    assert (left.target_label, left.changes["reason"]["new"]) == ("Pod debug", Skip.BARE_POD)


def test_a_restart_touches_only_the_organizations_own_namespace(cluster, organization, owner, ghcr):
    other = OrganizationFactory(slug="globex")
    cluster.add_namespace(other.namespace)
    add_registry(other, "GitHub", "ghcr.io")
    cluster.add_deployment(
        other.namespace, "api", "ghcr.io/acme/api:1.4", waiting=("ErrImagePull", REFUSED)
    )
    cluster.add_deployment(NS, "api", "ghcr.io/acme/api:1.4", waiting=("ErrImagePull", REFUSED))
    cluster.clear_requests()

    request_restart(organization, actor=owner, source=AuditSource.SETTINGS)
    run_tasks()

    assert [(w.method, w.path) for w in cluster.writes()] == [
        ("PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/api")
    ]
    assert template_annotations(cluster, "deployments", "api", other.namespace) == {}


@pytest.fixture
def automatic(organization):
    return PullHealthSettings.objects.create(organization=organization, auto_restart=True)


def test_automatic_mode_restarts_once_after_the_corrected_password_is_delivered(
    cluster, organization, ghcr, automatic
):
    # The wrong password reached the cluster two minutes ago; the pods failing with it since
    # one minute are not restarted for it (new pods would get the same).
    organization.delivery_targets.update(synced_at=timezone.now() - timedelta(minutes=2))
    failing_from_ghcr(cluster)
    cluster.backdate_pods(NS, 60)
    reconcile()
    assert [w for w in cluster.writes() if "/deployments/" in w.path] == []
    cluster.clear_requests()

    registry_update(ghcr, actor=None, expected_version=ghcr.version, password="right")
    run_tasks()

    assert [(w.method, w.path) for w in cluster.writes() if "/apis/apps/" in w.path] == [
        ("PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/api")
    ]
    (restart,) = WorkloadRestart.objects.all()
    assert (restart.workload_name, restart.automatic, restart.change) == (
        "api",
        True,
        f"registry-{ghcr.pk}-v{ghcr.version + 1}",
    )
    event = AuditEvent.objects.get(action="pullhealth.restarted")
    assert (event.actor, event.source) == (None, "sync")
    assert "automatically" in event.changes["reason"]["new"]

    cluster.clear_requests()
    reconcile()

    assert [w for w in cluster.writes() if "/apis/apps/" in w.path] == []
    assert WorkloadRestart.objects.count() == 1


def test_automatic_mode_waits_until_the_secret_holds_the_change(
    cluster, organization, ghcr, automatic
):
    cluster.add_deployment(NS, "api", "ghcr.io/acme/api:1.4", waiting=("ErrImagePull", REFUSED))
    cluster.backdate_pods(NS, 60)
    cluster.fail_all(500, method="PUT", path_contains="/secrets/")
    registry_update(ghcr, actor=None, expected_version=ghcr.version, password="right")

    run_tasks()
    reconcile()

    assert organization.delivery_targets.get().status == "error"
    assert [w for w in cluster.writes() if "/apis/apps/" in w.path] == []
    assert WorkloadRestart.objects.count() == 0


def test_automatic_mode_is_off_by_default(cluster, organization, ghcr):
    failing_from_ghcr(cluster)
    cluster.backdate_pods(NS, 60)
    cluster.clear_requests()

    registry_update(ghcr, actor=None, expected_version=ghcr.version, password="right")
    run_tasks()
    reconcile()

    assert [w for w in cluster.writes() if "/apis/apps/" in w.path] == []
