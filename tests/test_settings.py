"""Configuration from the environment: safe production defaults and the deploy checklist."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "SECRET_KEY": "prod-" + "k" * 60,
    "CRYPTOGRAPHY_KEY": "prod-" + "c" * 60,
    "ALLOWED_HOSTS": "platform.example.com",
    "SECURE_HSTS_PRELOAD": "true",
    "DATABASE_URL": "sqlite:////tmp/orgsettings-deploy-check.sqlite3",
}


def manage(*args, **env_overrides):
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DEBUG",
            "SECRET_KEY",
            "CRYPTOGRAPHY_KEY",
            "SECURE_SSL_REDIRECT",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "ALLOWED_HOSTS",
            "STATIC_MANIFEST",
        }
    }
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_deploy_check_is_clean_when_configured_for_production(tmp_path):
    # Production serves collected static files: the check wants their manifest there.
    static = {"STATIC_ROOT": str(tmp_path)}
    collected = manage("collectstatic", "--noinput", "--verbosity", "0", **PRODUCTION, **static)
    assert collected.returncode == 0, collected.stderr
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, **static)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr


def test_production_refuses_to_start_without_a_cryptography_key():
    result = manage("check", **{**PRODUCTION, "CRYPTOGRAPHY_KEY": ""})
    assert result.returncode != 0
    assert "Set the CRYPTOGRAPHY_KEY environment variable" in result.stderr


def test_development_falls_back_to_dev_keys_with_a_warning():
    result = manage("check", DEBUG="true", DATABASE_URL=PRODUCTION["DATABASE_URL"])
    assert result.returncode == 0, result.stderr
    assert "WARNING: SECRET_KEY is not set" in result.stderr
    assert "WARNING: CRYPTOGRAPHY_KEY is not set" in result.stderr


def test_an_unknown_rbac_scope_refuses_to_start_and_names_the_choices():
    result = manage("check", **{**PRODUCTION, "REGISTRY_RBAC_SCOPE": "namespace"})
    assert result.returncode != 0
    assert "REGISTRY_RBAC_SCOPE must be cluster or namespaced, not 'namespace'" in result.stderr
