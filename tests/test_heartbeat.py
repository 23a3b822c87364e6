"""The worker's and the reconciler's heartbeat files, and `healthcheck`, their exec probe."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from operations import heartbeat, probe
from operations.health import forget_migrations_check

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def heartbeat_dir(settings, tmp_path):
    settings.HEARTBEAT_DIR = tmp_path
    forget_migrations_check()
    yield tmp_path
    forget_migrations_check()


def healthcheck(*args) -> str:
    out = io.StringIO()
    call_command("healthcheck", *args, stdout=out)
    return out.getvalue()


def test_a_fresh_ready_heartbeat_passes_both_probes():
    heartbeat.beat("worker")
    assert healthcheck("worker") == "The worker is alive.\n"
    assert healthcheck("worker", "--ready") == "The worker is ready.\n"


def test_no_heartbeat_fails_liveness(heartbeat_dir):
    with pytest.raises(CommandError, match=f"No heartbeat from the reconciler at {heartbeat_dir}"):
        healthcheck("reconciler")


def test_a_stale_heartbeat_fails_liveness(heartbeat_dir):
    heartbeat.beat("worker")
    state = json.loads((heartbeat_dir / "worker.json").read_text())
    state["at"] = time.time() - heartbeat.MAX_AGE - 5
    (heartbeat_dir / "worker.json").write_text(json.dumps(state))
    with pytest.raises(CommandError, match=r"The worker's last heartbeat is 3[45] s old"):
        healthcheck("worker")


def test_unapplied_migrations_fail_readiness_but_not_liveness(settings):
    settings.MIGRATION_MODULES = {"operations": "tests.unapplied_migrations"}
    heartbeat.beat("worker")
    assert healthcheck("worker") == "The worker is alive.\n"
    with pytest.raises(CommandError, match=r"not ready \(migrations: 1 not applied yet\)"):
        healthcheck("worker", "--ready")


def test_the_reconciler_loop_beats(cluster, organization):
    call_command(
        "reconcile_registries",
        "--loop",
        "--interval",
        "0.01",
        "--passes",
        "1",
        stdout=io.StringIO(),
    )
    assert healthcheck("reconciler", "--ready") == "The reconciler is ready.\n"


# The worker checks its connection between tasks as requests do, which closes one left inside
# a test's transaction: run it in autocommit, as it runs in production.
@pytest.mark.django_db(transaction=True)
def test_the_worker_beats(settings):
    call_command("run_worker", "--batch", "--no-startup-delay", "--no-reload", "--verbosity", "0")
    assert healthcheck("worker", "--ready") == "The worker is ready.\n"


def test_the_kubelets_probe_command_reads_the_file_without_django(heartbeat_dir, settings):
    """`python -m operations.probe`, as the Deployments run it: exit 0 or 1 with the reason."""
    root = Path(__file__).resolve().parent.parent
    environment = {"PATH": os.environ["PATH"], "HEARTBEAT_DIR": str(heartbeat_dir)}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "operations.probe", *args],
            cwd=root,
            env=environment,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    missing = run("worker")
    assert missing.returncode == 1
    assert missing.stderr.startswith("No heartbeat from the worker")
    settings.MIGRATION_MODULES = {"operations": "tests.unapplied_migrations"}
    heartbeat.beat("worker")
    assert run("worker").stdout == "The worker is alive.\n"
    not_ready = run("worker", "--ready")
    assert not_ready.returncode == 1
    assert "not ready (migrations: 1 not applied yet)" in not_ready.stderr
    # No settings were loaded: the keys the settings require are not in its environment.
    assert "SECRET_KEY" not in environment
    assert probe.MAX_AGE == heartbeat.MAX_AGE
