"""The level-triggered safety net: every target of every organization (or of one), per cluster.

Per cluster it reads the cluster with a fixed number of paged LIST calls (namespaces, our
labelled Secrets, the ServiceAccounts by name), or in the namespaced RBAC scope with a LIST and
a GET per ServiceAccount name in each target's namespace, and the database with a fixed number
of queries.
After delivery, pull health reads the cluster's failing pods with a fixed number of LISTs too
(pullhealth.passes); it never fails the pass.
A target whose Secret has the digest it last delivered, for the registry versions it holds, and
whose references are in place is in sync without decrypting anything. Only the organizations
that differ are decrypted and written, each write one request. Outcomes are stored in bulk.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from pullhealth.passes import pull_health_cluster_pass
from registries.models import ContainerRegistry

from . import converge, kube, outcomes
from .dockerconfig import secret_data
from .errors import ClusterError
from .models import Cluster, DeliveryTarget, TargetStatus

logger = logging.getLogger(__name__)
_DECRYPT_BATCH = 500


@dataclass
class PassReport:
    targets: int = 0
    writes: int = 0
    in_sync: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # "slug on cluster": message
    removed: list[str] = field(default_factory=list)
    cluster_errors: dict[str, ClusterError] = field(default_factory=dict)


def reconcile(organization_slug: str | None = None) -> PassReport:
    report = PassReport()
    # The cluster rows (with their encrypted kubeconfigs) are read once each, below.
    targets = DeliveryTarget.objects.select_related("organization").order_by("pk")
    if organization_slug is not None:
        targets = targets.filter(organization__slug=organization_slug)
    by_cluster: dict[int, list[DeliveryTarget]] = defaultdict(list)
    for target in targets.iterator(chunk_size=2000):
        by_cluster[target.cluster_id].append(target)
    # Read after the targets: a save in between bumps changed_at, which keeps that target
    # Pending for its own delivery.
    versions = _registry_versions(organization_slug)
    clusters = (
        Cluster.objects.all()
        if organization_slug is None
        else Cluster.objects.filter(pk__in=by_cluster)
    )
    for cluster_row in clusters:
        for target in by_cluster.get(cluster_row.pk, []):
            target.cluster = cluster_row
        _reconcile_cluster(
            cluster_row,
            by_cluster.get(cluster_row.pk, []),
            versions,
            report,
            only_slug=organization_slug,
        )
    return report


def _registry_versions(slug: str | None) -> dict[int, dict[str, int]]:
    rows = ContainerRegistry.objects.order_by()
    if slug is not None:
        rows = rows.filter(organization__slug=slug)
    versions: dict[int, dict[str, int]] = defaultdict(dict)
    for pk, organization_id, version in rows.values_list("pk", "organization_id", "version"):
        versions[organization_id][str(pk)] = version
    return versions


def _reconcile_cluster(
    cluster_row: Cluster,
    targets: list[DeliveryTarget],
    versions: dict[int, dict[str, int]],
    report: PassReport,
    *,
    only_slug: str | None,
) -> None:
    report.targets += len(targets)
    try:
        cluster = kube.connect(cluster_row)
        snapshot = converge.cluster_snapshot(cluster, {t.namespace for t in targets})
    except ClusterError as error:
        report.cluster_errors[cluster_row.name] = error
        results = [
            outcomes.Result(t, error=error) for t in targets if t.status != TargetStatus.REMOVING
        ]
        for target in targets:
            report.errors[f"{target.organization.slug} on {cluster_row.name}"] = error.message
        outcomes.record(results)
        return
    results: list[outcomes.Result] = []
    dirty: list[DeliveryTarget] = []
    wanted = set()
    for target in targets:
        if target.status == TargetStatus.REMOVING:
            continue
        wanted.add((target.organization.slug, target.namespace))
        unreadable = snapshot.unreadable.get(target.namespace)
        if unreadable is not None:
            results.append(outcomes.Result(target, error=unreadable))
            report.errors[f"{target.organization.slug} on {cluster_row.name}"] = unreadable.message
            continue
        current = versions.get(target.organization_id, {})
        if target.delivered_versions == current and converge.in_sync(
            snapshot, target.organization.slug, target.namespace, target.delivered_digest
        ):
            report.in_sync += 1
            if target.status != TargetStatus.SYNCED:
                results.append(
                    outcomes.Result(target, digest=target.delivered_digest, versions=current)
                )
        else:
            dirty.append(target)
    # Removal first: an organization that moved namespace frees the old one before it writes.
    try:
        report.removed = converge.remove_strays(cluster, snapshot, wanted, slug=only_slug)
    except ClusterError as error:
        logger.warning("Removing stray Secrets on %s failed: %s", cluster_row.name, error.message)
    else:
        removing = [t.pk for t in targets if t.status == TargetStatus.REMOVING]
        if removing:
            DeliveryTarget.objects.filter(pk__in=removing, status=TargetStatus.REMOVING).delete()
    for start in range(0, len(dirty), _DECRYPT_BATCH):
        batch = dirty[start : start + _DECRYPT_BATCH]
        registries: dict[int, list[ContainerRegistry]] = defaultdict(list)
        for registry in ContainerRegistry.objects.filter(
            organization_id__in={t.organization_id for t in batch}
        ).order_by("pk"):
            registries[registry.organization_id].append(registry)
        for target in batch:
            rows = registries.get(target.organization_id, [])
            slug = target.organization.slug
            try:
                digest = converge.converge(
                    cluster,
                    snapshot,
                    slug=slug,
                    namespace=target.namespace,
                    data_value=secret_data(rows),
                )
            except ClusterError as error:
                results.append(outcomes.Result(target, error=error))
                report.errors[f"{slug} on {cluster_row.name}"] = error.message
                continue
            results.append(
                outcomes.Result(
                    target, digest=digest, versions={str(r.pk): r.version for r in rows}
                )
            )
    report.writes += snapshot.writes
    outcomes.record(results)
    pull_health_cluster_pass(cluster, targets)
