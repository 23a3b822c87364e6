"""Which workloads a restart touches, and which it leaves alone and why. Pure: the views and
the automatic mode decide with this, the gateway then makes the calls.

The rules:
- only workloads failing to pull from the chosen registry (or from any registry of the
  organization), in the organization's own namespaces, are touched;
- a Deployment, StatefulSet or DaemonSet is restarted as `kubectl rollout restart` does, by
  setting `kubectl.kubernetes.io/restartedAt` on its pod template; a paused Deployment is
  skipped (kubectl refuses it too) and reported;
- a pod no such workload owns is deleted only if a controller owns it (which recreates it);
  a bare pod is left to its owner to recreate;
- "image not found" is never restarted: a new pod would fail the same way. The automatic mode
  restarts only what a credential change can fix, waits until the Secret holds the change, and
  restarts a workload at most once per change.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .causes import Cause
from .failures import PullFailure
from .pods import WorkloadRef, WorkloadState

RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"

# What a person may choose to restart, and what a credential change alone can fix.
MANUAL_CAUSES = frozenset({Cause.CREDENTIALS_REFUSED, Cause.NO_CREDENTIALS, Cause.OTHER})
AUTOMATIC_CAUSES = frozenset({Cause.CREDENTIALS_REFUSED, Cause.NO_CREDENTIALS})


class Skip:
    """Why a failing workload is not restarted, in the words the page shows."""

    IMAGE_NOT_FOUND = "image not found: a restart cannot fix it"
    NO_REGISTRY = "no registry matches its image"
    PAUSED = "the Deployment is paused"
    BARE_POD = "recreate it yourself"
    GONE = "it no longer exists"
    NOT_FIXABLE = "a credential change cannot fix its pulls"
    ALREADY = "already restarted for this change"
    NOT_DELIVERED = "the cluster does not hold the new credentials yet"


@dataclass(frozen=True)
class Restart:
    workload: WorkloadRef
    failures: tuple[PullFailure, ...]
    # For a Deployment, StatefulSet or DaemonSet: the state read before, for the patch's
    # resourceVersion precondition. None for a pod to delete.
    state: WorkloadState | None = None

    @property
    def deletes_pod(self) -> bool:
        return not self.workload.restartable


@dataclass(frozen=True)
class Skipped:
    workload: WorkloadRef
    why: str
    failures: tuple[PullFailure, ...] = ()


@dataclass
class RestartPlan:
    restart: list[Restart] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.restart


def plan_restarts(
    failures: Iterable[PullFailure],
    *,
    namespaces: Collection[str],
    workloads: Mapping[tuple[str, str, str], WorkloadState],
    registry_id: int | None = None,
    automatic: bool = False,
    change: str = "",
    done: Collection[tuple[str, str, str, str]] = (),
    delivered: bool = True,
) -> RestartPlan:
    """Decide what a restart does.

    `registry_id` limits it to failures pulled with that registry (None: the whole
    organization). `workloads` holds the Deployments, StatefulSets and DaemonSets as just read,
    by WorkloadRef.key. For the automatic mode, `change` names what was delivered (see
    change_key), `done` holds (kind, namespace, name, change) of restarts already made, and
    `delivered` says whether the Secret on this cluster holds the change.
    """
    by_workload: dict[tuple[str, str, str], list[PullFailure]] = {}
    for failure in failures:
        if failure.workload.namespace in namespaces:
            by_workload.setdefault(failure.workload.key, []).append(failure)
    causes = AUTOMATIC_CAUSES if automatic else MANUAL_CAUSES
    plan = RestartPlan()
    for key, all_failures in sorted(by_workload.items()):
        workload = all_failures[0].workload
        chosen = tuple(
            f
            for f in all_failures
            if f.registry is not None and (registry_id is None or f.registry.pk == registry_id)
        )
        if not chosen:
            if registry_id is None:
                plan.skipped.append(Skipped(workload, Skip.NO_REGISTRY, tuple(all_failures)))
            continue

        state = workloads.get(key)
        why = _why_not(
            workload,
            all_failures,
            chosen,
            state,
            causes=causes,
            automatic=automatic,
            delivered=delivered,
            already=(*key, change) in done,
        )
        if why:
            plan.skipped.append(Skipped(workload, why, chosen))
        else:
            plan.restart.append(Restart(workload, chosen, state if workload.restartable else None))
    return plan


def _why_not(
    workload: WorkloadRef,
    all_failures: list[PullFailure],
    chosen: tuple[PullFailure, ...],
    state: WorkloadState | None,
    *,
    causes: frozenset[Cause],
    automatic: bool,
    delivered: bool,
    already: bool,
) -> str:
    """Why this workload is not restarted, or "" when it is."""
    # Any image of the workload that does not exist keeps its new pods failing too.
    if any(f.cause == Cause.IMAGE_NOT_FOUND for f in all_failures):
        return Skip.IMAGE_NOT_FOUND
    if not all(f.cause in causes for f in chosen):
        return Skip.NOT_FIXABLE
    if automatic and not delivered:
        return Skip.NOT_DELIVERED
    if automatic and already:
        return Skip.ALREADY
    if workload.restartable:
        if state is None:
            return Skip.GONE
        return Skip.PAUSED if state.paused else ""
    return "" if workload.controller_owned else Skip.BARE_POD


def change_key(registry_id: int, version: int) -> str:
    """Names one delivered change of a registry: its id and the version the Secret holds."""
    return f"registry-{registry_id}-v{version}"


def restart_patch(at: datetime | None = None) -> dict:
    """The patch `kubectl rollout restart` sends: an RFC 3339 time on the pod template."""
    stamp = (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: stamp}}}}}
