"""Runs cluster syncs off the request: one background worker per process, coalescing repeated
requests for the same organization. The registries are marked Pending first, so the table shows
that a sync is under way; the reconciler finishes whatever a stopped process left undone."""

from __future__ import annotations

import logging
import queue
import threading

from django.conf import settings
from django.db import close_old_connections, connections

from . import kube, sync
from .models import ContainerRegistry, SyncStatus

logger = logging.getLogger(__name__)

_queue: queue.Queue = queue.Queue()
_queued: set[tuple] = set()
_lock = threading.Lock()
_worker: threading.Thread | None = None


def schedule_sync(organization_id: int) -> None:
    if kube.configuration_source() is None:
        return
    ContainerRegistry.objects.filter(organization_id=organization_id).exclude(
        sync_status=SyncStatus.PENDING
    ).update(sync_status=SyncStatus.PENDING)
    _submit(("sync", organization_id))


def schedule_removal(slug: str, namespace: str) -> None:
    if kube.configuration_source() is None:
        return
    _submit(("remove", slug, namespace))


def _submit(task: tuple) -> None:
    if not settings.REGISTRY_SYNC_IN_BACKGROUND:
        _run(task)
        return
    with _lock:
        if task in _queued:
            return
        _queued.add(task)
        _ensure_worker()
    _queue.put(task)


def _ensure_worker() -> None:
    global _worker
    if _worker is None or not _worker.is_alive():
        _worker = threading.Thread(target=_work, name="registry-sync", daemon=True)
        _worker.start()


def _work() -> None:
    while True:
        task = _queue.get()
        with _lock:
            # Taken off before running: a save during the run queues one more pass.
            _queued.discard(task)
        try:
            close_old_connections()
            _run(task)
        except Exception:
            logger.exception("Cluster sync task %s failed", task[0])
        finally:
            connections.close_all()
            _queue.task_done()


def _run(task: tuple) -> None:
    if task[0] == "sync":
        sync.sync_with_retries(task[1])
    else:
        sync.remove_organization(task[1], task[2])


def wait_until_idle() -> None:
    """Block until queued syncs are done (for tests and orderly shutdown)."""
    _queue.join()
