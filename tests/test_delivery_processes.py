"""Acceptance with real processes: `create_org` and saves from one process, django-tasks-db
workers in others, processes killed with SIGKILL at the worst moments, and the fake API server
over HTTP. Each test gets its own migrated database (an SQLite file, or a PostgreSQL database
when the suite runs on PostgreSQL), since the processes must share it. Nothing sleeps for a
fixed time: tests poll the cluster with a deadline."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from delivery.dockerconfig import decode_config

ROOT = Path(__file__).resolve().parent.parent
SECRET = "org-registry-credentials"
DEADLINE = 30.0

pytestmark = pytest.mark.usefixtures("fake_kube")


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_connection(url: str):
    import psycopg

    return psycopg.connect(_with_database(url, "postgres"), autocommit=True)


def _environment(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "orgsettings.settings",
            "KUBECONFIG": "",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "DELIVERY_RUN_STALE_AFTER": "45",
        }
    )
    return env


def _manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory):
    """A migrated database to copy for each test: an SQLite file, or a PostgreSQL template."""
    postgres = _postgres_url()
    if postgres is None:
        path = tmp_path_factory.mktemp("template") / "db.sqlite3"
        _manage(_environment(f"sqlite:///{path}"), "migrate", "--noinput")
        yield ("sqlite", path)
        return
    name = f"{urlsplit(postgres).path.lstrip('/') or 'orgsettings'}_proc_template"
    with _admin_connection(postgres) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    _manage(_environment(_with_database(postgres, name)), "migrate", "--noinput")
    yield ("postgres", name)
    with _admin_connection(postgres) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Installation:
    """One installation's processes around one database and the fake cluster."""

    def __init__(self, env: dict[str, str], fake, tmp_path: Path) -> None:
        self.env = env
        self.fake = fake
        self.tmp_path = tmp_path
        self.workers: list[subprocess.Popen] = []

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return _manage(self.env, *args)

    def start_worker(self) -> subprocess.Popen:
        log = (self.tmp_path / f"worker{len(self.workers)}.log").open("w")
        worker = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--interval",
                "0.2",
                "--no-startup-delay",
                "--no-reload",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(worker)
        return worker

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def secret(self, namespace: str = "org-acme") -> dict | None:
        secret = self.fake.get_object("secrets", namespace, SECRET)
        return None if secret is None else decode_config(secret["data"][".dockerconfigjson"])

    def wait_for(self, condition, what: str):
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            if any(w.poll() not in (None, -signal.SIGKILL) for w in self.workers):
                break
            time.sleep(0.05)
        logs = "\n".join(p.read_text() for p in self.tmp_path.glob("worker*.log"))
        pytest.fail(f"{what} did not happen within {DEADLINE} s. Worker logs:\n{logs}")

    def pull_secrets(self, namespace: str = "org-acme") -> list[str]:
        sa = self.fake.get_object("serviceaccounts", namespace, "default") or {}
        return [ref["name"] for ref in sa.get("imagePullSecrets", [])]

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                self.kill(worker)


@pytest.fixture
def installation(migrated_template, fake_kube, tmp_path, request):
    kind, template = migrated_template
    if kind == "sqlite":
        path = tmp_path / "db.sqlite3"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
    else:
        postgres = _postgres_url()
        name = f"{template.removesuffix('_template')}_{os.getpid()}"
        with _admin_connection(postgres) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        url = _with_database(postgres, name)
    env = _environment(url)
    fake_kube.add_namespace("org-acme")
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig")
    _manage(env, "add_cluster", "main", "--kubeconfig", str(kubeconfig), "--default")
    installed = Installation(env, fake_kube, tmp_path)
    yield installed
    installed.stop()
    if kind != "sqlite":
        with _admin_connection(_postgres_url()) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


SAVE_THEN_DIE = """
import os, signal
from orgsettings.models import Organization
from registries.services import registry_create
registry_create(Organization.objects.get(slug="acme"), actor=None, display_name="GitHub",
                address="ghcr.io", auth_type="BasicAuth", username="octocat", password="ghp-1")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_create_org_with_a_worker_running_delivers_the_secret_and_references(installation):
    installation.start_worker()
    installation.manage("create_org", "acme", "--name", "Acme")
    assert installation.wait_for(installation.secret, "the Secret") == {"auths": {}}
    installation.wait_for(lambda: SECRET in installation.pull_secrets(), "the reference")


def test_a_worker_killed_before_it_ran_the_task_leaves_it_to_the_next_worker(installation):
    installation.manage("create_org", "acme", "--name", "Acme")
    installation.kill(installation.start_worker())
    installation.start_worker()
    installation.wait_for(installation.secret, "the Secret, from the next worker")


def test_a_web_process_killed_right_after_a_save_loses_nothing(installation):
    installation.manage("create_org", "acme", "--name", "Acme")
    died = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SAVE_THEN_DIE],
        cwd=ROOT,
        env=installation.env,
        capture_output=True,
        timeout=120,
    )
    assert died.returncode == -signal.SIGKILL, died.stderr
    installation.start_worker()
    config = installation.wait_for(
        lambda: (installation.secret() or {}).get("auths", {}).get("ghcr.io"), "the saved entry"
    )
    assert config["password"] == "ghp-1"


def test_a_worker_killed_mid_delivery_has_its_run_recovered(installation):
    installation.fake.slow(2)
    installation.manage("create_org", "acme", "--name", "Acme")
    first = installation.start_worker()
    # The worker is in the middle of the delivery once the cluster has seen its first call.
    installation.wait_for(lambda: installation.fake.requests, "the delivery to start")
    installation.kill(first)
    installation.fake.slow(0)
    assert installation.secret() is None
    installation.start_worker()
    installation.wait_for(installation.secret, "the recovered delivery")
    state = installation.manage(
        "shell",
        "-c",
        "from delivery.models import DeliveryTarget; import time\n"
        "for _ in range(200):\n"
        "    t = DeliveryTarget.objects.get()\n"
        "    if t.status != 'pending': break\n"
        "    time.sleep(0.05)\n"
        "print(t.status)",
    )
    assert state.stdout.strip().splitlines()[-1] == "synced"


SAVE_ECR_AND_LOSE_ITS_REFRESH = """
from django_tasks_db.models import DBTaskResult
from orgsettings.models import Organization
from registries.services import registry_create
registry_create(Organization.objects.get(slug="acme"), actor=None, display_name="ECR",
                address="{host}", auth_type="ECR", aws_access_key_id="{key_id}",
                aws_secret_access_key="{secret}", aws_region="", aws_role_arn="")
DBTaskResult.objects.filter(task_path__startswith="registries.").delete()
"""


def test_a_worker_starting_queues_the_ecr_refresh_that_was_lost_and_delivers_a_token(
    aws, installation
):
    from .aws import ACCESS_KEY_ID, HOST, SECRET_ACCESS_KEY

    installation.manage("create_org", "acme", "--name", "Acme")
    code = SAVE_ECR_AND_LOSE_ITS_REFRESH.format(
        host=HOST, key_id=ACCESS_KEY_ID, secret=SECRET_ACCESS_KEY
    )
    installation.manage("shell", "-c", code)

    installation.start_worker()

    config = installation.wait_for(
        lambda: (installation.secret() or {}).get("auths", {}).get(HOST) and installation.secret(),
        "the ECR entry",
    )
    assert config["auths"][HOST]["username"] == "AWS"
    assert config["auths"][HOST]["password"].startswith("123456789012-auth-token")
