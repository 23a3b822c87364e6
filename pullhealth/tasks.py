"""The pull-health queue: "restart what cannot pull" as a django-tasks task in the database.

The web views only enqueue (in the transaction of the request, see services.request_restart);
a worker runs the restart, since only workers talk to clusters. This module does not import the
cluster gateway: web processes import it.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from delivery.tasks import DELIVERY_QUEUE


@task(queue_name=DELIVERY_QUEUE)
def restart_workloads(
    organization_id: int,
    registry_id: int | None = None,
    actor_id: int | None = None,
    source: str = "",
    requested_at: str = "",
) -> str:
    """Restart the organization's workloads failing to pull from the registry (None: from any
    of its registries), on every cluster it is placed on."""
    from .restart import restart_organization

    return restart_organization(
        organization_id,
        registry_id=registry_id,
        actor_id=actor_id,
        source=source,
        requested_at=datetime.datetime.fromisoformat(requested_at) if requested_at else None,
    ).summary


def enqueue_restart(
    organization_id: int, *, registry_id: int | None, actor_id: int | None, source: str
) -> None:
    """Queue a restart in the current transaction. The same request already waiting is that
    one (a double click restarts once)."""
    kwargs = {
        "organization_id": organization_id,
        "registry_id": registry_id,
        "actor_id": actor_id,
        "source": source,
    }
    with transaction.atomic():
        waiting = DBTaskResult.objects.filter(
            status="READY", task_path=restart_workloads.module_path
        ).select_for_update()
        for row in waiting:
            queued = dict(row.args_kwargs.get("kwargs") or {})
            queued.pop("requested_at", None)
            if queued == kwargs:
                return
        restart_workloads.enqueue(**kwargs, requested_at=timezone.now().isoformat())
