"""The delivery queue: "deliver organization X" as a django-tasks task in the database backend.

The task row is written in the caller's transaction, so it exists exactly when the change that
asked for it was committed; a worker (`manage.py db_worker`) claims it with SELECT … FOR UPDATE
SKIP LOCKED. Requests for an organization that already has a delivery waiting coalesce into
that one. Retriable trouble enqueues the next attempt with a growing `run_after`, so no worker
ever sleeps on it. This module does not import the cluster gateway: web processes only enqueue.
"""

from __future__ import annotations

import datetime
import logging
import socket

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult, get_date_max

logger = logging.getLogger(__name__)

DELIVERY_QUEUE = "default"


@task(queue_name=DELIVERY_QUEUE)
def deliver_organization(organization_id: int, attempt: int = 0) -> str:
    """Bring every target of the organization to what the database says it must hold."""
    from .deliver import deliver

    outcome = deliver(organization_id)
    if outcome.retriable and attempt + 1 < settings.DELIVERY_RETRY_ATTEMPTS:
        enqueue_delivery(organization_id, attempt=attempt + 1, delay=retry_delay(attempt))
    return outcome.summary


@task(queue_name=DELIVERY_QUEUE)
def remove_organization(slug: str, placements: list[list], attempt: int = 0) -> str:
    """Remove a deleted organization's Secret and our references from each [cluster id,
    namespace] it was placed on (the targets themselves are gone with the organization), as
    their PendingRemoval records say; what failed is tried again later, and by the reconciler."""
    from .deliver import remove_deleted

    outcome = remove_deleted(slug, [(int(c), str(n)) for c, n in placements])
    if outcome.retriable and attempt + 1 < settings.DELIVERY_RETRY_ATTEMPTS:
        remove_organization.using(
            run_after=timezone.now() + datetime.timedelta(seconds=retry_delay(attempt))
        ).enqueue(slug=slug, placements=placements, attempt=attempt + 1)
    failed = "; ".join(f"{name}: {message}" for name, message in sorted(outcome.errors.items()))
    return f"removed from {outcome.delivered} namespace(s)" + (f"; {failed}" if failed else "")


def retry_delay(attempt: int) -> float:
    return min(2.0 ** (attempt + 1), settings.DELIVERY_RETRY_MAX_DELAY)


def _waiting(organization_id: int):
    return DBTaskResult.objects.filter(
        status="READY",
        task_path=deliver_organization.module_path,
        args_kwargs__kwargs__organization_id=organization_id,
    )


def enqueue_delivery(organization_id: int, *, attempt: int = 0, delay: float = 0.0) -> None:
    """Queue a delivery of the organization, in the current transaction.

    When one is already waiting it is the one that runs: brought forward if it was a retry
    waiting for its delay (a fresh change should not wait on an old back-off).
    """
    with transaction.atomic():
        waiting = _waiting(organization_id).select_for_update().first()
        if waiting is not None:
            if not delay and waiting.run_after != get_date_max():
                waiting.run_after = timezone.now()
                waiting.save(update_fields=["run_after"])
            return
        job = deliver_organization
        if delay:
            job = job.using(run_after=timezone.now() + datetime.timedelta(seconds=delay))
        job.enqueue(organization_id=organization_id, attempt=attempt)


def enqueue_removal(slug: str, placements: list[tuple[int, str]]) -> None:
    """Record, in the current transaction, that the organization's Secret must leave each
    (cluster id, namespace), and queue the removal. The records stay until each cluster
    confirmed it, so a cluster that is down meanwhile is cleaned up once it is back."""
    from .models import PendingRemoval

    if not placements:
        return
    PendingRemoval.objects.bulk_create(
        [
            PendingRemoval(cluster_id=cluster_id, organization_slug=slug, namespace=namespace)
            for cluster_id, namespace in placements
        ],
        update_conflicts=True,
        unique_fields=["cluster", "organization_slug", "namespace"],
        update_fields=["retry_at"],
    )
    remove_organization.enqueue(slug=slug, placements=[list(p) for p in placements])


def recover_stale_runs(*, older_than: float | None = None, host: str | None = None) -> int:
    """Put back in the queue the runs that a killed worker left RUNNING.

    A run is taken as lost when it started more than `older_than` seconds ago (a delivery is
    bounded well below DELIVERY_RUN_STALE_AFTER by its API timeouts), or, given `host`, when
    it was claimed by a worker of that host: a worker starting there calls this, and the one
    before it on the host is gone. Delivering again is harmless, as every step is idempotent.
    """
    if older_than is None:
        older_than = settings.DELIVERY_RUN_STALE_AFTER
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than)
    runs = DBTaskResult.objects.filter(status="RUNNING", task_path__startswith=__name__ + ".")
    stale = [
        run.pk
        for run in runs.only("pk", "started_at", "worker_ids")
        if (run.started_at is not None and run.started_at < cutoff)
        or (host is not None and run.worker_ids and run.worker_ids[-1].startswith(host + ":"))
    ]
    if not stale:
        return 0
    recovered = DBTaskResult.objects.filter(pk__in=stale, status="RUNNING").update(
        status="READY", started_at=None, run_after=timezone.now()
    )
    if recovered:
        logger.warning(
            "Returned %d delivery run(s) left by a stopped worker to the queue.", recovered
        )
    return recovered


def worker_host() -> str:
    return socket.gethostname()[:40]
