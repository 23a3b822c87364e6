"""The task's work: deliver one organization to each of its targets, now.

Runs in a worker, outside any transaction while it talks to a cluster. Targets being removed
(unplaced) lose our Secret and references there, then the row; a deleted organization's
placements are cleaned up the same way from the PendingRemoval records its deletion wrote.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from orgsettings.models import Organization
from pullhealth.passes import pull_health_target_pass
from registries.models import ContainerRegistry

from . import converge, kube, outcomes
from .dockerconfig import secret_data
from .kube import ClusterError
from .models import Cluster, DeliveryTarget, PendingRemoval, TargetStatus
from .tasks import retry_delay

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


def _remove_from(cluster_row: Cluster, slug: str, namespaces: set[str], cluster=None) -> None:
    """Remove the organization's Secrets from the cluster: all of them found by label, or in
    the namespaced RBAC scope those in `namespaces`; those of a current target stay."""
    cluster = cluster or kube.connect(cluster_row)
    snapshot = converge.organization_snapshot(cluster, slug, namespaces)
    wanted = set(
        DeliveryTarget.objects.filter(cluster=cluster_row, organization__slug=slug)
        .exclude(status=TargetStatus.REMOVING)
        .values_list("organization__slug", "namespace")
    )
    converge.remove_strays(cluster, snapshot, wanted, slug=slug)


def remove_deleted(slug: str, placements: list[tuple[int, str]]) -> Outcome:
    """After an organization was deleted (or moved namespace): remove its Secrets and our
    references where its PendingRemoval records say, and drop each record the cluster
    confirmed."""
    outcome = Outcome()
    for cluster_id, namespace in placements:
        removals = PendingRemoval.objects.filter(
            cluster_id=cluster_id, organization_slug=slug, namespace=namespace
        ).select_related("cluster")
        for removal in removals:  # none when a reconcile pass was quicker
            _attempt_removal(removal, outcome)
    return outcome


def remove_due(
    cluster_row: Cluster, cluster, *, slug: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """The reconciler's retry of the removals on this cluster whose time has come: "slug from
    namespace" of each one the cluster confirmed, and the message of each that failed."""
    removals = PendingRemoval.objects.filter(cluster=cluster_row, retry_at__lte=timezone.now())
    if slug is not None:
        removals = removals.filter(organization_slug=slug)
    confirmed, failed = [], {}
    for removal in removals.order_by("pk"):
        removal.cluster = cluster_row
        where = f"{removal.organization_slug} from {removal.namespace}"
        outcome = Outcome()
        if _attempt_removal(removal, outcome, cluster=cluster):
            confirmed.append(where)
        else:
            failed[f"{where} on {cluster_row.name}"] = next(iter(outcome.errors.values()))
    return confirmed, failed


def _attempt_removal(removal: PendingRemoval, outcome: Outcome, cluster=None) -> bool:
    try:
        _remove_from(
            removal.cluster, removal.organization_slug, {removal.namespace}, cluster=cluster
        )
    except ClusterError as error:
        logger.warning(
            "Removing %s from %s/%s failed: %s",
            removal.organization_slug,
            removal.cluster.name,
            removal.namespace,
            error.message,
        )
        PendingRemoval.objects.filter(pk=removal.pk).update(
            attempts=F("attempts") + 1,
            retry_at=timezone.now() + timedelta(seconds=retry_delay(removal.attempts)),
            error=error.message[:300],
        )
        outcome.errors[f"{removal.cluster.name}/{removal.namespace}"] = error.message
        outcome.retriable |= error.retriable
        return False
    PendingRemoval.objects.filter(pk=removal.pk).delete()
    outcome.delivered += 1
    return True
