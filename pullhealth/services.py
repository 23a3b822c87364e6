"""Writes of the stored pull health: what a read of a target's pods found, restarts asked for
and made.

Called by the worker and the reconciler after they read the cluster, never inside a cluster
call: each write is one transaction. `request_restart` is the one the web views call: it only
queues the restart for a worker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import IntegrityError, transaction

from delivery.models import DeliveryTarget
from orgsettings.models import Organization
from registries.models import ContainerRegistry

from . import tasks
from .causes import Cause
from .failures import PullFailure as ReadFailure
from .models import PullFailure, PullHealth, WorkloadRestart
from .restarts import Restart

_Key = tuple[str, str, str, str, str]


def _key(row: PullFailure) -> _Key:
    return (row.workload_kind, row.namespace, row.workload_name, row.container, row.image)


@transaction.atomic
def request_restart(
    organization: Organization,
    *,
    registry: ContainerRegistry | None = None,
    actor,
    source: str,
) -> None:
    """Restart the organization's workloads that fail to pull from `registry` (None: from any
    of its registries), in its namespaces, on every cluster it is placed on.

    In the caller's transaction: a worker makes the restart once this commits (restarts.py
    decides what it touches), and records each one in Activity as done by `actor` from
    `source` (an AuditSource). The same request already waiting is not queued twice.
    """
    if registry is not None and registry.organization_id != organization.pk:
        raise ValueError("The registry belongs to another organization.")
    tasks.enqueue_restart(
        organization.pk,
        registry_id=registry.pk if registry is not None else None,
        actor_id=actor.pk if actor is not None else None,
        source=source,
    )


def previous_causes(target: DeliveryTarget) -> dict[_Key, Cause]:
    """The causes stored for a target, by failure key: a back-off message that names no cause
    keeps the one read before (failures.read_failures)."""
    rows = PullFailure.objects.filter(health__target=target)
    return {_key(row): Cause(row.cause) for row in rows}


def _values(failure: ReadFailure, read_at: datetime) -> dict:
    """The stored fields of a failure that a later read may change."""
    return {
        "registry_id": failure.registry.pk if failure.registry is not None else None,
        "controller_owned": failure.workload.controller_owned,
        "init_container": failure.init,
        "cause": failure.cause,
        "message": failure.message,
        "references_secret": failure.references_secret,
        "pods": len(failure.pods),
        "seen_at": read_at,
    }


def _new_row(health: PullHealth, failure: ReadFailure, read_at: datetime) -> PullFailure:
    workload = failure.workload
    return PullFailure(
        health=health,
        namespace=workload.namespace,
        workload_kind=workload.kind,
        workload_name=workload.name,
        container=failure.container,
        image=failure.image,
        since=read_at,
        **_values(failure, read_at),
    )


def pull_health_record(
    target: DeliveryTarget, *, failures: Iterable[ReadFailure], read_at: datetime
) -> PullHealth:
    """Store what a read found: failures seen before keep their `since`, the others start
    now, and those no longer seen are gone. `seen_at` is the read that last changed a row;
    PullHealth.read_at the last read."""
    with transaction.atomic():
        health, _ = PullHealth.objects.select_for_update().get_or_create(target=target)
        known = {_key(row): row for row in health.failures.all()}
        seen, new = set(), []
        for failure in failures:
            seen.add(failure.key)
            row = known.get(failure.key)
            if row is None:
                new.append(_new_row(health, failure, read_at))
                continue
            for name, value in _values(failure, read_at).items():
                setattr(row, name, value)
            row.save()
        PullFailure.objects.bulk_create(new)
        gone = [row.pk for key, row in known.items() if key not in seen]
        PullFailure.objects.filter(pk__in=gone).delete()
        health.read_at, health.error_kind, health.error = read_at, "", ""
        health.save()
    return health


def pull_health_create_many(
    found: Sequence[tuple[DeliveryTarget, Sequence[ReadFailure]]], *, read_at: datetime
) -> None:
    """The first read of targets that have no stored pull health yet, in three queries."""
    if not found:
        return
    with transaction.atomic():
        healths = PullHealth.objects.bulk_create(
            [PullHealth(target=target, read_at=read_at) for target, _ in found]
        )
        PullFailure.objects.bulk_create(
            _new_row(health, failure, read_at)
            for health, (_, failures) in zip(healths, found, strict=True)
            for failure in failures
        )


def pull_health_unavailable(
    target: DeliveryTarget, *, error_kind: str, error: str, read_at: datetime
) -> PullHealth:
    """Note that the pods could not be read (ClusterError kind and message). What was read
    before stays, shown with its age; "forbidden" means RBAC does not grant the reads."""
    pull_health_unavailable_many([target], error_kind=error_kind, error=error, read_at=read_at)
    return PullHealth.objects.get(target=target)


def pull_health_unavailable_many(
    targets: Sequence[DeliveryTarget], *, error_kind: str, error: str, read_at: datetime
) -> None:
    """pull_health_unavailable for all the targets of a cluster, in a fixed number of queries."""
    error = error[:300]
    with transaction.atomic():
        PullHealth.objects.bulk_create(
            [PullHealth(target=target, read_at=read_at) for target in targets],
            ignore_conflicts=True,
        )
        PullHealth.objects.filter(target__in=targets).update(error_kind=error_kind, error=error)


def workload_restart_record(
    target: DeliveryTarget,
    *,
    restart: Restart,
    actor=None,
    automatic: bool = False,
    change: str = "",
) -> WorkloadRestart | None:
    """Record one restart before it is made. For the automatic mode (a `change`), None means
    this workload was already restarted for that change, by this pass or another worker: do
    not restart it again."""
    failure = restart.failures[0]
    workload = restart.workload
    try:
        with transaction.atomic():
            return WorkloadRestart.objects.create(
                target=target,
                registry_id=failure.registry.pk if failure.registry is not None else None,
                namespace=workload.namespace,
                workload_kind=workload.kind,
                workload_name=workload.name,
                action=(
                    WorkloadRestart.Action.DELETE_POD
                    if restart.deletes_pod
                    else WorkloadRestart.Action.ROLLOUT
                ),
                cause=failure.cause,
                change=change,
                automatic=automatic,
                actor=actor,
            )
    except IntegrityError:
        if not change:
            raise
        return None


def restarts_done(target: DeliveryTarget) -> set[tuple[str, str, str, str]]:
    """(kind, namespace, name, change) of the automatic restarts already made on a target."""
    rows = WorkloadRestart.objects.filter(target=target).exclude(change="")
    return set(rows.values_list("workload_kind", "namespace", "workload_name", "change"))
