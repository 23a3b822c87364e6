"""`reconcile_registries [--org SLUG] [--loop --interval SECONDS]`: bring the cluster to the
database's truth. Recreates what someone deleted, rewrites what someone edited, removes what no
organization accounts for, and updates every registry's sync state."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from operations import heartbeat
from operations.passes import record_pass
from orgsettings.models import Organization
from registries import kube, sync

logger = logging.getLogger(__name__)

# pg_advisory_lock key: one active reconciler per database, however many replicas run.
ADVISORY_LOCK_KEY = 0x0F65E771


class Command(BaseCommand):
    help = "Reconcile the organizations' image-pull Secrets in the cluster with the database."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--org", metavar="SLUG", help="Only this organization.")
        parser.add_argument("--loop", action="store_true", help="Run passes until stopped.")
        parser.add_argument(
            "--interval",
            type=float,
            default=60.0,
            help="Seconds between passes with --loop (default 60).",
        )
        parser.add_argument(
            "--passes",
            type=int,
            default=0,
            help="With --loop: stop after this many passes (0: never).",
        )

    def handle(
        self, *args, org: str | None, loop: bool, interval: float, passes: int, **options
    ) -> None:
        if org is not None and not Organization.objects.filter(slug=org).exists():
            raise CommandError(f"No organization with slug “{org}”.")
        if interval <= 0:
            raise CommandError("--interval must be a positive number of seconds.")
        self.interval = interval
        if kube.configuration_source() is None:
            self._say(
                "No cluster configured (set KUBECONFIG, or run in a pod): marking registries as not synced.",
                error=True,
            )
        if not loop:
            failed = self._pass(org)
            if failed:
                raise CommandError(f"{failed} organization(s) could not be synced.")
            return
        done = 0
        # The heartbeat file is what the reconciler Deployment's probes read.
        with heartbeat.running("reconciler"), self._leadership() as wait_for_lead:
            while True:
                if wait_for_lead():
                    self._pass(org)
                    done += 1
                if passes and done >= passes:
                    return
                time.sleep(interval)

    def _pass(self, org: str | None) -> int:
        started, calls = time.monotonic(), kube.api_calls_made()
        report = sync.reconcile(org)
        if org is None:
            record_pass(
                complete=report.complete,
                duration=time.monotonic() - started,
                api_calls=kube.api_calls_made() - calls,
                targets=report.organizations,
                failed=len(report.errors),
                interval=self.interval,
            )
        for slug, message in sorted(report.errors.items()):
            self._say(f"{slug}: {message}", error=True)
        for removed in report.removed:
            self._say(f"Removed {removed}")
        in_sync = report.organizations - len(report.errors)
        self._say(
            f"{in_sync}/{report.organizations} organizations in sync, {report.writes} write(s)."
        )
        return len(report.errors)

    def _say(self, message: str, *, error: bool = False) -> None:
        """To the terminal as text; with LOG_FORMAT=json, as log lines like everything else."""
        if settings.LOG_FORMAT == "json":
            logger.log(logging.WARNING if error else logging.INFO, message)
        else:
            (self.stderr if error else self.stdout).write(message)

    @contextlib.contextmanager
    def _leadership(self) -> Iterator:
        """On PostgreSQL, only the holder of the advisory lock runs passes; the others wait
        and take over if it stops. Elsewhere there is no lock: run one reconciler."""
        if connection.vendor != "postgresql":
            yield lambda: True
            return
        held = False

        def wait_for_lead() -> bool:
            nonlocal held
            if not held:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
                    held = cursor.fetchone()[0]
                if not held:
                    self._say("Another reconciler is active; standing by.")
            return held

        try:
            yield wait_for_lead
        finally:
            if held:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
