"""`healthcheck worker|reconciler [--ready]`: the worker's or reconciler's probe, for people
(the Deployments run the same check as `python -m operations.probe`, which skips loading
Django). Exits 0 when the heartbeat is fresh (and, with --ready, when the process found the
database answering and the migrations applied), 1 with the reason otherwise."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from operations import probe


class Command(BaseCommand):
    help = "Probe a worker or reconciler through its heartbeat file."
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("process", choices=probe.PROCESSES)
        parser.add_argument(
            "--ready", action="store_true", help="Also require the process to be ready for work."
        )
        parser.add_argument(
            "--max-age",
            type=float,
            default=probe.MAX_AGE,
            help=f"Seconds since the last beat (default {probe.MAX_AGE:g}).",
        )

    def handle(self, *args, process: str, ready: bool, max_age: float, **options) -> None:
        try:
            message = probe.check(
                process, directory=Path(settings.HEARTBEAT_DIR), ready=ready, max_age=max_age
            )
        except probe.ProbeFailed as failure:
            raise CommandError(str(failure)) from None
        self.stdout.write(message)
