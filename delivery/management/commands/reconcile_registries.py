"""`reconcile_registries [--org SLUG] [--loop --interval SECONDS]`: bring every cluster to the
database's truth. Recreates what someone deleted, rewrites what someone edited, removes what no
target accounts for, and updates every target's state. With --loop it also returns to the
queue, every few seconds, the delivery runs that a killed worker left RUNNING."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from delivery import kube, services, tasks
from delivery.models import Cluster
from operations import heartbeat
from operations.passes import record_pass
from orgsettings.models import Organization
from registries.auth_kinds import EXPIRY_WARNING_DAYS

logger = logging.getLogger(__name__)

# pg_advisory_lock key: one active reconciler per database, however many replicas run.
ADVISORY_LOCK_KEY = 0x0F65E771
# How often --loop looks for lost runs between passes (with DELIVERY_RUN_STALE_AFTER 45 s, a
# run left by a killed worker is back in the queue within a minute).
SWEEP_EVERY = 10.0


class Command(BaseCommand):
    help = "Reconcile the organizations' image-pull Secrets on every cluster with the database."

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
        if not settings.REGISTRY_SYNC_ENABLED:
            self._say("Delivery is turned off (REGISTRY_SYNC_ENABLED=false).", error=True)
            return
        if services.environment_cluster_adopt() is not None:
            self._say("Recorded the cluster of KUBECONFIG (or in-cluster) as “default”.")
        if not Cluster.objects.exists():
            self._say(
                "No cluster configured (add one with add_cluster, set KUBECONFIG, or run in a pod).",
                error=True,
            )
        if not loop:
            tasks.recover_stale_runs()
            failed, pending = self._pass(org)
            if failed or pending:
                raise CommandError(
                    " ".join(
                        ([f"{failed} target(s) could not be synced."] if failed else [])
                        + ([f"{pending} removal(s) are still pending."] if pending else [])
                    )
                )
            return
        done = 0
        # The heartbeat file is what the reconciler Deployment's probes read.
        with heartbeat.running("reconciler"), self._leadership() as wait_for_lead:
            while True:
                if wait_for_lead():
                    tasks.recover_stale_runs()
                    self._pass(org)
                    done += 1
                if passes and done >= passes:
                    return
                self._sleep(interval, sweep=wait_for_lead)

    def _sleep(self, interval: float, *, sweep) -> None:
        deadline = time.monotonic() + interval
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(SWEEP_EVERY, left))
            if sweep(quiet=True):
                tasks.recover_stale_runs()

    def _pass(self, org: str | None) -> tuple[int, int]:
        from delivery.reconcile import reconcile

        started, calls = time.monotonic(), kube.api_calls_made()
        report = reconcile(org)
        if org is None:
            record_pass(
                # Complete: every cluster was read (a target may still have failed).
                complete=not report.cluster_errors,
                duration=time.monotonic() - started,
                api_calls=kube.api_calls_made() - calls,
                targets=report.targets,
                failed=len(report.errors),
                interval=self.interval,
            )
        for name, error in sorted(report.cluster_errors.items()):
            detail = f" ({error.detail})" if error.detail else ""
            self._say(f"Cluster {name}: {error.message}{detail}", error=True)
        for where, message in sorted(report.errors.items()):
            self._say(f"{where}: {message}", error=True)
        for where, message in sorted(report.removal_errors.items()):
            self._say(f"Not yet removed: {where}: {message} It will be retried.", error=True)
        for removed in report.removed:
            self._say(f"Removed {removed}")
        for warned in report.expiry_warned:
            self._say(
                f"Warned in Activity: the credential of {warned} expires soon or has expired."
            )
        if report.expiring or report.expired:
            self._say(
                f"Credentials: {report.expiring} expire within {EXPIRY_WARNING_DAYS} days, "
                f"{report.expired} expired.",
                error=bool(report.expired),
            )
        in_sync = report.targets - len(report.errors)
        self._say(f"{in_sync}/{report.targets} targets in sync, {report.writes} write(s).")
        return len(report.errors), len(report.removal_errors)

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
            yield lambda quiet=False: True
            return
        held = False

        def wait_for_lead(quiet: bool = False) -> bool:
            nonlocal held
            if not held:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
                    held = cursor.fetchone()[0]
                if not held and not quiet:
                    self._say("Another reconciler is active; standing by.")
            return held

        try:
            yield wait_for_lead
        finally:
            if held:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
