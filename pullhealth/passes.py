"""Where pull health runs: after the reconciler's pass over a cluster, and after the worker
delivered an organization to a target. Each reads the pods (refresh.py), stores what it found,
and then makes the automatic restarts of the organizations that chose them (restart.py).

Neither raises a cluster error: a cluster that does not let us read pods is stored as "not
available" on its targets, and delivery, which ran first, is unaffected.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.conf import settings

from delivery.errors import ClusterError
from delivery.models import DeliveryTarget, TargetStatus

from .models import PullHealthSettings
from .refresh import RefreshReport, pull_health_refresh
from .restart import RestartOutcome, restart_automatically

if TYPE_CHECKING:
    from delivery.kube import Cluster

logger = logging.getLogger(__name__)


def pull_health_cluster_pass(cluster: Cluster, targets: Sequence[DeliveryTarget]) -> RefreshReport:
    """The reconciler's: every target of the cluster, in the RBAC scope's LIST calls (one
    cluster-wide LIST of the pods not yet Succeeded or Failed and a ReplicaSets LIST, or those
    two per namespace in the namespaced scope; refresh.py says which pods and why)."""
    targets = [t for t in targets if t.status != TargetStatus.REMOVING]
    report = pull_health_refresh(
        cluster, targets, namespaced=settings.REGISTRY_RBAC_SCOPE == "namespaced"
    )
    _restart_automatically(cluster, targets, report)
    return report


def pull_health_target_pass(cluster: Cluster, target: DeliveryTarget) -> RefreshReport:
    """The worker's, right after it delivered to `target`: the pods of its namespace only."""
    report = pull_health_refresh(cluster, [target], namespaced=True)
    _restart_automatically(cluster, [target], report)
    return report


def _restart_automatically(
    cluster: Cluster, targets: Sequence[DeliveryTarget], report: RefreshReport
) -> RestartOutcome:
    outcome = RestartOutcome()
    failing = [t for t in targets if any(f.registry for f in report.found.get(t.pk, []))]
    if not failing:
        return outcome
    chosen = set(
        PullHealthSettings.objects.filter(
            organization_id__in={t.organization_id for t in failing}, auto_restart=True
        ).values_list("organization_id", flat=True)
    )
    failing = [t for t in failing if t.organization_id in chosen]
    if not failing:
        return outcome
    # As stored after the delivery: which registry versions the cluster's Secret now holds.
    stored = DeliveryTarget.objects.select_related("organization", "cluster").in_bulk(
        [t.pk for t in failing]
    )
    for target in failing:
        current = stored.get(target.pk)
        if current is None:
            continue
        try:
            restart_automatically(cluster, current, report.found[target.pk], outcome=outcome)
        except ClusterError as error:
            logger.warning(
                "Automatic restarts on %s stopped: %s", current.cluster.name, error.message
            )
            outcome.errors.append(error.message)
    return outcome
