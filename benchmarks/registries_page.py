"""The Container Registries section against the Django admin's changelist of the same registries,
served side by side in production shape: DEBUG off, gunicorn, collected static files and a
PostgreSQL database of the benchmark's own.

For 10, 100 and 1,000 registries it prints each page's requests per second (and the section's
ratio to the admin's; the target is at least 1.5x), p50 latency, bytes per page and SQL queries
per page. The load is a bounded loop on the loopback interface: a few threads with keep-alive-less
http.client connections, stopping after a number of requests or seconds, whichever comes first.

    .venv/bin/python benchmarks/registries_page.py [COUNTS...]

BENCH_DATABASE_URL names the database (default postgres://postgres@127.0.0.1:5432/orgsettings_bench);
it is dropped and created anew on every run, so never point it at one that matters.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/orgsettings_bench"
)
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
# Each page is measured in ROUNDS alternating rounds (section, admin, section, admin, ...), each
# round ending after MAX_REQUESTS requests or SECONDS seconds.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
MAX_REQUESTS = int(os.environ.get("BENCH_MAX_REQUESTS", "300"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
TARGET_RATIO = 1.5

workdir = Path(tempfile.mkdtemp(prefix="registries-bench-"))
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "orgsettings.settings",
    "DEBUG": "false",
    "SECRET_KEY": "benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
    "CRYPTOGRAPHY_KEY": "benchmark-only-cryptography-key-0123456789abcdefghijklmnopqrstuv",
    "DATABASE_URL": DATABASE_URL,
    "ALLOWED_HOSTS": "127.0.0.1,testserver",
    # Plain HTTP on loopback: no TLS in front of this server.
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "SECURE_HSTS_SECONDS": "0",
    "STATIC_ROOT": str(workdir / "static"),
    "KUBECONFIG": "",
    "LOG_LEVEL": "WARNING",
}
os.environ.update(SERVER_ENV)

import django  # noqa: E402
import psycopg  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import (  # noqa: E402
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
)
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from orgsettings.models import Membership, Organization, Role  # noqa: E402
from registries.models import AuthType, ContainerRegistry  # noqa: E402

SECTION = "/orgs/bench/settings/registries/"
ADMIN = "/admin/registries/containerregistry/"


def recreate_database() -> None:
    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    maintenance = parts._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(port: int) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "orgsettings.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={WORKERS}",
        "--worker-class=sync",
        "--timeout=120",
        "--log-level=warning",
    ]
    # Our own fixed command line (no shell, no outside input).
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **SERVER_ENV})  # noqa: S603
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit("gunicorn did not start") from None
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not open its port within 30 s")


def session_cookie(user) -> str:
    """A logged-in session, as the login form would leave it."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    # The backend that authenticates a password (the first, django-axes', only throttles).
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def grow_registries(organization: Organization, user, count: int) -> None:
    """Registries as a large organization has them: both auth types, secrets of each."""
    have = organization.registries.count()
    ContainerRegistry.objects.bulk_create(
        ContainerRegistry(
            organization=organization,
            display_name=f"Team {index:04d} images",
            address=f"registry-{index:04d}.teams.example.com/team-{index:04d}",
            auth_type=AuthType.TOKEN if index % 3 == 0 else AuthType.BASIC,
            username=f"robot-{index:04d}",
            password="" if index % 3 == 0 else f"bench-password-{index:04d}",
            token=f"bench-token-{index:04d}" if index % 3 == 0 else "",
            created_by=user,
            updated_by=user,
        )
        for index in range(have, count)
    )


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    elapsed: float = 0.0
    errors: int = 0

    def add(self, other: Sample) -> None:
        self.latencies += other.latencies
        self.sizes += other.sizes
        self.elapsed += other.elapsed
        self.errors += other.errors

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


def fetch(port: int, path: str, cookie: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def load(port: int, path: str, cookie: str) -> Sample:
    """CONCURRENCY threads GET `path` until MAX_REQUESTS are done or SECONDS have passed."""
    sample = Sample()
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + SECONDS
    issued = 0

    def worker() -> None:
        nonlocal issued
        while True:
            with lock:
                if issued >= MAX_REQUESTS or time.perf_counter() >= deadline:
                    return
                issued += 1
            begin = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request("GET", path, headers={"Cookie": cookie})
                response = conn.getresponse()
                body = response.read()
                ok = response.status == 200
            except OSError:
                ok, body = False, b""
            finally:
                conn.close()
            with lock:
                if ok:
                    sample.latencies.append(time.perf_counter() - begin)
                    sample.sizes.append(len(body))
                else:
                    sample.errors += 1

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sample.elapsed = time.perf_counter() - started
    return sample


def queries_per_page(user, path: str) -> int:
    client = Client()
    client.force_login(user)
    client.get(path)  # the first request may set up the session
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(queries)


def main(counts: list[int]) -> None:
    recreate_database()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    user = get_user_model().objects.create_superuser("bench", password=None)
    organization = Organization.objects.create(slug="bench", name="Bench")
    Membership.objects.create(user=user, organization=organization, role=Role.OWNER)
    cookie = session_cookie(user)
    port = free_port()
    server = start_gunicorn(port)
    print(
        f"gunicorn: {WORKERS} sync workers; {CONCURRENCY} client threads; "
        f"{ROUNDS} rounds of at most {MAX_REQUESTS} requests or {SECONDS:g} s per page"
    )
    print(
        f"{'registries':>10}  {'page':<8} {'req/s':>7} {'p50 ms':>8} {'KB/page':>8} "
        f"{'queries':>7} {'requests':>8}"
    )
    results = []
    try:
        for count in counts:
            grow_registries(organization, user, count)
            samples = {SECTION: Sample(), ADMIN: Sample()}
            for path in samples:  # warm up both pages in every worker
                for _ in range(WORKERS * 2):
                    status = fetch(port, path, cookie)
                    if status != 200:
                        raise SystemExit(f"{path} answered {status}")
            for _ in range(ROUNDS):
                for path, sample in samples.items():
                    sample.add(load(port, path, cookie))
            rates = {}
            for label, path in (("section", SECTION), ("admin", ADMIN)):
                sample = samples[path]
                rates[label] = sample.per_second
                errors = f"  {sample.errors} errors" if sample.errors else ""
                print(
                    f"{count:>10}  {label:<8} {sample.per_second:>7.1f} "
                    f"{statistics.median(sample.latencies) * 1000:>8.0f} "
                    f"{statistics.median(sample.sizes) / 1024:>8.1f} "
                    f"{queries_per_page(user, path):>7} {len(sample.latencies):>8}{errors}"
                )
            ratio = rates["section"] / rates["admin"] if rates["admin"] else 0.0
            results.append((count, ratio))
            verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
            print(f"{'':>10}  section/admin {ratio:.2f}x ({verdict} the {TARGET_RATIO}x target)")
    finally:
        server.terminate()
        server.wait(timeout=30)
        connection.close()
        shutil.rmtree(workdir, ignore_errors=True)
    summary = ", ".join(f"{ratio:.2f}x at {count}" for count, ratio in results)
    print(f"Section vs admin requests/s: {summary}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10, 100, 1000])
