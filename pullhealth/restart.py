"""Making the restarts restarts.py plans, on one target, and recording each in Activity.

Runs in a worker (the task a person's "Restart …" queues) or after a delivery or a reconcile
pass (the automatic mode), outside any transaction while it talks to the cluster. Each restart
is recorded (WorkloadRestart) before its call, which is what keeps the automatic mode to one
restart per workload and change even with two workers; a call that fails removes that record,
so nothing counts as restarted that was not. Activity gets one event per restart made (who,
which workload, why) and, for a person's request, one per workload left alone and why.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from delivery.errors import ClusterError
from delivery.models import DeliveryTarget, TargetStatus
from orgsettings.audit import audit_record
from orgsettings.models import AuditSource, Organization

from .causes import Cause
from .failures import PullFailure
from .models import WorkloadRestart
from .pods import WorkloadRef, WorkloadState, pull_waits
from .restarts import AUTOMATIC_CAUSES, Restart, RestartPlan, Skip, change_key, plan_restarts
from .services import restarts_done, workload_restart_record

if TYPE_CHECKING:
    from delivery.kube import Cluster

logger = logging.getLogger(__name__)

RESTARTED = "pullhealth.restarted"
POD_DELETED = "pullhealth.pod_deleted"
NOT_RESTARTED = "pullhealth.not_restarted"
EVENT_KINDS = {
    RESTARTED: "Workload restarted",
    POD_DELETED: "Failing pod deleted",
    NOT_RESTARTED: "Workload not restarted",
}
FIELD_LABELS = {"workload": "Workload", "reason": "Why", "registry": "Registry"}


@dataclass
class RestartOutcome:
    restarted: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        parts = [f"{len(self.restarted)} workload(s) restarted"]
        parts += [f"{name}: {why}" for name, why in self.skipped]
        parts += self.errors
        return "; ".join(parts)


def workload_label(workload: WorkloadRef) -> str:
    return f"{workload.kind} {workload.namespace}/{workload.name}"


def _read_workloads(
    cluster: Cluster, failures: Sequence[PullFailure]
) -> dict[tuple[str, str, str], WorkloadState]:
    """The owning Deployments, StatefulSets and DaemonSets as they are now (one GET each):
    paused or not, and their resourceVersion for the patch."""
    states = {}
    for key in sorted({f.workload.key for f in failures if f.workload.restartable}):
        state = cluster.read_workload(*key)
        if state is not None:
            states[key] = state
    return states


def restart_manually(
    cluster: Cluster,
    target: DeliveryTarget,
    failures: Sequence[PullFailure],
    *,
    registry_id: int | None,
    actor,
    source: str,
    requested_at: datetime,
    outcome: RestartOutcome,
) -> None:
    """What a person asked for: the workloads failing from the registry (None: any), except
    those a restart cannot help. A workload whose template was restarted at or after
    `requested_at` already answered this request (a rerun of the task restarts nothing)."""
    states = _read_workloads(cluster, failures)
    plan = plan_restarts(
        failures, namespaces={target.namespace}, workloads=states, registry_id=registry_id
    )
    asked = requested_at.replace(microsecond=0)
    fresh = []
    for restart in plan.restart:
        if restart.state is not None and _restarted_since(restart.state, asked):
            outcome.skipped.append((workload_label(restart.workload), Skip.ALREADY))
        else:
            fresh.append(restart)
    plan.restart = fresh
    _carry_out(cluster, target, plan, actor=actor, source=source, outcome=outcome)
    for skipped in plan.skipped:
        outcome.skipped.append((workload_label(skipped.workload), skipped.why))
        _audit(
            target,
            NOT_RESTARTED,
            skipped.workload,
            actor=actor,
            source=source,
            reason=skipped.why,
            failures=skipped.failures,
        )


def _restarted_since(state: WorkloadState, moment: datetime) -> bool:
    try:
        restarted = datetime.fromisoformat(state.restarted_at)
    except ValueError:
        return False  # none, or not a time kubectl wrote
    return restarted.tzinfo is not None and restarted >= moment


def restart_automatically(
    cluster: Cluster,
    target: DeliveryTarget,
    failures: Sequence[PullFailure],
    *,
    outcome: RestartOutcome,
) -> None:
    """The automatic mode on one target: for each registry whose current version the
    delivered Secret holds (`target` as stored after the delivery), restart the workloads
    failing from it for a cause that version can fix, each once per change.

    Only workloads with pods older than the Secret's content (`target.synced_at`, to the
    second as pods are stamped): pods created since got the new credentials already, and
    restarting them would fail the same way.
    """
    if target.status != TargetStatus.SYNCED or target.synced_at is None:
        return
    delivered_at = target.synced_at.replace(microsecond=0)
    by_registry: dict[int, list[PullFailure]] = {}
    for failure in failures:
        if (
            failure.registry is not None
            and failure.cause in AUTOMATIC_CAUSES
            and failure.created_at is not None
            and failure.created_at < delivered_at
        ):
            by_registry.setdefault(failure.registry.pk, []).append(failure)
    if not by_registry:
        return
    done = restarts_done(target)
    states = _read_workloads(cluster, [f for fs in by_registry.values() for f in fs])
    touched: set[tuple[str, str, str]] = set()
    for registry_id, chosen in sorted(by_registry.items()):
        version = chosen[0].registry.version
        change = change_key(registry_id, version)
        plan = plan_restarts(
            failures,
            namespaces={target.namespace},
            workloads=states,
            registry_id=registry_id,
            automatic=True,
            change=change,
            done=done,
            delivered=target.holds(registry_id, version),
        )
        # A workload failing from two registries is restarted once, for the first.
        plan.restart = [r for r in plan.restart if r.workload.key not in touched]
        touched |= {r.workload.key for r in plan.restart}
        _carry_out(
            cluster,
            target,
            plan,
            actor=None,
            source=AuditSource.SYNC,
            outcome=outcome,
            change=change,
        )


def _carry_out(
    cluster: Cluster,
    target: DeliveryTarget,
    plan: RestartPlan,
    *,
    actor,
    source: str,
    outcome: RestartOutcome,
    change: str = "",
) -> None:
    for restart in plan.restart:
        label = workload_label(restart.workload)
        record = workload_restart_record(
            target, restart=restart, actor=actor, automatic=bool(change), change=change
        )
        if record is None:
            continue  # another worker made this restart for this change
        try:
            made = _call(cluster, restart)
        except ClusterError as error:
            WorkloadRestart.objects.filter(pk=record.pk).delete()
            logger.warning("Restarting %s on %s failed: %s", label, cluster.name, error.message)
            outcome.errors.append(f"{label}: {error.message}")
            continue
        if not made:
            WorkloadRestart.objects.filter(pk=record.pk).delete()
            outcome.skipped.append((label, Skip.GONE))
            continue
        _audit(
            target,
            POD_DELETED if restart.deletes_pod else RESTARTED,
            restart.workload,
            actor=actor,
            source=source,
            reason=_reason(restart, automatic=bool(change)),
            failures=restart.failures,
        )
        outcome.restarted.append(label)


def _call(cluster: Cluster, restart: Restart) -> bool:
    """Make the restart; False when the workload is gone. A workload changed since it was read
    is read again once (a conflict says nothing about whether to restart it)."""
    workload = restart.workload
    if restart.deletes_pod:
        # Only the pod that was read, and only while it still cannot pull.
        pod = cluster.read_pod(workload.namespace, workload.name)
        if pod is None or pod.uid != workload.pod_uid or not pull_waits(pod):
            return False
        return cluster.delete_pod(workload.namespace, workload.name, workload.pod_uid)
    try:
        cluster.restart_workload(restart.state)
    except ClusterError as error:
        if error.kind != "conflict":
            raise
        state = cluster.read_workload(*workload.key)
        if state is None:
            return False
        if state.paused:
            raise ClusterError("paused", Skip.PAUSED, retriable=False) from None
        cluster.restart_workload(state)
    return True


def _reason(restart: Restart, *, automatic: bool) -> str:
    causes = sorted({Cause(f.cause).label for f in restart.failures})
    why = "cannot pull: " + ", ".join(causes)
    if automatic:
        why += "; restarted automatically after the new credentials were delivered"
    return why


def _audit(
    target: DeliveryTarget,
    action: str,
    workload: WorkloadRef,
    *,
    actor,
    source: str,
    reason: str,
    failures: Collection[PullFailure],
) -> None:
    registries = sorted({f.registry.address for f in failures if f.registry is not None})
    changes = {
        "workload": {"old": None, "new": workload_label(workload)},
        "cluster": {"old": None, "new": target.cluster.name},
        "reason": {"old": None, "new": reason},
    }
    if registries:
        changes["registry"] = {"old": None, "new": ", ".join(registries)}
    with transaction.atomic():
        audit_record(
            target.organization,
            actor=actor,
            action=action,
            target_type="workload",
            target_id=f"{target.cluster.name}/{workload.namespace}/{workload.name}"[:64],
            target_label=f"{workload.kind} {workload.name}"[:255],
            changes=changes,
            source=source or None,
        )


def restart_organization(
    organization_id: int,
    *,
    registry_id: int | None,
    actor_id: int | None,
    source: str,
    requested_at: datetime | None = None,
) -> RestartOutcome:
    """The task's work: on each cluster the organization is placed on, read its pods again
    (the stored state may be minutes old), store what was read, and restart."""
    from django.contrib.auth import get_user_model

    from delivery import kube

    from .refresh import pull_health_refresh

    outcome = RestartOutcome()
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return outcome
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    requested_at = requested_at or timezone.now()
    targets = organization.delivery_targets.select_related("cluster", "organization").exclude(
        status=TargetStatus.REMOVING
    )
    for target in targets:
        try:
            cluster = kube.connect(target.cluster)
        except ClusterError as error:
            outcome.errors.append(f"{target.cluster.name}: {error.message}")
            continue
        report = pull_health_refresh(cluster, [target], namespaced=True)
        if target.pk not in report.found:
            outcome.errors.append(f"{target.cluster.name}: {report.error.message}")
            continue
        restart_manually(
            cluster,
            target,
            report.found[target.pk],
            registry_id=registry_id,
            actor=actor,
            source=source,
            requested_at=requested_at,
            outcome=outcome,
        )
    return outcome
