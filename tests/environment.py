"""Loaded first by pytest (`-p tests.environment`): test defaults for the settings' environment.

The suite runs with DEBUG off, like production, but over plain HTTP (the test client and the
live server for browser tests), so the HTTPS-only switches are off. Values already set win,
such as DATABASE_URL pointing the suite at PostgreSQL.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

TEST_ENVIRONMENT = {
    "DEBUG": "false",
    "SECRET_KEY": "test-secret-key-for-the-suite-only-000000000000000000000000000",
    "CRYPTOGRAPHY_KEY": "test-cryptography-key-for-the-suite-only-0000000000000000000000",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "STATIC_MANIFEST": "false",
    "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
}

for name, value in TEST_ENVIRONMENT.items():
    os.environ.setdefault(name, value)

# Never sync to whatever cluster the machine running the tests is configured for: cluster tests
# use the fake API server, or the real cluster only when asked with --kube-real.
os.environ["ORGSETTINGS_REAL_KUBECONFIG"] = os.environ.get("KUBECONFIG", "")
os.environ["KUBECONFIG"] = ""


def missing_on_this_machine(message: str) -> NoReturn:
    """Skip a test that needs a program or server this machine lacks; on CI (CI=true), where
    everything must be installed, fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
