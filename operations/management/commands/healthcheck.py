"""`healthcheck worker|reconciler [--ready]`: the exec probe of the worker and reconciler
Deployments. Exits 0 when the process's heartbeat is fresh (and, with --ready, when it found
the database answering and the migrations applied), 1 with the reason otherwise."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from operations import heartbeat


class Command(BaseCommand):
    help = "Probe a worker or reconciler through its heartbeat file."
    # A probe runs every few seconds: it reads one file and must not wait on anything else.
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("process", choices=["worker", "reconciler"])
        parser.add_argument(
            "--ready", action="store_true", help="Also require the process to be ready for work."
        )
        parser.add_argument(
            "--max-age",
            type=float,
            default=heartbeat.MAX_AGE,
            help=f"Seconds since the last beat (default {heartbeat.MAX_AGE:g}).",
        )

    def handle(self, *args, process: str, ready: bool, max_age: float, **options) -> None:
        state = heartbeat.read(process)
        if state is None:
            raise CommandError(f"No heartbeat from the {process} at {heartbeat.path(process)}.")
        age = time.time() - float(state.get("at", 0))
        if age > max_age:
            raise CommandError(
                f"The {process}'s last heartbeat is {age:.0f} s old (more than {max_age:g} s)."
            )
        if ready and not state.get("ready"):
            problems = ", ".join(f"{k}: {v}" for k, v in (state.get("problems") or {}).items())
            raise CommandError(f"The {process} is not ready ({problems or 'unknown'}).")
        self.stdout.write(f"The {process} is {'ready' if ready else 'alive'}.")
