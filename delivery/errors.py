"""What delivery code passes around without importing the cluster gateway (and so
`kubernetes`): the error of a cluster call, and the digest of a delivered Secret."""

from __future__ import annotations

import hashlib


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
