"""Storing what a delivery did on its targets, and the incidents in the Activity trail.

A target whose organization changed again while it was being delivered (its `changed_at`
moved) keeps its Pending state for the delivery that change queued. Activity gets one event
when a target starts failing and one when it recovers, whatever the retries in between
(`failing_since` marks the streak), so the trail follows incidents, not attempts.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from orgsettings.audit import audit_event
from orgsettings.models import AuditEvent

from .errors import ClusterError
from .models import DeliveryTarget, TargetStatus

DELIVERY_FAILED = "delivery.failed"
DELIVERY_RECOVERED = "delivery.recovered"
EVENT_KINDS = {
    DELIVERY_FAILED: "Delivery failed",
    DELIVERY_RECOVERED: "Delivery recovered",
}
FIELD_LABELS = {"cluster": "Cluster", "error": "Error"}
_BATCH = 500
_FIELDS = [
    "status",
    "synced_at",
    "error",
    "error_kind",
    "failing_since",
    "delivered_digest",
    "delivered_versions",
]


@dataclass
class Result:
    target: DeliveryTarget
    error: ClusterError | None = None
    digest: str = ""
    versions: dict | None = None


def record(results: list[Result]) -> int:
    """Store the results; returns how many targets changed state."""
    now = timezone.now()
    stored = 0
    for start in range(0, len(results), _BATCH):
        batch = [r for r in results[start : start + _BATCH] if _changes(r)]
        if not batch:
            continue
        with transaction.atomic():
            current = dict(
                DeliveryTarget.objects.select_for_update()
                .filter(pk__in=[r.target.pk for r in batch])
                .values_list("pk", "changed_at")
            )
            kept = [r for r in batch if current.get(r.target.pk) == r.target.changed_at]
            events = []
            for result in kept:
                event = _apply(result, now)
                if event is not None:
                    events.append(event)
            if kept:
                DeliveryTarget.objects.bulk_update([r.target for r in kept], _FIELDS)
            if events:
                AuditEvent.objects.bulk_create(events)
            stored += len(kept)
    return stored


def _changes(result: Result) -> bool:
    target = result.target
    if result.error is None:
        return (
            target.status != TargetStatus.SYNCED
            or target.delivered_digest != result.digest
            or target.delivered_versions != result.versions
        )
    return (
        target.status != TargetStatus.ERROR
        or target.error != result.error.message[:300]
        or target.error_kind != result.error.kind
    )


def _apply(result: Result, now) -> AuditEvent | None:
    target, error = result.target, result.error
    event = None
    if error is None:
        if target.failing_since is not None:
            event = _event(
                target, DELIVERY_RECOVERED, {"cluster": {"old": None, "new": target.cluster.name}}
            )
        target.status = TargetStatus.SYNCED
        target.synced_at = now
        target.error = target.error_kind = ""
        target.failing_since = None
        target.delivered_digest = result.digest
        target.delivered_versions = result.versions or {}
    else:
        if target.failing_since is None:
            target.failing_since = now
            # Cluster errors are our own wording (kinds, namespace names), never an API body:
            # they cannot carry a credential.
            event = _event(
                target,
                DELIVERY_FAILED,
                {
                    "cluster": {"old": None, "new": target.cluster.name},
                    "error": {"old": None, "new": error.message[:300]},
                },
            )
        target.status = TargetStatus.ERROR
        target.error = error.message[:300]
        target.error_kind = error.kind
    return event


def _event(target: DeliveryTarget, action: str, changes: dict) -> AuditEvent:
    return audit_event(
        target.organization,
        actor=None,
        action=action,
        target_type="delivery",
        target_id=target.pk,
        target_label=f"{target.cluster.name}/{target.namespace}",
        changes=changes,
    )
