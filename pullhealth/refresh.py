"""One pull-health pass over one cluster, for every delivery target on it.

The worker and the reconciler call `pull_health_refresh` (through passes.py) with the cluster's
gateway and its targets. In the cluster RBAC scope the reads do not grow with the number of
organizations: one paged LIST of the cluster's pods that can still wait on a pull
(`status.phase!=Succeeded,status.phase!=Failed`), then the ReplicaSets of the failing pods,
selected by their pod-template-hash in one LIST per hundred. Running pods are read too: a pod is
Pending only until each of its containers has started once, so a container that restarts and
cannot pull again (imagePullPolicy Always after a password change, or a new image set on the
pod) waits in ImagePullBackOff while its pod stays Running. A pod that has Succeeded or Failed
runs no container any more and pulls nothing, so the API server leaves it out of the pages.
A ClusterRole grants reads in every namespace anyway, so one cluster-wide LIST reads nothing a
LIST per namespace would not.
In the namespaced scope (`namespaced=True`) the platform may read only the namespaces that were
provisioned for it, so the same two LISTs are made per target namespace, as the reconciler
reads Secrets there; a namespace that forbids them is "not permitted" on its own targets only.

The writes do not grow either when nothing changed: the stored state is read in two queries,
each target's failures are compared with it, and only changed targets are written; the others
get their `read_at` in one UPDATE. No credential is decrypted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

from delivery.errors import ClusterError
from delivery.models import DeliveryTarget
from registries.models import ContainerRegistry

from .causes import Cause
from .failures import PullFailure as ReadFailure
from .failures import read_failures
from .models import PullFailure, PullHealth
from .pods import REPLICA_SET, PodState, pull_waits
from .services import (
    pull_health_create_many,
    pull_health_record,
    pull_health_unavailable_many,
)

if TYPE_CHECKING:
    from delivery.kube import Cluster

# Every pod but the finished ones: Pending, Running and Unknown pods can have a waiting container.
NOT_FINISHED = "status.phase!=Succeeded,status.phase!=Failed"
_UPDATE_CHUNK = 5000


@dataclass
class RefreshReport:
    targets: int = 0
    changed: int = 0
    failures: int = 0
    error: ClusterError | None = None
    # What was read, by target pk, for the automatic restarts; absent when it could not be.
    found: dict[int, list[ReadFailure]] = field(default_factory=dict)


def pull_health_refresh(
    calls: Cluster,
    targets: Sequence[DeliveryTarget],
    *,
    namespaced: bool = False,
    now: datetime | None = None,
) -> RefreshReport:
    """Read the pull failures of `targets` (all on the cluster `calls` talks to) and store
    them. A cluster error is stored on the targets it concerns ("forbidden": not permitted)
    and returned, never raised: delivery goes on without pull health."""
    now = now or timezone.now()
    report = RefreshReport(targets=len(targets))
    if not targets:
        return report
    namespaces = {target.namespace for target in targets}
    pods, replicasets, errors = _read(calls, namespaces, namespaced=namespaced)
    for error, failed in _group_errors(errors).items():
        pull_health_unavailable_many(
            [t for t in targets if t.namespace in failed],
            error_kind=error.kind,
            error=error.message,
            read_at=now,
        )
        report.error = error
    targets = [t for t in targets if t.namespace not in errors]
    if not targets:
        return report

    by_namespace = defaultdict(list)
    for pod in pods:
        by_namespace[pod.namespace].append(pod)
    registries = defaultdict(list)
    organization_ids = {target.organization_id for target in targets}
    # Only what matching needs: the encrypted credentials are neither loaded nor decrypted.
    for registry in ContainerRegistry.objects.filter(organization_id__in=organization_ids).only(
        "id", "organization_id", "address", "version"
    ):
        registries[registry.organization_id].append(registry)
    stored = {health.target_id: health for health in PullHealth.objects.filter(target__in=targets)}
    stored_rows = defaultdict(list)
    for row in PullFailure.objects.filter(health__in=list(stored.values())):
        stored_rows[row.health_id].append(row)

    unchanged, first_reads = [], []
    for target in targets:
        health = stored.get(target.pk)
        rows = stored_rows.get(health.pk, []) if health is not None else []
        previous = {_row_key(row): Cause(row.cause) for row in rows}
        failures = read_failures(
            by_namespace.get(target.namespace, []),
            replicasets,
            registries.get(target.organization_id, []),
            secret_name=settings.REGISTRY_SECRET_NAME,
            previous_causes=previous,
        )
        report.failures += len(failures)
        report.found[target.pk] = failures
        if health is None:
            first_reads.append((target, failures))
            continue
        if _same(rows, failures):
            unchanged.append(health.pk)
            continue
        pull_health_record(target, failures=failures, read_at=now)
        report.changed += 1
    pull_health_create_many(first_reads, read_at=now)
    report.changed += len(first_reads)
    for start in range(0, len(unchanged), _UPDATE_CHUNK):
        PullHealth.objects.filter(pk__in=unchanged[start : start + _UPDATE_CHUNK]).update(
            read_at=now, error_kind="", error=""
        )
    return report


def _read(
    calls: Cluster, namespaces: set[str], *, namespaced: bool
) -> tuple[list[PodState], dict, dict[str, ClusterError]]:
    """The failing pods of `namespaces` and the ReplicaSets that own them, and the error of
    each namespace that could not be read."""
    pods, replicasets, errors = [], {}, {}
    for namespace in sorted(namespaces) if namespaced else [None]:
        try:
            found = [
                pod
                for pod in calls.list_pods(namespace, field_selector=NOT_FINISHED)
                if pod.namespace in namespaces and pull_waits(pod)
            ]
            hashes = {
                pod.template_hash
                for pod in found
                if pod.template_hash and pod.controller and pod.controller.kind == REPLICA_SET
            }
            if hashes:
                replicasets |= calls.list_replicasets(namespace, template_hashes=hashes)
            # A ReplicaSet the hash did not find (made by hand, its label edited) is read by
            # name: one GET each, none in the usual cluster.
            for key in sorted(
                {
                    (pod.namespace, pod.controller.name)
                    for pod in found
                    if pod.controller and pod.controller.kind == REPLICA_SET
                }
                - replicasets.keys()
            ):
                replicaset = calls.read_replicaset(*key)
                if replicaset is not None:
                    replicasets[key] = replicaset
        except ClusterError as error:
            for failed in [namespace] if namespace else namespaces:
                errors[failed] = error
            continue
        pods += found
    return pods, replicasets, errors


def _group_errors(errors: dict[str, ClusterError]) -> dict[ClusterError, set[str]]:
    grouped: dict[ClusterError, set[str]] = defaultdict(set)
    for namespace, error in errors.items():
        grouped[error].add(namespace)
    return grouped


def _row_key(row: PullFailure) -> tuple[str, str, str, str, str]:
    return (row.workload_kind, row.namespace, row.workload_name, row.container, row.image)


def _same(rows: list[PullFailure], failures: list[ReadFailure]) -> bool:
    def stored(row: PullFailure) -> tuple:
        return (
            _row_key(row),
            row.cause,
            row.registry_id,
            row.message,
            row.pods,
            row.references_secret,
            row.controller_owned,
            row.init_container,
        )

    def read(failure: ReadFailure) -> tuple:
        return (
            failure.key,
            failure.cause.value,
            failure.registry.pk if failure.registry is not None else None,
            failure.message,
            len(failure.pods),
            failure.references_secret,
            failure.workload.controller_owned,
            failure.init,
        )

    return sorted(map(stored, rows)) == sorted(map(read, failures))
