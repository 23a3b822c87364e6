"""Log lines for people (`LOG_FORMAT=text`) or for log collectors (`LOG_FORMAT=json`: one JSON
object per line).

Every line logged while a request is served carries its request ID and, on an organization's
pages, the organization's slug. This module imports nothing of Django: gunicorn's master
process uses the formatter before the application is loaded.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_organization: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "organization", default=None
)


@contextmanager
def request_context(request_id: str) -> Iterator[None]:
    """Tag the log lines of one request with its ID (and, once known, the organization)."""
    id_token = _request_id.set(request_id)
    organization_token = _organization.set(None)
    try:
        yield
    finally:
        _organization.reset(organization_token)
        _request_id.reset(id_token)


def set_organization(slug: str) -> None:
    _organization.set(slug)


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `organization` to every record logged during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _request_id.get()
        if request_id is not None:
            record.request_id = request_id
        organization = _organization.get()
        if organization is not None:
            record.organization = organization
        return True


class JsonFormatter(_JsonFormatter):
    """`{"time", "level", "logger", "message", ...}`, plus any `extra` the caller passed."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        kwargs.setdefault("datefmt", "%Y-%m-%dT%H:%M:%S%z")
        super().__init__(*args, **kwargs)
