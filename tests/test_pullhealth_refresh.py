"""One pull-health pass over a cluster stores each target's failures, with a fixed number of
API calls and of SQL queries whatever the number of organizations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from delivery import kube
from delivery.models import Cluster, DeliveryTarget
from pullhealth.models import PullFailure, PullHealth
from pullhealth.refresh import pull_health_refresh

from .factories import OrganizationFactory, RegistryFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
SECRET = "org-registry-credentials"
REFUSED = (
    'rpc error: code = Unknown desc = failed to pull and unpack image "ghcr.io/acme/api:1.4":'
    ' failed to resolve reference "ghcr.io/acme/api:1.4": failed to authorize: failed to fetch'
    " oauth token: unexpected status from GET request to https://ghcr.io/token: 401 Unauthorized"
)
NOT_FOUND = (
    'rpc error: code = NotFound desc = failed to pull and unpack image "ghcr.io/acme/web:9":'
    ' failed to resolve reference "ghcr.io/acme/web:9": ghcr.io/acme/web:9: not found'
)


@pytest.fixture
def calls(kubeconfig_path: Path, settings) -> kube.Cluster:
    settings.DELIVERY_LIST_PAGE_SIZE = 50
    row = Cluster(pk=10_000, name="fake", connection=Cluster.Connection.KUBECONFIG)
    row.kubeconfig = kubeconfig_path.read_text()
    return kube.connect(row)


@pytest.fixture
def cluster_row():
    return Cluster.objects.create(name="eu-west", connection=Cluster.Connection.IN_CLUSTER)


def place(fake_kube, cluster_row, slug: str, *, failing: bool = True) -> DeliveryTarget:
    """An organization with a GitHub registry on the cluster; its `api` cannot pull."""
    organization = OrganizationFactory(slug=slug)
    RegistryFactory(organization=organization, display_name="GitHub", address="ghcr.io")
    namespace = organization.namespace
    fake_kube.add_namespace(namespace)
    fake_kube.put_object(
        {
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": namespace},
            "imagePullSecrets": [{"name": SECRET}],
        }
    )
    waiting = ("ErrImagePull", REFUSED) if failing else None
    fake_kube.add_deployment(namespace, "api", "ghcr.io/acme/api:1.4", waiting=waiting)
    fake_kube.add_deployment(namespace, "web", "ghcr.io/acme/web:1")
    return DeliveryTarget.objects.create(
        organization=organization, cluster=cluster_row, namespace=namespace
    )


def failures_of(target: DeliveryTarget) -> list[tuple[str, str, str]]:
    return [
        (f.workload_kind, f.workload_name, f.cause)
        for f in PullFailure.objects.filter(health__target=target)
    ]


def test_each_target_gets_the_failures_of_its_own_namespace(fake_kube, cluster_row, calls):
    acme = place(fake_kube, cluster_row, "acme")
    globex = place(fake_kube, cluster_row, "globex", failing=False)
    fake_kube.add_namespace("kube-system")
    fake_kube.add_deployment(
        "kube-system", "dns", "ghcr.io/acme/api:1.4", waiting=("ErrImagePull", REFUSED)
    )

    report = pull_health_refresh(calls, [acme, globex], now=T0)

    assert failures_of(acme) == [("Deployment", "api", "credentials_refused")]
    assert failures_of(globex) == []
    assert PullHealth.objects.get(target=globex).read_at == T0
    assert (report.targets, report.failures, report.error) == (2, 1, None)
    failure = PullFailure.objects.get(health__target=acme)
    assert failure.registry.address == "ghcr.io"
    assert failure.references_secret


def test_the_api_calls_of_a_pass_do_not_grow_with_the_organizations(fake_kube, cluster_row, calls):
    counts = []
    for size in (1, 6):
        fake_kube.reset()
        DeliveryTarget.objects.all().delete()
        targets = [place(fake_kube, cluster_row, f"org{size}x{i}") for i in range(size)]
        fake_kube.clear_requests()

        pull_health_refresh(calls, targets, now=T0)

        counts.append(sorted((r.method, r.path) for r in fake_kube.requests))
    assert (
        counts[0]
        == counts[1]
        == [
            ("GET", "/api/v1/pods"),
            ("GET", "/apis/apps/v1/replicasets"),
        ]
    )


def test_an_unchanged_pass_makes_the_same_few_queries_whatever_the_organizations(
    fake_kube, cluster_row, calls
):
    queries = []
    for size in (2, 7):
        DeliveryTarget.objects.all().delete()
        targets = [place(fake_kube, cluster_row, f"q{size}x{i}") for i in range(size)]
        pull_health_refresh(calls, targets, now=T0)
        with CaptureQueriesContext(connection) as captured:
            report = pull_health_refresh(calls, targets, now=T0 + timedelta(minutes=1))
        queries.append(len(captured))
        assert report.changed == 0
        assert {h.read_at for h in PullHealth.objects.filter(target__in=targets)} == {
            T0 + timedelta(minutes=1)
        }
    assert queries[0] == queries[1]
    assert queries[0] <= 5


def test_a_fixed_workload_leaves_the_list_after_the_next_pass(fake_kube, cluster_row, calls):
    acme = place(fake_kube, cluster_row, "acme")
    pull_health_refresh(calls, [acme], now=T0)

    fake_kube.roll_out("deployments", acme.namespace, "api")
    pull_health_refresh(calls, [acme], now=T0 + timedelta(minutes=1))

    assert failures_of(acme) == []


def test_a_back_off_without_the_error_keeps_the_cause_of_the_last_pass(
    fake_kube, cluster_row, calls
):
    acme = place(fake_kube, cluster_row, "acme", failing=False)
    fake_kube.add_deployment(
        acme.namespace, "shop", "ghcr.io/acme/web:9", waiting=("ErrImagePull", NOT_FOUND)
    )
    pull_health_refresh(calls, [acme], now=T0)
    (pod,) = fake_kube.pods_of("deployments", acme.namespace, "shop")
    fake_kube.set_waiting(
        acme.namespace,
        pod["metadata"]["name"],
        ("ImagePullBackOff", 'Back-off pulling image "ghcr.io/acme/web:9"'),
    )

    pull_health_refresh(calls, [acme], now=T0 + timedelta(minutes=1))

    assert failures_of(acme) == [("Deployment", "shop", "image_not_found")]


def test_a_cluster_that_forbids_the_reads_says_not_permitted_and_changes_nothing_there(
    fake_kube, cluster_row, calls
):
    acme = place(fake_kube, cluster_row, "acme")
    globex = place(fake_kube, cluster_row, "globex")
    pull_health_refresh(calls, [acme], now=T0)
    fake_kube.fail_all(403, path_contains="/pods")
    fake_kube.clear_requests()

    report = pull_health_refresh(calls, [acme, globex], now=T0 + timedelta(minutes=1))

    assert report.error.kind == "forbidden"
    assert fake_kube.writes() == []
    for target in (acme, globex):
        health = PullHealth.objects.get(target=target)
        assert (health.available, health.error_kind) == (False, "forbidden")
    assert PullHealth.objects.get(target=acme).read_at == T0
    assert failures_of(acme) == [("Deployment", "api", "credentials_refused")]


def test_no_targets_make_no_calls(fake_kube, calls):
    assert pull_health_refresh(calls, []).targets == 0
    assert fake_kube.requests == []
