"""Checks that stop a broken deploy at `manage.py check` or `migrate` (which the migrations Job
runs first), and at the web server's start, instead of a 500 on every page.

They apply in production mode (DEBUG off), except the server-timeout check, which always does.
Missing SECRET_KEY or CRYPTOGRAPHY_KEY already stop the settings from loading (manage.py says
which); here, a development fallback key in use is refused.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured

# The server must outlive a connection test (REGISTRY_PROBE_TIMEOUT) by this much.
TIMEOUT_MARGIN_SECONDS = 5


def production_settings(app_configs=None, **kwargs) -> list[CheckMessage]:
    messages = [*_server_timeout(), *_metrics_networks()]
    if settings.DEBUG:
        return messages
    messages += _static_manifest() + _allowed_hosts() + _development_keys()
    return messages


def deploy_settings(app_configs=None, **kwargs) -> list[CheckMessage]:
    """`check --deploy` with DEBUG on: what production mode would refuse."""
    if not settings.DEBUG:
        return []  # production_settings has said it already.
    return _static_manifest() + _allowed_hosts() + _development_keys()


def _server_timeout() -> list[CheckMessage]:
    timeout, probe = settings.GUNICORN_TIMEOUT, float(settings.REGISTRY_PROBE_TIMEOUT)
    if timeout > probe + TIMEOUT_MARGIN_SECONDS:
        return []
    return [
        Error(
            f"GUNICORN_TIMEOUT ({timeout} s) must be above REGISTRY_PROBE_TIMEOUT ({probe:g} s) "
            f"plus {TIMEOUT_MARGIN_SECONDS} s: a connection test could outlast the web worker "
            "serving it.",
            hint=f"Set GUNICORN_TIMEOUT to at least {int(probe) + TIMEOUT_MARGIN_SECONDS + 1}.",
            id="operations.E001",
        )
    ]


def _metrics_networks() -> list[CheckMessage]:
    from .metrics import allowed_networks

    try:
        allowed_networks()
    except ValueError as error:
        return [
            Error(
                f"METRICS_ALLOWED_NETWORKS: {error}.",
                hint="Use comma-separated CIDRs, like 10.0.0.0/8.",
                id="operations.E002",
            )
        ]
    return []


def _static_manifest() -> list[CheckMessage]:
    if not settings.STATIC_MANIFEST:
        return []
    manifest = getattr(staticfiles_storage, "manifest_name", None)
    if manifest is None or staticfiles_storage.exists(manifest):
        return []
    return [
        Error(
            f"STATIC_MANIFEST is on, but {staticfiles_storage.path(manifest)} does not exist: "
            "every page would fail.",
            hint="Run `python manage.py collectstatic` (the image does it at build time), or "
            "check STATIC_ROOT.",
            id="operations.E003",
        )
    ]


def _allowed_hosts() -> list[CheckMessage]:
    if settings.ALLOWED_HOSTS:
        return []
    return [
        Error(
            "ALLOWED_HOSTS is empty: every request would be refused with 400.",
            hint="Set ALLOWED_HOSTS to the host names users reach the platform at, like "
            "platform.example.com.",
            id="operations.E004",
        )
    ]


def _development_keys() -> list[CheckMessage]:
    return [
        Error(
            f"{name} is the development-only fallback.",
            hint=f"Set the {name} environment variable to a new random value.",
            id="operations.E005",
        )
        for name in getattr(settings, "DEVELOPMENT_KEYS_IN_USE", [])
    ]


def refuse_to_start() -> None:
    """For the WSGI entry point: a web server with these errors would answer 500s or 400s
    only, so it does not start, and its log says why."""
    errors = production_settings()
    if errors:
        lines = "\n".join(f"{error.id}: {error.msg} {error.hint or ''}".strip() for error in errors)
        raise ImproperlyConfigured(f"The platform cannot start:\n{lines}")
