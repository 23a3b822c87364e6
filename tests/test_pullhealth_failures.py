"""From pods to pull failures: which containers wait on a pull, which workload owns the pod,
which registry the image is pulled with, and why it fails."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pullhealth.causes import Cause
from pullhealth.failures import read_failures, registry_for_image
from pullhealth.pods import (
    ContainerWait,
    OwnerRef,
    PodState,
    ReplicaSetState,
    owning_workload,
    pull_waits,
    references_secret,
)

SECRET = "org-registry-credentials"
NS = "org-acme"
REFUSED = (
    'rpc error: code = Unknown desc = failed to pull and unpack image "ghcr.io/acme/api:1.4":'
    ' failed to resolve reference "ghcr.io/acme/api:1.4": failed to authorize: failed to fetch'
    " oauth token: unexpected status from GET request to https://ghcr.io/token: 401 Unauthorized"
)
NOT_FOUND = (
    'rpc error: code = NotFound desc = failed to pull and unpack image "ghcr.io/acme/api:9":'
    ' failed to resolve reference "ghcr.io/acme/api:9": ghcr.io/acme/api:9: not found'
)
AUTH_REQUIRED = "reading manifest 1 in quay.io/acme/agent: unauthorized: authentication required"


@dataclass
class Registry:
    pk: int
    address: str


GHCR = Registry(1, "ghcr.io")
GHCR_TEAM = Registry(2, "ghcr.io/acme")
HUB = Registry(3, "docker.io")
QUAY = Registry(4, "quay.io")


def owner(kind: str, name: str, uid: str, *, controller: bool = True, api: str = "apps/v1"):
    return OwnerRef(api_version=api, kind=kind, name=name, uid=uid, controller=controller)


def pod(
    name: str,
    *waits: ContainerWait,
    owners: tuple[OwnerRef, ...] = (),
    pull_secrets: tuple[str, ...] = (SECRET,),
    namespace: str = NS,
) -> PodState:
    return PodState(
        namespace=namespace,
        name=name,
        uid=f"uid-{name}",
        owners=owners,
        pull_secrets=pull_secrets,
        waiting=waits,
    )


def wait(image: str, reason: str = "ErrImagePull", message: str = REFUSED, **kwargs):
    return ContainerWait(
        container=kwargs.pop("container", "app"),
        image=image,
        reason=reason,
        message=message,
        **kwargs,
    )


API_RS = ReplicaSetState(NS, "api-7c5ddbdf54", "uid-rs", (owner("Deployment", "api", "uid-dep"),))
REPLICASETS = {(NS, API_RS.name): API_RS}
API_OWNERS = (owner("ReplicaSet", API_RS.name, "uid-rs"),)


# --- containers that wait on a pull ------------------------------------------------------------


def test_only_pull_reasons_count_as_pull_failures():
    waiting = pod(
        "p",
        wait("ghcr.io/acme/api:1", "ErrImagePull"),
        wait("ghcr.io/acme/api:1", "ImagePullBackOff", container="two"),
        wait("ghcr.io/acme/init:1", "ImagePullBackOff", container="init", init=True),
        wait("ghcr.io/acme/api:1", "ContainerCreating", container="three"),
        wait("ghcr.io/acme/api:1", "CrashLoopBackOff", container="four"),
        wait("ghcr.io/acme/api:1", "PodInitializing", container="five"),
    )

    assert [(w.container, w.init) for w in pull_waits(waiting)] == [
        ("app", False),
        ("two", False),
        ("init", True),
    ]


def test_a_pod_references_the_secret_only_when_it_names_it():
    assert references_secret(pod("p"), SECRET)
    assert not references_secret(pod("p", pull_secrets=()), SECRET)
    assert not references_secret(pod("p", pull_secrets=("their-secret",)), SECRET)


# --- owners ------------------------------------------------------------------------------------


def test_a_deployment_pod_belongs_to_the_deployment_through_its_replica_set():
    workload = owning_workload(pod("api-7c5ddbdf54-x2k9p", owners=API_OWNERS), REPLICASETS)

    assert (workload.kind, workload.namespace, workload.name) == ("Deployment", NS, "api")
    assert workload.restartable


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
def test_stateful_and_daemon_set_pods_belong_to_them_directly(kind):
    workload = owning_workload(pod("svc-0", owners=(owner(kind, "svc", "u"),)), {})

    assert (workload.kind, workload.name) == (kind, "svc")
    assert workload.restartable


def test_a_bare_pod_is_its_own_workload_and_no_controller_owns_it():
    workload = owning_workload(pod("debug"), {})

    assert (workload.kind, workload.name, workload.controller_owned) == ("Pod", "debug", False)
    assert workload.pod_uid == "uid-debug"
    assert not workload.restartable


def test_a_non_controller_owner_does_not_make_a_pod_controlled():
    owners = (owner("ConfigMap", "cm", "u", controller=False, api="v1"),)

    assert not owning_workload(pod("p", owners=owners), {}).controller_owned


@pytest.mark.parametrize(
    ("owners", "replicasets", "owner_kind"),
    [
        ((owner("Job", "nightly", "u", api="batch/v1"),), {}, "Job"),
        # A ReplicaSet with no Deployment recreates its pods, but cannot be rolled out.
        (
            (owner("ReplicaSet", "bare", "uid-bare"),),
            {(NS, "bare"): ReplicaSetState(NS, "bare", "uid-bare")},
            "ReplicaSet",
        ),
        # The ReplicaSet was not read (or was replaced by one of the same name): do not guess.
        (API_OWNERS, {}, "ReplicaSet"),
        (
            API_OWNERS,
            {(NS, API_RS.name): ReplicaSetState(NS, API_RS.name, "other-uid", API_RS.owners)},
            "ReplicaSet",
        ),
        ((owner("Deployment", "x", "u", api="example.com/v1"),), {}, "Deployment"),
    ],
)
def test_a_pod_owned_by_another_controller_is_a_controlled_pod(owners, replicasets, owner_kind):
    workload = owning_workload(pod("p", owners=owners), replicasets)

    assert (workload.kind, workload.name) == ("Pod", "p")
    assert workload.controller_owned
    assert workload.owner_kind == owner_kind


# --- registries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "registries"),
    [
        ("ghcr.io/acme/api:1.4", [GHCR_TEAM, GHCR]),
        ("ghcr.io/other/api:1.4", [GHCR]),
        ("nginx", [HUB]),
        ("acme/app:2", [HUB]),
        ("quay.io/acme/agent", [QUAY]),
        ("registry.example.com/app:1", []),
    ],
)
def test_an_image_is_pulled_with_the_registries_whose_keys_match_most_specific_first(
    image, registries
):
    match = registry_for_image(image, [GHCR, GHCR_TEAM, HUB, QUAY])

    assert list(match.registries) == registries
    assert match.registry == (registries[0] if registries else None)


# --- failures ------------------------------------------------------------------------------------


def test_pods_of_one_workload_make_one_failure_per_container_and_image():
    pods = [
        pod("api-7c5ddbdf54-aaaaa", wait("ghcr.io/acme/api:1.4"), owners=API_OWNERS),
        pod(
            "api-7c5ddbdf54-bbbbb",
            wait("ghcr.io/acme/api:1.4", "ImagePullBackOff"),
            owners=API_OWNERS,
        ),
    ]

    (failure,) = read_failures(pods, REPLICASETS, [GHCR, GHCR_TEAM], secret_name=SECRET)

    assert failure.workload.key == ("Deployment", NS, "api")
    assert failure.pods == ("api-7c5ddbdf54-aaaaa", "api-7c5ddbdf54-bbbbb")
    assert failure.registry == GHCR_TEAM
    assert failure.cause == Cause.CREDENTIALS_REFUSED
    assert failure.references_secret


def test_a_healthy_pod_makes_no_failure():
    assert (
        read_failures([pod("web"), pod("web-2", pull_secrets=())], {}, [GHCR], secret_name=SECRET)
        == []
    )


def test_an_image_on_an_unknown_host_is_a_failure_matching_no_registry():
    (failure,) = read_failures(
        [pod("p", wait("registry.example.com/app:1", message=AUTH_REQUIRED))],
        {},
        [GHCR],
        secret_name=SECRET,
    )

    assert failure.registry is None
    # Our Secret holds nothing for that host: whatever it says, nothing of ours was offered.
    assert failure.cause == Cause.NO_CREDENTIALS


def test_a_pod_without_our_secret_is_marked_and_its_ambiguous_refusal_reads_no_credentials():
    (failure,) = read_failures(
        [pod("p", wait("quay.io/acme/agent:1", message=AUTH_REQUIRED), pull_secrets=())],
        {},
        [QUAY],
        secret_name=SECRET,
    )

    assert not failure.references_secret
    assert failure.cause == Cause.NO_CREDENTIALS


def test_the_same_refusal_with_our_secret_referenced_reads_credentials_refused():
    (failure,) = read_failures(
        [pod("p", wait("quay.io/acme/agent:1", message=AUTH_REQUIRED))],
        {},
        [QUAY],
        secret_name=SECRET,
    )

    assert failure.cause == Cause.CREDENTIALS_REFUSED


def test_a_pod_bringing_its_own_pull_secret_offered_credentials():
    (failure,) = read_failures(
        [pod("p", wait("quay.io/acme/agent:1", message=AUTH_REQUIRED), pull_secrets=("theirs",))],
        {},
        [QUAY],
        secret_name=SECRET,
    )

    assert failure.cause == Cause.CREDENTIALS_REFUSED


def test_one_pod_that_predates_the_secret_marks_the_whole_workload():
    pods = [
        pod("api-7c5ddbdf54-aaaaa", wait("ghcr.io/acme/api:1.4"), owners=API_OWNERS),
        pod(
            "api-7c5ddbdf54-bbbbb", wait("ghcr.io/acme/api:1.4"), owners=API_OWNERS, pull_secrets=()
        ),
    ]

    (failure,) = read_failures(pods, REPLICASETS, [GHCR], secret_name=SECRET)

    assert not failure.references_secret


def test_a_bare_back_off_keeps_the_cause_read_before():
    bare = 'Back-off pulling image "ghcr.io/acme/api:9"'
    pods = [pod("p", wait("ghcr.io/acme/api:9", "ImagePullBackOff", bare))]
    key = ("Pod", NS, "p", "app", "ghcr.io/acme/api:9")

    (kept,) = read_failures(
        pods, {}, [GHCR], secret_name=SECRET, previous_causes={key: Cause.IMAGE_NOT_FOUND}
    )
    (unknown,) = read_failures(pods, {}, [GHCR], secret_name=SECRET)

    assert kept.cause == Cause.IMAGE_NOT_FOUND
    assert unknown.cause == Cause.OTHER
    assert unknown.message == bare


def test_init_containers_and_containers_fail_separately():
    pods = [
        pod(
            "p",
            wait("ghcr.io/acme/migrate:2", container="migrate", init=True, message=NOT_FOUND),
            wait("ghcr.io/acme/api:1.4", container="app"),
        )
    ]

    failures = read_failures(pods, {}, [GHCR], secret_name=SECRET)

    assert [(f.container, f.init, f.cause) for f in failures] == [
        ("app", False, Cause.CREDENTIALS_REFUSED),
        ("migrate", True, Cause.IMAGE_NOT_FOUND),
    ]


def test_the_stored_message_is_the_short_one():
    (failure,) = read_failures(
        [pod("p", wait("ghcr.io/acme/api:9", message=NOT_FOUND))], {}, [GHCR], secret_name=SECRET
    )

    assert failure.message == "ghcr.io/acme/api:9: not found"
