"""The task's work: deliver one organization to each of its targets, now.

Runs in a worker, outside any transaction while it talks to a cluster. Targets being removed
(unplaced) lose our Secret and references there, then the row; a deleted organization's
placements are cleaned up the same way from what its deletion queued.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from orgsettings.models import Organization
from pullhealth.passes import pull_health_target_pass
from registries.models import ContainerRegistry

from . import converge, kube, outcomes
from .dockerconfig import secret_data
from .kube import ClusterError
from .models import Cluster, DeliveryTarget, TargetStatus

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    delivered: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    retriable: bool = False

    @property
    def summary(self) -> str:
        failed = "; ".join(f"{name}: {message}" for name, message in sorted(self.errors.items()))
        return f"{self.delivered} target(s) in sync" + (f"; {failed}" if failed else "")


def deliver(organization_id: int) -> Outcome:
    outcome = Outcome()
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return outcome
    # Targets first: a save after this read bumps changed_at, and keeps the target Pending.
    targets = list(organization.delivery_targets.select_related("cluster", "organization"))
    registries = sorted(
        ContainerRegistry.objects.filter(organization=organization), key=lambda r: r.pk
    )
    try:
        data_value, unreadable = secret_data(registries), None
    except ClusterError as error:
        data_value, unreadable = "", error
    versions = {str(r.pk): r.version for r in registries}
    results, delivered = [], []
    for target in targets:
        if target.status == TargetStatus.REMOVING:
            _remove_target(target, outcome)
            continue
        try:
            if unreadable is not None:
                raise unreadable
            cluster = kube.connect(target.cluster)
            snapshot = converge.organization_snapshot(
                cluster, organization.slug, {target.namespace}
            )
            converge.remove_strays(
                cluster, snapshot, {(organization.slug, target.namespace)}, slug=organization.slug
            )
            digest = converge.converge(
                cluster,
                snapshot,
                slug=organization.slug,
                namespace=target.namespace,
                data_value=data_value,
            )
        except ClusterError as error:
            results.append(outcomes.Result(target, error=error))
            outcome.errors[target.cluster.name] = error.message
            outcome.retriable |= error.retriable
            continue
        results.append(outcomes.Result(target, digest=digest, versions=versions))
        delivered.append((cluster, target))
        outcome.delivered += 1
    outcomes.record(results)
    # Once the cluster holds the new Secret: what still cannot pull, and automatic restarts.
    for cluster, target in delivered:
        pull_health_target_pass(cluster, target)
    return outcome


def _remove_target(target: DeliveryTarget, outcome: Outcome) -> None:
    try:
        _remove_from(target.cluster, target.organization.slug, {target.namespace})
    except ClusterError as error:
        outcomes.record([outcomes.Result(target, error=error)])
        DeliveryTarget.objects.filter(pk=target.pk).update(status=TargetStatus.REMOVING)
        outcome.errors[target.cluster.name] = error.message
        outcome.retriable |= error.retriable
        return
    DeliveryTarget.objects.filter(pk=target.pk, status=TargetStatus.REMOVING).delete()


def _remove_from(cluster_row: Cluster, slug: str, namespaces: set[str]) -> None:
    """Remove the organization's Secrets from the cluster: all of them found by label, or in
    the namespaced RBAC scope those in `namespaces`."""
    cluster = kube.connect(cluster_row)
    snapshot = converge.organization_snapshot(cluster, slug, namespaces)
    converge.remove_strays(cluster, snapshot, set(), slug=slug)


def remove_deleted(slug: str, placements: list[tuple[int, str]]) -> str:
    """After an organization was deleted: remove its Secrets and our references."""
    clusters = Cluster.objects.in_bulk([cluster_id for cluster_id, _ in placements])
    failed = []
    for cluster_id, namespace in placements:
        cluster_row = clusters.get(cluster_id)
        if cluster_row is None:
            continue
        try:
            _remove_from(cluster_row, slug, {namespace})
        except ClusterError as error:
            # The reconciler removes what no organization accounts for.
            logger.warning("Removing %s from %s failed: %s", slug, cluster_row.name, error.message)
            failed.append(cluster_row.name)
    return f"removed from {len(placements) - len(failed)} cluster(s)"
