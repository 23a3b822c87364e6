"""`run_worker [db_worker options]`: django-tasks-db's `db_worker`, with the heartbeat file that
the worker Deployment's probes read (`healthcheck worker`). Every `db_worker` option works."""

from __future__ import annotations

from django_tasks_db.management.commands import db_worker

from operations import heartbeat


class Command(db_worker.Command):
    help = "Run the task worker (django-tasks-db's db_worker) with a heartbeat for its probes."

    def handle(self, *args, **options) -> None:
        with heartbeat.running("worker"):
            super().handle(*args, **options)
