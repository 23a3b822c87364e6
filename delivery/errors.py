"""What delivery code shares without importing the cluster gateway (and so `kubernetes`):
the error of a cluster call, the digest of a delivered Secret, reading a kubeconfig."""

from __future__ import annotations

import hashlib

import yaml


class ClusterError(Exception):
    """A failed cluster call. `kind` is stable for code; str() is a short message for people.

    `detail` says what exactly went wrong where that helps an operator at a terminal (which
    file, which key); it is printed by commands, never stored or shown on a page.
    """

    def __init__(
        self, kind: str, message: str, *, retriable: bool = True, detail: str = ""
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retriable = retriable
        self.detail = detail


def secret_digest(data_value: str | None) -> str:
    """sha256 of a Secret's data value: what a target stores of what it delivered."""
    return hashlib.sha256((data_value or "").encode()).hexdigest()


def parse_kubeconfig(text: str) -> dict:
    """A kubeconfig's YAML as a dict; ValueError (without the text) when it is not one."""
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"not valid YAML{where}") from None
    if not isinstance(parsed, dict) or not parsed.get("clusters"):
        raise ValueError("not a kubeconfig: it has no clusters")
    if not parsed.get("current-context") and len(parsed.get("contexts") or []) != 1:
        raise ValueError("it names no current-context")
    return parsed
