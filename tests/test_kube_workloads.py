"""The pull-health calls of the gateway (delivery.kube), over HTTP against the fake API server, and the whole path
from a cluster's pods to the restart of exactly the workloads that cannot pull."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from delivery import kube
from delivery.errors import ClusterError
from delivery.models import Cluster
from pullhealth.causes import Cause
from pullhealth.failures import read_failures
from pullhealth.restarts import RESTARTED_AT_ANNOTATION, Skip, plan_restarts

NS = "org-acme"
SECRET = "org-registry-credentials"
AT = datetime(2026, 12, 1, 21, 40, tzinfo=UTC)


def containerd(ref: str, detail: str, code: str = "Unknown") -> str:
    return (
        f'rpc error: code = {code} desc = failed to pull and unpack image "{ref}": failed to'
        f' resolve reference "{ref}": {detail}'
    )


REFUSED = containerd(
    "ghcr.io/acme/api:1.4",
    "failed to authorize: failed to fetch oauth token: unexpected status from GET request to"
    " https://ghcr.io/token?scope=repository%3Aacme%2Fapi%3Apull&service=ghcr.io: 401 Unauthorized",
)
NO_CREDENTIALS = containerd(
    "registry.example.com/team/worker:3",
    "pull access denied, repository does not exist or may require authorization: authorization"
    " failed: no basic auth credentials",
)
NOT_FOUND = containerd("ghcr.io/acme/web:9", "ghcr.io/acme/web:9: not found", code="NotFound")
OTHER = containerd(
    "quay.io/acme/agent:3",
    'failed to do request: Head "https://quay.io/v2/acme/agent/manifests/3": dial tcp: lookup'
    " quay.io: i/o timeout",
)
UNKNOWN_HOST = containerd(
    "registry.unknown.example/app:1",
    "pull access denied, repository does not exist or may require authorization: authorization"
    " failed: no basic auth credentials",
)


@dataclass
class Registry:
    pk: int
    address: str


GHCR = Registry(1, "ghcr.io")
TEAM = Registry(2, "registry.example.com/team")
QUAY = Registry(3, "quay.io")
REGISTRIES = [GHCR, TEAM, QUAY]


@pytest.fixture
def calls(kubeconfig_path: Path, settings) -> Iterator[kube.Cluster]:
    settings.DELIVERY_LIST_PAGE_SIZE = 2
    row = Cluster(pk=1, name="eu-west", connection=Cluster.Connection.KUBECONFIG)
    row.kubeconfig = kubeconfig_path.read_text()
    return kube.connect(row)


@pytest.fixture
def namespace(fake_kube) -> str:
    fake_kube.add_namespace(NS)
    fake_kube.put_object(
        {
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": NS},
            "imagePullSecrets": [{"name": SECRET}],
        }
    )
    return NS


@pytest.fixture
def failing_cluster(fake_kube, namespace):
    """A Deployment failing with each cause, an unknown host, and healthy neighbours."""
    fake_kube.add_deployment(
        NS,
        "api",
        "ghcr.io/acme/api:1.4",
        replicas=2,
        waiting=(
            "ImagePullBackOff",
            f'Back-off pulling image "ghcr.io/acme/api:1.4": ErrImagePull: {REFUSED}',
        ),
    )
    fake_kube.add_deployment(
        NS, "worker", "registry.example.com/team/worker:3", waiting=("ErrImagePull", NO_CREDENTIALS)
    )
    fake_kube.add_deployment(NS, "web", "ghcr.io/acme/web:9", waiting=("ErrImagePull", NOT_FOUND))
    fake_kube.add_daemonset(NS, "agent", "quay.io/acme/agent:3", waiting=("ErrImagePull", OTHER))
    fake_kube.add_statefulset(
        NS, "legacy", "registry.unknown.example/app:1", waiting=("ErrImagePull", UNKNOWN_HOST)
    )
    fake_kube.add_deployment(NS, "healthy", "ghcr.io/acme/healthy:1")
    fake_kube.add_statefulset(NS, "db", "postgres:17")
    return fake_kube


def read(calls: kube.Cluster, namespace: str | None = NS):
    pods = list(calls.list_pods(namespace, field_selector="status.phase=Pending"))
    return read_failures(pods, calls.list_replicasets(namespace), REGISTRIES, secret_name=SECRET)


# --- reads ------------------------------------------------------------------------------------


def test_each_failing_workload_is_read_with_its_registry_and_cause(calls, failing_cluster):
    found = {(f.workload.kind, f.workload.name): f for f in read(calls)}

    assert {key: (f.registry, f.cause) for key, f in found.items()} == {
        ("Deployment", "api"): (GHCR, Cause.CREDENTIALS_REFUSED),
        ("Deployment", "worker"): (TEAM, Cause.NO_CREDENTIALS),
        ("Deployment", "web"): (GHCR, Cause.IMAGE_NOT_FOUND),
        ("DaemonSet", "agent"): (QUAY, Cause.OTHER),
        ("StatefulSet", "legacy"): (None, Cause.NO_CREDENTIALS),
    }
    assert len(found["Deployment", "api"].pods) == 2
    assert found["Deployment", "web"].message == "ghcr.io/acme/web:9: not found"


def test_reading_the_whole_cluster_in_pages_finds_the_same(calls, failing_cluster):
    failing_cluster.clear_requests()

    assert read(calls, None) == read(calls, NS)
    pages = [r for r in failing_cluster.requests if r.path == "/api/v1/pods"]
    assert len(pages) == 3  # 6 pending pods, 2 per page
    assert all(r.query.get("limit") == "2" for r in pages)


def test_a_healthy_cluster_has_no_failures(calls, fake_kube, namespace):
    fake_kube.add_deployment(NS, "web", "ghcr.io/acme/web:1", replicas=3)

    assert read(calls) == []
    assert [p.waiting for p in calls.list_pods(NS)] == [()] * 3


def test_pods_report_their_pull_secrets_owners_and_init_containers(calls, fake_kube, namespace):
    fake_kube.add_deployment(
        NS,
        "api",
        "ghcr.io/acme/api:1.4",
        init_image="ghcr.io/acme/migrate:2",
        init_waiting=("ErrImagePull", NOT_FOUND),
    )
    (pod,) = calls.list_pods(NS)
    (replicaset,) = calls.list_replicasets(NS).values()

    assert pod.pull_secrets == (SECRET,)
    assert pod.controller.kind == "ReplicaSet"
    assert pod.controller.uid == replicaset.uid
    assert replicaset.controller.name == "api"
    assert calls.read_replicaset(NS, replicaset.name) == replicaset
    assert calls.read_replicaset(NS, "gone") is None
    assert [(w.container, w.init, w.reason, w.image) for w in pod.waiting] == [
        ("init", True, "ErrImagePull", "ghcr.io/acme/migrate:2"),
        ("app", False, "PodInitializing", "ghcr.io/acme/api:1.4"),
    ]


def test_a_pod_created_before_the_account_named_the_secret_does_not_reference_it(calls, fake_kube):
    fake_kube.add_namespace(NS)
    fake_kube.add_deployment(NS, "api", "ghcr.io/acme/api:1.4", waiting=("ErrImagePull", REFUSED))

    (failure,) = read(calls)

    assert not failure.references_secret


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet"])
def test_a_workload_is_read_with_its_version_and_restart_annotation(
    calls, fake_kube, namespace, kind
):
    getattr(
        fake_kube,
        {
            "Deployment": "add_deployment",
            "StatefulSet": "add_statefulset",
            "DaemonSet": "add_daemonset",
        }[kind],
    )(NS, "svc")

    state = calls.read_workload(kind, NS, "svc")

    assert (state.kind, state.name, state.paused, state.restarted_at) == (kind, "svc", False, "")
    assert state.resource_version
    assert calls.read_workload(kind, NS, "gone") is None


def test_a_paused_deployment_reads_paused(calls, fake_kube, namespace):
    fake_kube.add_deployment(NS, "api", paused=True)

    assert calls.read_workload("Deployment", NS, "api").paused


# --- writes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "plural"),
    [("Deployment", "deployments"), ("StatefulSet", "statefulsets"), ("DaemonSet", "daemonsets")],
)
def test_a_restart_sets_restarted_at_on_the_pod_template_only(
    calls, fake_kube, namespace, kind, plural
):
    getattr(fake_kube, "add_" + plural.removesuffix("s"))(NS, "svc", "ghcr.io/acme/svc:1")
    before = fake_kube.get_object(plural, NS, "svc")

    calls.restart_workload(calls.read_workload(kind, NS, "svc"), at=AT)

    after = fake_kube.get_object(plural, NS, "svc")
    assert after["spec"]["template"]["metadata"]["annotations"] == {
        RESTARTED_AT_ANNOTATION: "2026-12-01T21:40:00Z"
    }
    after["spec"]["template"]["metadata"].pop("annotations")
    assert after["spec"] == before["spec"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert calls.read_workload(kind, NS, "svc").restarted_at == "2026-12-01T21:40:00Z"


def test_a_workload_changed_since_it_was_read_is_not_restarted(calls, fake_kube, namespace):
    fake_kube.add_deployment(NS, "api")
    state = calls.read_workload("Deployment", NS, "api")
    stored = fake_kube.get_object("deployments", NS, "api")
    stored["spec"]["paused"] = True
    fake_kube.put_object(stored)

    with pytest.raises(ClusterError) as error:
        calls.restart_workload(state, at=AT)

    assert error.value.kind == "conflict"
    assert (
        "annotations"
        not in fake_kube.get_object("deployments", NS, "api")["spec"]["template"]["metadata"]
    )


def test_deleting_a_pod_deletes_that_pod_only(calls, fake_kube, namespace):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "nightly", "uid": "u-1"}}
    pod = fake_kube.add_pod(NS, "nightly-x7k2p", "ghcr.io/acme/job:1", owner=job)
    fake_kube.add_pod(NS, "debug")

    assert calls.delete_pod(NS, "nightly-x7k2p", pod["metadata"]["uid"]) is True
    assert fake_kube.get_object("pods", NS, "nightly-x7k2p") is None
    assert fake_kube.get_object("pods", NS, "debug") is not None


def test_deleting_a_pod_replaced_by_one_of_the_same_name_leaves_the_new_one(
    calls, fake_kube, namespace
):
    fake_kube.add_statefulset(NS, "db", waiting=("ErrImagePull", REFUSED))
    (old,) = fake_kube.pods_of("statefulsets", NS, "db")
    fake_kube.roll_out("statefulsets", NS, "db")

    assert calls.delete_pod(NS, "db-0", old["metadata"]["uid"]) is False
    assert calls.delete_pod(NS, "gone", "u") is False
    assert fake_kube.get_object("pods", NS, "db-0") is not None


@pytest.mark.parametrize(
    ("status", "kind", "retriable"),
    [
        (403, "forbidden", False),
        (401, "unauthorized", False),
        (500, "server-error", True),
        (503, "server-error", True),
    ],
)
def test_api_errors_become_cluster_errors_without_bodies(
    calls, fake_kube, namespace, status, kind, retriable
):
    fake_kube.fail_all(status)

    with pytest.raises(ClusterError) as error:
        list(calls.list_pods(NS))

    assert (error.value.kind, error.value.retriable) == (kind, retriable)
    assert "{" not in str(error.value)


def test_forbidden_says_what_was_not_permitted(calls, fake_kube, namespace):
    fake_kube.fail_all(403, path_contains="/pods")

    with pytest.raises(ClusterError) as error:
        list(calls.list_pods(None))

    assert str(error.value) == "Forbidden by RBAC: the platform may not list pods."


def test_an_unreachable_cluster_is_a_retriable_cluster_error(calls, fake_kube, namespace):
    with fake_kube.unreachable(), pytest.raises(ClusterError) as error:
        calls.read_workload("Deployment", NS, "api")

    assert error.value.kind == "unreachable"
    assert error.value.retriable


# --- the whole path ---------------------------------------------------------------------------


def test_restarting_for_a_registry_patches_exactly_the_failing_deployment(calls, failing_cluster):
    failures = read(calls)
    keys = {f.workload.key for f in failures}
    states = {k: calls.read_workload(k[0], k[1], k[2]) for k in keys if k[0] != "Pod"}
    failing_cluster.clear_requests()

    plan = plan_restarts(failures, namespaces={NS}, workloads=states, registry_id=GHCR.pk)
    for restart in plan.restart:
        calls.restart_workload(restart.state, at=AT)

    assert [r.workload.name for r in plan.restart] == ["api"]
    assert {s.workload.name: s.why for s in plan.skipped} == {"web": Skip.IMAGE_NOT_FOUND}
    assert [(w.method, w.path) for w in failing_cluster.writes()] == [
        ("PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/api")
    ]
    for name in ("worker", "web", "healthy"):
        template = failing_cluster.get_object("deployments", NS, name)["spec"]["template"]
        assert "annotations" not in template["metadata"]


def test_after_the_restart_new_pods_carry_the_secret_and_nothing_is_left_failing(calls, fake_kube):
    fake_kube.add_namespace(NS)
    fake_kube.add_deployment(NS, "api", "ghcr.io/acme/api:1.4", waiting=("ErrImagePull", REFUSED))
    fake_kube.put_object(
        {
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": NS},
            "imagePullSecrets": [{"name": SECRET}],
        }
    )
    (failure,) = read(calls)
    plan = plan_restarts(
        [failure],
        namespaces={NS},
        workloads={failure.workload.key: calls.read_workload("Deployment", NS, "api")},
    )
    calls.restart_workload(plan.restart[0].state, at=AT)

    (pod,) = fake_kube.roll_out("deployments", NS, "api")

    assert [ref["name"] for ref in pod["spec"]["imagePullSecrets"]] == [SECRET]
    assert read(calls) == []
