"""Writes to delivery: asking for a delivery, clusters, and placing organizations on them.

Each runs in one transaction with what it changes and its audit row; the delivery itself
happens in a worker, from the task queued in that same transaction.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from orgsettings.audit import audit_record
from orgsettings.models import Organization

from . import tasks
from .models import Cluster, DeliveryTarget, TargetStatus

ENVIRONMENT_CLUSTER_NAME = "default"
PLACED = "delivery.placed"
UNPLACED = "delivery.unplaced"
_IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


@transaction.atomic
def request_delivery(organization: Organization, *, reason: str) -> None:
    """Deliver the organization again: its targets turn Pending and one delivery is queued.

    In the caller's transaction: a rolled-back change queues nothing, a committed one is never
    lost. Many requests while a delivery is waiting make that one delivery. `reason` is for
    the log (a save, a placement, "Sync now").
    """
    if not settings.REGISTRY_SYNC_ENABLED:
        return
    targets = DeliveryTarget.objects.filter(organization=organization)
    # Updating the rows first also serializes concurrent requests for the organization.
    targets.exclude(status=TargetStatus.REMOVING).update(
        status=TargetStatus.PENDING, changed_at=timezone.now()
    )
    if targets.exists():
        tasks.enqueue_delivery(organization.pk)


def environment_offers_cluster() -> bool:
    """KUBECONFIG is set, or this runs in a pod with a ServiceAccount token."""
    if settings.KUBECONFIG:
        return True
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and _IN_CLUSTER_TOKEN.is_file()


def default_cluster() -> Cluster | None:
    """The cluster new organizations are placed on.

    With no cluster defined at all, the environment's (KUBECONFIG, or in-cluster in a pod)
    is the default: it is recorded as the cluster "default" the first time it is needed.
    """
    cluster = Cluster.objects.filter(is_default=True).first()
    if cluster is not None or not settings.REGISTRY_SYNC_ENABLED:
        return cluster
    if Cluster.objects.exists() or not environment_offers_cluster():
        return None
    cluster, _ = Cluster.objects.get_or_create(
        name=ENVIRONMENT_CLUSTER_NAME,
        defaults={"connection": Cluster.Connection.ENVIRONMENT, "is_default": True},
    )
    return cluster


@transaction.atomic
def environment_cluster_adopt() -> Cluster | None:
    """With no cluster defined and the environment offering one: record it as the default
    cluster and place every organization on it (the shape of an installation that predates
    clusters as data). Returns it, or None when there is nothing to adopt."""
    if Cluster.objects.exists():
        return None
    cluster = default_cluster()
    if cluster is None:
        return None
    for organization in Organization.objects.all():
        organization_place(organization, cluster=cluster)
    return cluster


@transaction.atomic
def cluster_add(
    *, name: str, connection: str, kubeconfig: str = "", is_default: bool = False, actor=None
) -> Cluster:
    cluster = Cluster(name=name, connection=connection, kubeconfig=kubeconfig)
    cluster.full_clean()
    _check_kubeconfig(cluster)
    if is_default:
        Cluster.objects.filter(is_default=True).update(is_default=False)
    cluster.is_default = is_default
    cluster.save()
    return cluster


@transaction.atomic
def cluster_update(cluster: Cluster, *, kubeconfig: str | None = None, **fields) -> Cluster:
    """Change a cluster; `kubeconfig` None keeps the stored one. A new connection makes every
    process build its API client again (config_version) and delivers its targets again."""
    stored = Cluster.objects.select_for_update().get(pk=cluster.pk)
    connection_changed = (kubeconfig is not None and kubeconfig != stored.kubeconfig) or (
        fields.get("connection", stored.connection) != stored.connection
    )
    for name, value in fields.items():
        setattr(stored, name, value)
    if kubeconfig is not None:
        stored.kubeconfig = kubeconfig
    if stored.connection != Cluster.Connection.KUBECONFIG:
        stored.kubeconfig = ""
    stored.full_clean()
    _check_kubeconfig(stored)
    if stored.is_default:
        Cluster.objects.filter(is_default=True).exclude(pk=stored.pk).update(is_default=False)
    if connection_changed:
        stored.config_version = F("config_version") + 1
    stored.save()
    stored.refresh_from_db()
    if connection_changed:
        for organization_id in stored.targets.values_list("organization_id", flat=True):
            tasks.enqueue_delivery(organization_id)
        stored.targets.exclude(status=TargetStatus.REMOVING).update(
            status=TargetStatus.PENDING, changed_at=timezone.now()
        )
    return stored


@transaction.atomic
def organization_place(
    organization: Organization, *, cluster: Cluster, namespace: str | None = None, actor=None
) -> DeliveryTarget:
    """Deliver the organization to `cluster`, in `namespace` (default: the organization's)."""
    namespace = namespace or organization.namespace
    target = DeliveryTarget.objects.filter(organization=organization, cluster=cluster).first()
    if target is None:
        target = DeliveryTarget(organization=organization, cluster=cluster, namespace=namespace)
        target.full_clean()
        target.save()
        _audit(organization, actor, PLACED, cluster, namespace)
    elif target.namespace != namespace or target.status == TargetStatus.REMOVING:
        target.namespace = namespace
        target.status = TargetStatus.PENDING
        target.full_clean()
        target.save(update_fields=["namespace", "status"])
        _audit(organization, actor, PLACED, cluster, namespace)
    request_delivery(organization, reason="placed")
    return target


@transaction.atomic
def organization_unplace(organization: Organization, *, cluster: Cluster, actor=None) -> bool:
    """Stop delivering to `cluster`: a worker removes our Secret and references there (and
    nothing else), then the target. False when the organization was not placed there."""
    updated = (
        DeliveryTarget.objects.filter(organization=organization, cluster=cluster)
        .exclude(status=TargetStatus.REMOVING)
        .update(status=TargetStatus.REMOVING, changed_at=timezone.now())
    )
    if not updated:
        return DeliveryTarget.objects.filter(organization=organization, cluster=cluster).exists()
    _audit(organization, actor, UNPLACED, cluster, None)
    tasks.enqueue_delivery(organization.pk)
    return True


def _check_kubeconfig(cluster: Cluster) -> None:
    if cluster.connection == Cluster.Connection.KUBECONFIG and not cluster.kubeconfig:
        raise ValidationError({"kubeconfig": "A kubeconfig connection needs the kubeconfig."})


def _audit(organization, actor, action: str, cluster: Cluster, namespace: str | None) -> None:
    audit_record(
        organization,
        actor=actor,
        action=action,
        target_type="delivery",
        target_id=cluster.pk,
        target_label=cluster.name,
        changes={"cluster": {"old": None, "new": cluster.name}}
        | ({"namespace": {"old": None, "new": namespace}} if namespace else {}),
    )
