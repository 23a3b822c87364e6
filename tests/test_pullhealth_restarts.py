"""What "Restart affected workloads" and the automatic mode touch, and what they leave alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from pullhealth.causes import Cause
from pullhealth.failures import PullFailure
from pullhealth.pods import WorkloadRef, WorkloadState
from pullhealth.restarts import (
    RESTARTED_AT_ANNOTATION,
    Skip,
    change_key,
    plan_restarts,
    restart_patch,
)

NS = "org-acme"


@dataclass
class Registry:
    pk: int
    address: str


GHCR = Registry(1, "ghcr.io")
QUAY = Registry(2, "quay.io")


def failure(
    kind: str,
    name: str,
    *,
    cause: Cause = Cause.CREDENTIALS_REFUSED,
    registry: Registry | None = GHCR,
    namespace: str = NS,
    container: str = "app",
    controller_owned: bool = False,
) -> PullFailure:
    return PullFailure(
        workload=WorkloadRef(kind, namespace, name, controller_owned=controller_owned),
        container=container,
        init=False,
        image=f"{registry.address if registry else 'registry.example.com'}/acme/{name}:1",
        reason="ImagePullBackOff",
        cause=cause,
        message="",
        registry=registry,
        references_secret=True,
        pods=(f"{name}-x",),
    )


def state(kind: str, name: str, *, paused: bool = False, namespace: str = NS) -> WorkloadState:
    return WorkloadState(
        kind, namespace, name, uid=f"uid-{name}", resource_version="7", paused=paused
    )


def workloads(*states: WorkloadState) -> dict:
    return {s.key: s for s in states}


def names(plan) -> list[str]:
    return [r.workload.name for r in plan.restart]


def skipped(plan) -> dict[str, str]:
    return {s.workload.name: s.why for s in plan.skipped}


def test_a_registry_restart_touches_only_the_workloads_failing_to_pull_from_it():
    failures = [
        failure("Deployment", "api"),
        failure("StatefulSet", "db"),
        failure("DaemonSet", "agent", registry=QUAY),
    ]

    plan = plan_restarts(
        failures,
        namespaces={NS},
        workloads=workloads(
            state("Deployment", "api"), state("StatefulSet", "db"), state("DaemonSet", "agent")
        ),
        registry_id=GHCR.pk,
    )

    assert names(plan) == ["api", "db"]
    assert plan.skipped == []
    assert [r.state.resource_version for r in plan.restart] == ["7", "7"]


def test_the_organization_restart_touches_every_registry_and_reports_unmatched_images():
    failures = [
        failure("Deployment", "api"),
        failure("DaemonSet", "agent", registry=QUAY),
        failure("Deployment", "legacy", registry=None),
    ]

    plan = plan_restarts(
        failures,
        namespaces={NS},
        workloads=workloads(
            state("Deployment", "api"), state("DaemonSet", "agent"), state("Deployment", "legacy")
        ),
    )

    assert names(plan) == ["agent", "api"]
    assert skipped(plan) == {"legacy": Skip.NO_REGISTRY}


def test_workloads_outside_the_organization_namespaces_are_never_touched():
    failures = [
        failure("Deployment", "api"),
        failure("Deployment", "theirs", namespace="org-other"),
    ]

    plan = plan_restarts(
        failures,
        namespaces={NS},
        workloads=workloads(
            state("Deployment", "api"), state("Deployment", "theirs", namespace="org-other")
        ),
    )

    assert names(plan) == ["api"]
    assert skipped(plan) == {}


def test_a_paused_deployment_is_skipped_and_reported():
    plan = plan_restarts(
        [failure("Deployment", "api")],
        namespaces={NS},
        workloads=workloads(state("Deployment", "api", paused=True)),
    )

    assert plan.empty
    assert skipped(plan) == {"api": Skip.PAUSED}


def test_image_not_found_is_never_restarted_even_beside_a_fixable_failure():
    failures = [
        failure("Deployment", "api", container="app"),
        failure("Deployment", "api", container="sidecar", cause=Cause.IMAGE_NOT_FOUND),
        failure("Deployment", "web", cause=Cause.IMAGE_NOT_FOUND),
    ]

    for automatic in (False, True):
        plan = plan_restarts(
            failures,
            namespaces={NS},
            workloads=workloads(state("Deployment", "api"), state("Deployment", "web")),
            automatic=automatic,
            change=change_key(GHCR.pk, 2),
        )

        assert plan.empty
        assert skipped(plan) == {"api": Skip.IMAGE_NOT_FOUND, "web": Skip.IMAGE_NOT_FOUND}


def test_a_bare_pod_is_left_to_recreate_and_a_controlled_pod_is_deleted():
    failures = [
        failure("Pod", "debug"),
        failure("Pod", "nightly-x7k2p", controller_owned=True),
    ]

    plan = plan_restarts(failures, namespaces={NS}, workloads={})

    assert names(plan) == ["nightly-x7k2p"]
    assert plan.restart[0].deletes_pod
    assert plan.restart[0].state is None
    assert skipped(plan) == {"debug": Skip.BARE_POD}


def test_a_workload_gone_since_the_read_is_skipped():
    plan = plan_restarts([failure("Deployment", "api")], namespaces={NS}, workloads={})

    assert skipped(plan) == {"api": Skip.GONE}


def test_one_action_per_workload_however_many_containers_fail():
    failures = [
        failure("Deployment", "api", container="app"),
        failure("Deployment", "api", container="sidecar"),
    ]

    plan = plan_restarts(failures, namespaces={NS}, workloads=workloads(state("Deployment", "api")))

    (restart,) = plan.restart
    assert [f.container for f in restart.failures] == ["app", "sidecar"]


def test_a_person_may_restart_other_failures_but_the_automatic_mode_does_not():
    failures = [failure("Deployment", "api", cause=Cause.OTHER)]
    found = workloads(state("Deployment", "api"))

    manual = plan_restarts(failures, namespaces={NS}, workloads=found)
    automatic = plan_restarts(
        failures, namespaces={NS}, workloads=found, automatic=True, change=change_key(1, 2)
    )

    assert names(manual) == ["api"]
    assert skipped(automatic) == {"api": Skip.NOT_FIXABLE}


def test_the_automatic_mode_waits_until_the_cluster_holds_the_change():
    plan = plan_restarts(
        [failure("Deployment", "api", cause=Cause.NO_CREDENTIALS)],
        namespaces={NS},
        workloads=workloads(state("Deployment", "api")),
        registry_id=GHCR.pk,
        automatic=True,
        change=change_key(GHCR.pk, 1),
        delivered=False,
    )

    assert skipped(plan) == {"api": Skip.NOT_DELIVERED}


def test_the_automatic_mode_restarts_once_per_change():
    failures = [failure("Deployment", "api")]
    found = workloads(state("Deployment", "api"))
    change = change_key(GHCR.pk, 3)
    done: set = set()

    first = plan_restarts(
        failures,
        namespaces={NS},
        workloads=found,
        registry_id=1,
        automatic=True,
        change=change,
        done=done,
    )
    done |= {(*r.workload.key, change) for r in first.restart}
    second = plan_restarts(
        failures,
        namespaces={NS},
        workloads=found,
        registry_id=1,
        automatic=True,
        change=change,
        done=done,
    )
    next_change = plan_restarts(
        failures,
        namespaces={NS},
        workloads=found,
        registry_id=1,
        automatic=True,
        change=change_key(1, 4),
        done=done,
    )

    assert names(first) == ["api"]
    assert second.empty
    assert skipped(second) == {"api": Skip.ALREADY}
    assert names(next_change) == ["api"]


def test_the_restart_patch_is_the_one_kubectl_rollout_restart_sends():
    at = datetime(2026, 12, 1, 23, 40, 5, tzinfo=timezone(timedelta(hours=2)))

    assert restart_patch(at) == {
        "spec": {
            "template": {
                "metadata": {"annotations": {RESTARTED_AT_ANNOTATION: "2026-12-01T21:40:05Z"}}
            }
        }
    }
    stamp = restart_patch()["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT_ANNOTATION]
    assert datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) <= datetime.now(UTC)
    assert RESTARTED_AT_ANNOTATION == "kubectl.kubernetes.io/restartedAt"
