"""Heartbeat files: how the worker and the reconciler, which serve no HTTP, tell Kubernetes'
exec probes that they are alive and ready.

A running process rewrites `HEARTBEAT_DIR/<name>.json` every few seconds from a thread, with
the time and whether it is ready (the database answers and migrations are applied, as /readyz
says for the web). `python -m operations.probe <name>` (or `manage.py healthcheck <name>`)
reads it: a stale file means the process is gone or hung (liveness), `"ready": false` that it
cannot work right now (readiness). A stuck
task or pass does not stop the heartbeat; the queue-age and last-pass metrics catch that.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection

from . import probe
from .health import readiness_problems

INTERVAL = probe.INTERVAL
MAX_AGE = probe.MAX_AGE


def path(name: str) -> Path:
    return probe.path(Path(settings.HEARTBEAT_DIR), name)


def beat(name: str) -> dict:
    """Check readiness and write the file (atomically: a probe never reads half of it)."""
    problems = readiness_problems()
    state = {"at": time.time(), "ready": not problems, "problems": problems, "pid": os.getpid()}
    target = path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(state))
    os.replace(temporary, target)
    return state


@contextlib.contextmanager
def running(name: str, interval: float = INTERVAL) -> Iterator[None]:
    """Beat once now, then every `interval` seconds from a thread, until the block ends."""
    beat(name)
    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.wait(interval) and threading.main_thread().is_alive():
                beat(name)
        finally:
            connection.close()

    thread = threading.Thread(target=loop, name=f"{name}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval)
