"""`python -m operations.probe worker|reconciler [--ready]`: the exec probe of the worker and
reconciler Deployments, run by the kubelet every few seconds.

It reads the process's heartbeat file (operations/heartbeat.py) and nothing else, and imports no
Django: it costs a few milliseconds instead of a second of CPU for a settings load. Exit 0 when
the beat is fresh (and, with --ready, when the process found the database answering and the
migrations applied); 1 with the reason on standard error otherwise. `manage.py healthcheck` is
the same check for people.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

PROCESSES = ("worker", "reconciler")
INTERVAL = 10.0
# Three missed beats: a liveness probe restarts a process whose file is older than this.
MAX_AGE = 3 * INTERVAL


class ProbeFailed(Exception):
    pass


def default_directory() -> Path:
    # The settings' HEARTBEAT_DIR reads the same variable with the same default.
    return Path(os.environ.get("HEARTBEAT_DIR") or Path(tempfile.gettempdir()) / "orgsettings")


def path(directory: Path, name: str) -> Path:
    return Path(directory) / f"{name}.json"


def read(directory: Path, name: str) -> dict | None:
    try:
        return json.loads(path(directory, name).read_text())
    except (OSError, ValueError):
        return None


def check(name: str, *, directory: Path, ready: bool = False, max_age: float = MAX_AGE) -> str:
    """What the probe says when it passes; ProbeFailed with the reason when it does not."""
    state = read(directory, name)
    if state is None:
        raise ProbeFailed(f"No heartbeat from the {name} at {path(directory, name)}.")
    age = time.time() - float(state.get("at", 0))
    if age > max_age:
        raise ProbeFailed(
            f"The {name}'s last heartbeat is {age:.0f} s old (more than {max_age:g} s)."
        )
    if ready and not state.get("ready"):
        problems = ", ".join(f"{k}: {v}" for k, v in (state.get("problems") or {}).items())
        raise ProbeFailed(f"The {name} is not ready ({problems or 'unknown'}).")
    return f"The {name} is {'ready' if ready else 'alive'}."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m operations.probe", description=__doc__)
    parser.add_argument("process", choices=PROCESSES)
    parser.add_argument("--ready", action="store_true", help="Also require readiness for work.")
    parser.add_argument("--max-age", type=float, default=MAX_AGE)
    arguments = parser.parse_args(argv)
    try:
        print(
            check(
                arguments.process,
                directory=default_directory(),
                ready=arguments.ready,
                max_age=arguments.max_age,
            )
        )
    except ProbeFailed as failure:
        print(failure, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
