"""The Procfile's processes in the production configuration, as `make serve` runs them:
gunicorn serving the app and its collected static files, the worker and the reconciler
beating, JSON logs, and the probe and metrics endpoints over real HTTP."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOKEN = "serve-test-metrics-token-000000"
HONCHO_LINE = re.compile(r"^\S+\.\d+ (started|stopped) \(")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, **headers: str) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_for(condition, what: str, seconds: float = 60) -> None:
    """Poll a starting server (bounded): a process start has no event to wait on."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


def up(url: str) -> bool:
    try:
        return get(url)[0] == 200
    except OSError:
        return False


@pytest.fixture
def served(tmp_path):
    if shutil.which("honcho", path=str(BIN)) is None:
        pytest.fail("honcho is missing from the virtualenv: make venv")
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "DEBUG": "false",
        "SECRET_KEY": "serve-test-secret-key-0000000000000000000000000000000000",
        "CRYPTOGRAPHY_KEY": "serve-test-cryptography-key-00000000000000000000000000",
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_MANIFEST": "true",
        "STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "HEARTBEAT_DIR": str(tmp_path / "heartbeat"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "LOG_FORMAT": "json",
        "METRICS_TOKEN": TOKEN,
        "KUBECONFIG": "",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    for command in (["collectstatic", "--noinput", "--verbosity", "0"], ["migrate", "--noinput"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    log = tmp_path / "processes.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(BIN / "honcho"), "start", "--no-prefix", "--no-colour"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: up(url + "/healthz"), "gunicorn")
        yield url, tmp_path, log
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # Ctrl-C stopped every process of the Procfile.
    assert "web.1 stopped" in log.read_text()
    assert "worker.1 stopped" in log.read_text()
    assert "reconciler.1 stopped" in log.read_text()


def test_make_serve_processes_serve_the_app_with_probes_metrics_and_json_logs(served):
    url, tmp_path, log = served
    status, headers, body = get(url + "/accounts/login/")
    assert status == 200
    assert headers["Server"].startswith("gunicorn")
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])
    stylesheet = re.search(rb'href="(/static/css/app\.[0-9a-f]{12}\.css)"', body).group(1)
    status, headers, _ = get(url + stylesheet.decode())
    assert status == 200
    assert "max-age=315360000" in headers["Cache-Control"]  # a hashed name: cached for good

    assert get(url + "/readyz")[0] == 200
    assert get(url + "/metrics")[0] == 401

    wait_for(
        lambda: (
            (tmp_path / "heartbeat" / "worker.json").exists()
            and (tmp_path / "heartbeat" / "reconciler.json").exists()
        ),
        "the worker's and reconciler's heartbeats",
    )
    wait_for(
        lambda: (
            b"orgsettings_reconcile_last_pass_timestamp_seconds"
            in get(url + "/metrics", Authorization=f"Bearer {TOKEN}")[2]
        ),
        "the reconciler's first pass in /metrics",
    )
    for process in ("worker", "reconciler"):
        probe = subprocess.run(
            [sys.executable, "manage.py", "healthcheck", process, "--ready"],
            cwd=ROOT,
            env={**os.environ, "HEARTBEAT_DIR": str(tmp_path / "heartbeat")},
            capture_output=True,
            text=True,
            check=False,
        )
        assert probe.returncode == 0, probe.stderr

    # Both gunicorn workers' requests are added up.
    for _ in range(6):
        get(url + "/accounts/login/")
    _, _, metrics = get(url + "/metrics", Authorization=f"Bearer {TOKEN}")
    count = re.search(
        rb'orgsettings_http_requests_total\{method="GET",status="200",view="login"\} (\S+)',
        metrics,
    )
    assert count is not None, metrics.decode()
    assert float(count.group(1)) == 7

    lines = [line for line in log.read_text().splitlines() if line and not HONCHO_LINE.match(line)]
    records = [json.loads(line) for line in lines]
    loggers = {record["logger"] for record in records}
    assert {"gunicorn.error", "orgsettings.requests", "django_tasks_db"} <= loggers
    assert any(r["logger"].endswith("reconcile_registries") for r in records)
    for secret in ("serve-test-secret-key", "serve-test-cryptography-key", TOKEN):
        assert secret not in log.read_text()
