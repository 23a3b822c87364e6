"""One pull-health pass over one cluster, for every delivery target on it.

The worker and the reconciler call `pull_health_refresh` with the cluster's calls and its
targets. The reads do not grow with the number of organizations: one paged LIST of the
cluster's pending pods (`status.phase=Pending`: a container that cannot pull has never started,
so its pod has not left Pending; a running pod whose restarted container cannot pull again is
the one case this leaves to the next rollout), then the ReplicaSets of the failing pods, selected
by their pod-template-hash in one LIST per hundred. A ClusterRole grants reads in every
namespace anyway, so one cluster-wide LIST reads nothing a LIST per namespace would not.

The writes do not grow either when nothing changed: the stored state is read in two queries,
each target's failures are compared with it, and only changed targets are written; the others
get their `read_at` in one UPDATE. No credential is decrypted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from delivery.errors import ClusterError
from delivery.models import DeliveryTarget
from registries.models import ContainerRegistry

from .causes import Cause
from .cluster_calls import PullHealthCalls
from .failures import PullFailure as ReadFailure
from .failures import read_failures
from .models import PullFailure, PullHealth
from .pods import REPLICA_SET, pull_waits
from .services import (
    pull_health_create_many,
    pull_health_record,
    pull_health_unavailable_many,
)

PENDING = "status.phase=Pending"
_UPDATE_CHUNK = 5000


@dataclass
class RefreshReport:
    targets: int = 0
    changed: int = 0
    failures: int = 0
    error: ClusterError | None = None


def pull_health_refresh(
    calls: PullHealthCalls,
    targets: Sequence[DeliveryTarget],
    *,
    now: datetime | None = None,
) -> RefreshReport:
    """Read the pull failures of `targets` (all on the cluster `calls` talks to) and store
    them. A cluster error is stored on every target ("forbidden": not permitted) and returned,
    never raised: delivery goes on without pull health."""
    now = now or timezone.now()
    report = RefreshReport(targets=len(targets))
    if not targets:
        return report
    namespaces = {target.namespace for target in targets}
    try:
        pods = [
            pod
            for pod in calls.list_pods(None, field_selector=PENDING)
            if pod.namespace in namespaces and pull_waits(pod)
        ]
        hashes = {
            pod.template_hash
            for pod in pods
            if pod.template_hash and pod.controller and pod.controller.kind == REPLICA_SET
        }
        replicasets = calls.list_replicasets(None, template_hashes=hashes) if hashes else {}
    except ClusterError as error:
        pull_health_unavailable_many(
            targets, error_kind=error.kind, error=error.message, read_at=now
        )
        report.error = error
        return report

    by_namespace = defaultdict(list)
    for pod in pods:
        by_namespace[pod.namespace].append(pod)
    registries = defaultdict(list)
    organization_ids = {target.organization_id for target in targets}
    # Only what matching needs: the encrypted credentials are neither loaded nor decrypted.
    for registry in ContainerRegistry.objects.filter(organization_id__in=organization_ids).only(
        "id", "organization_id", "address"
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
