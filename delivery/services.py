"""Writes to delivery: asking for a delivery, clusters, and placing organizations on them.

Each runs in one transaction with what it changes; the delivery itself happens in a worker,
from the task queued in that same transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from orgsettings.models import Organization

from . import tasks
from .models import DeliveryTarget, TargetStatus


@transaction.atomic
def request_delivery(organization: Organization, *, reason: str) -> None:
    """Deliver the organization again: its targets turn Pending and one delivery is queued.

    In the caller's transaction: a rolled-back change queues nothing, a committed one is never
    lost. Many requests while a delivery is waiting make that one delivery. `reason` is for
    the log (a save, a placement, "Sync now").
    """
    targets = DeliveryTarget.objects.filter(organization=organization)
    # Updating the rows first also serializes concurrent requests for the organization.
    targets.exclude(status=TargetStatus.REMOVING).update(
        status=TargetStatus.PENDING, changed_at=timezone.now()
    )
    if targets.exists():
        tasks.enqueue_delivery(organization.pk)
