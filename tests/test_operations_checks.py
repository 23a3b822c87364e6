"""`manage.py check` (and so `migrate`, and the web server's start) stops a broken deploy with
a clear message instead of a 500 or a 400 on every page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from operations.checks import production_settings, refuse_to_start

ROOT = Path(__file__).resolve().parent.parent


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_production_settings_as_the_suite_runs_them_pass():
    assert production_settings() == []


def test_server_timeout_must_exceed_the_connection_test_timeout(settings):
    settings.REGISTRY_PROBE_TIMEOUT = 10
    settings.GUNICORN_TIMEOUT = 15
    (error,) = production_settings()
    assert error.id == "operations.E001"
    assert (
        "GUNICORN_TIMEOUT (15 s) must be above REGISTRY_PROBE_TIMEOUT (10 s) plus 5 s" in error.msg
    )
    settings.GUNICORN_TIMEOUT = 16
    assert production_settings() == []


def test_missing_static_manifest_says_run_collectstatic(settings, tmp_path):
    settings.STATIC_MANIFEST = True
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    (error,) = production_settings()
    assert error.id == "operations.E003"
    assert str(tmp_path / "staticfiles.json") in error.msg
    assert "collectstatic" in error.hint
    with pytest.raises(ImproperlyConfigured, match=r"operations\.E003"):
        refuse_to_start()


def test_empty_allowed_hosts_is_an_error(settings):
    settings.ALLOWED_HOSTS = []
    assert ids(production_settings()) == ["operations.E004"]


def test_debug_mode_skips_the_production_checks(settings):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = []
    assert production_settings() == []


def test_unparsable_metrics_networks_are_an_error(settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "intranet"]
    (error,) = production_settings()
    assert error.id == "operations.E002"
    assert "'intranet'" in error.msg


def manage(*args: str, **environment: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "CRYPTOGRAPHY_KEY")}
    env.update(environment)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_deploy_names_a_missing_key_without_a_traceback():
    result = manage("check", "--deploy", CRYPTOGRAPHY_KEY="set-but-not-the-other-0000000000000")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: Set the SECRET_KEY environment variable (or DEBUG=true for development)."
    )


def test_check_deploy_refuses_development_keys():
    result = manage("check", "--deploy", DEBUG="true")
    assert result.returncode == 1
    assert "operations.E005) SECRET_KEY is the development-only fallback" in result.stderr
    assert "operations.E005) CRYPTOGRAPHY_KEY is the development-only fallback" in result.stderr


def test_migrate_stops_on_a_missing_static_manifest(tmp_path):
    result = manage(
        "migrate",
        "--check",
        STATIC_MANIFEST="true",
        STATIC_ROOT=str(tmp_path),
        SECRET_KEY="k" * 50,
        CRYPTOGRAPHY_KEY="c" * 50,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    assert result.returncode == 1
    assert "operations.E003" in result.stderr
    assert "Run `python manage.py collectstatic`" in result.stderr
