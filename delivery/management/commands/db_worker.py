"""`db_worker`: django-tasks-db's worker, which at start first puts back in the queue the
delivery runs that a killed worker left RUNNING (its own host's, and any past the bound), and
queues the Amazon ECR token refreshes that are missing (registries/ecr_refresh.py).

Worker ids are "<host>:<random>", so a worker restarted on the same host (a container restart
keeps the pod's name) recovers at once what the one before it was running."""

from __future__ import annotations

from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Command as WorkerCommand

from delivery import tasks
from registries.ecr_refresh import ecr_refresh_ensure


class Command(WorkerCommand):
    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(worker_id=f"{tasks.worker_host()}:{get_random_string(20)}")

    def handle(self, *args, **options) -> None:
        host = options["worker_id"].split(":", 1)[0]
        recovered = tasks.recover_stale_runs(host=host)
        if recovered:
            self.stdout.write(f"Returned {recovered} interrupted delivery run(s) to the queue.")
        queued = ecr_refresh_ensure()
        if queued:
            self.stdout.write(f"Queued {queued} missing ECR token refresh(es).")
        super().handle(*args, **options)
