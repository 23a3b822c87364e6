"""`run_worker [db_worker options]`: the task worker (`db_worker`), with the heartbeat file that
the worker Deployment's probes read (`healthcheck worker`). Every `db_worker` option works."""

from __future__ import annotations

from django.core.management import get_commands, load_command_class

from operations import heartbeat

# Whichever app provides `db_worker` (django-tasks-db, or an app that extends it): this adds
# the heartbeat around it and changes nothing else.
_Worker = type(load_command_class(get_commands()["db_worker"], "db_worker"))


class Command(_Worker):
    help = "Run the task worker (db_worker) with a heartbeat for its probes."

    def handle(self, *args, **options) -> None:
        with heartbeat.running("worker"):
            super().handle(*args, **options)
