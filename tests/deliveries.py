"""Running the delivery queue in tests: the real django-tasks-db worker, inline and in batch
mode (it runs what is ready and returns), so a test sees a delivery's effect without waiting."""

from __future__ import annotations

from unittest import mock

from django_tasks_db.management.commands import db_worker
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from delivery import kube
from delivery.models import Cluster
from delivery.services import cluster_add, organization_place
from orgsettings.models import Organization
from registries.models import AuthType, ContainerRegistry
from registries.services import registry_create


def run_tasks(*, max_tasks: int | None = None) -> int:
    """Run every task that is ready now (retries due later stay queued); returns how many."""
    before = DBTaskResult.objects.exclude(status="READY").count()
    # The worker closes "old" connections between tasks, as a long-running process should;
    # inline, the connection is the test's own (in its transaction), so it stays open.
    with mock.patch.object(db_worker, "close_old_connections", return_value=None):
        _worker(max_tasks).run()
    return DBTaskResult.objects.exclude(status="READY").count() - before


def _worker(max_tasks: int | None) -> Worker:
    return Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id="testhost:inline",
        excluded_queue_names=[],
    )


def add_delivered_registry(
    organization,
    display_name: str,
    address: str,
    *,
    actor=None,
    username: str = "u",
    password: str = "p",
) -> ContainerRegistry:
    """A BasicAuth registry added as the Settings page adds one, and its delivery run."""
    registry = registry_create(
        organization,
        actor=actor,
        display_name=display_name,
        address=address,
        auth_type=AuthType.BASIC,
        username=username,
        password=password,
    )
    run_tasks()
    return registry


def queued() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(status="READY").order_by("enqueued_at"))


def add_fake_cluster(
    fake, tmp_path, name: str = "main", *, default: bool = True, place_existing: bool = True
) -> Cluster:
    """A Cluster row for a FakeKubeServer (kubeconfig stored, as an operator adds one)."""
    text = fake.write_kubeconfig(tmp_path / f"{name}.kubeconfig").read_text()
    cluster = cluster_add(name=name, connection="kubeconfig", kubeconfig=text, is_default=default)
    if place_existing:
        for organization in Organization.objects.all():
            organization_place(organization, cluster=cluster)
    kube.forget_clients()
    return cluster
