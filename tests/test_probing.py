"""The Test connection settings: how they reach the engine, the rate limit, and their checks."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time
import uuid
from types import SimpleNamespace

import pytest
import redis
from django.core.cache import cache

from registries import connection_test
from registries.checks import probe_settings
from registries.connection_test import options as operator_options
from registries.connection_test import rate_limit

from .environment import missing_on_this_machine
from .factories import UserFactory
from .test_settings import PRODUCTION, ROOT, manage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()


def check_ids() -> set[str]:
    return {message.id for message in probe_settings(None)}


def test_defaults_refuse_plain_http_and_internal_networks(settings):
    options = operator_options.probe_options()
    assert options.allow_http is False
    assert options.allowed_networks == ()
    assert options.ca_bundle is None
    assert options.total_timeout == 10


def test_options_follow_the_settings(settings, tmp_path):
    settings.REGISTRY_PROBE_ALLOW_HTTP = True
    settings.REGISTRY_PROBE_ALLOWED_NETWORKS = ["10.20.0.0/16", "fd00::/8"]
    settings.REGISTRY_PROBE_CA_BUNDLE = str(tmp_path / "ca.pem")
    settings.REGISTRY_PROBE_TIMEOUT = 20
    options = operator_options.probe_options()
    assert options.allow_http is True
    assert options.allowed_networks == (
        ipaddress.ip_network("10.20.0.0/16"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert options.ca_bundle == str(tmp_path / "ca.pem")
    # One total; the connection and each read get a share of it.
    assert (options.connect_timeout, options.read_timeout, options.total_timeout) == (6, 10, 20)


def test_allowed_networks_may_be_one_comma_separated_string(settings):
    settings.REGISTRY_PROBE_ALLOWED_NETWORKS = "10.0.0.0/8, 192.168.5.7"
    assert len(operator_options.probe_options().allowed_networks) == 2


@pytest.mark.parametrize(
    ("value", "limit", "seconds"),
    [
        ("10/m", 10, 60),
        ("1/s", 1, 1),
        ("30/h", 30, 3600),
        ("100/d", 100, 86400),
        ("5/minute", 5, 60),
    ],
)
def test_rate_is_a_number_per_period(value, limit, seconds):
    assert operator_options.parse_rate(value) == operator_options.Rate(limit, seconds)


@pytest.mark.parametrize("value", ["", "10", "ten/m", "0/m", "10/w", "-1/m"])
def test_rate_that_is_not_a_number_per_period_is_refused(value):
    with pytest.raises(ValueError, match="not a rate"):
        operator_options.parse_rate(value)


def test_rate_over_a_hundred_per_period_asks_for_a_shorter_period():
    assert operator_options.parse_rate("100/m") == operator_options.Rate(100, 60)
    with pytest.raises(ValueError, match=r"more than 100 tests per period; use a shorter period"):
        operator_options.parse_rate("6000/h")


def test_throttle_counts_each_user_up_to_the_rate(settings):
    settings.REGISTRY_PROBE_RATE = "3/h"
    alice, bob = UserFactory(), UserFactory()
    assert [connection_test.take_test_slot(alice) for _ in range(3)] == [None, None, None]
    refused = connection_test.take_test_slot(alice)
    assert refused is not None
    assert 1 <= refused.retry_after <= 3600
    assert "limited to 3 per hour for each person" in refused.message
    assert connection_test.take_test_slot(bob) is None


def test_throttle_window_slides_with_each_test(settings, monkeypatch):
    settings.REGISTRY_PROBE_RATE = "2/m"
    user = UserFactory()
    clock = {"now": 6_000_030.0}  # 30 s into a minute
    monkeypatch.setattr(rate_limit.time, "time", lambda: clock["now"])

    def throttle_at(seconds_later: float):
        clock["now"] = 6_000_030.0 + seconds_later
        return connection_test.take_test_slot(user)

    assert throttle_at(0) is None
    assert throttle_at(20) is None
    assert throttle_at(25).retry_after == 35
    # A new minute begins at 30 s: a fixed window would allow two more tests here.
    assert throttle_at(31).retry_after == 29
    assert throttle_at(59.5).retry_after == 1
    # The first test's slot frees a full minute after it; the second's 20 s later.
    assert throttle_at(60) is None
    assert throttle_at(61).retry_after == 19
    assert throttle_at(80) is None


def test_refused_tests_do_not_push_the_next_allowed_one_back(settings, monkeypatch):
    settings.REGISTRY_PROBE_RATE = "1/m"
    user = UserFactory()
    clock = {"now": 6_000_000.0}
    monkeypatch.setattr(rate_limit.time, "time", lambda: clock["now"])
    assert connection_test.take_test_slot(user) is None
    for second in range(1, 60, 5):
        clock["now"] = 6_000_000.0 + second
        assert connection_test.take_test_slot(user).retry_after == 60 - second
    clock["now"] = 6_000_060.0
    assert connection_test.take_test_slot(user) is None


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
THROTTLE_IN_ANOTHER_PROCESS = """
from types import SimpleNamespace
from registries import connection_test
from registries.connection_test import options as operator_options
from registries.connection_test import rate_limit
report = connection_test.take_test_slot(SimpleNamespace(pk="{pk}"))
print("refused" if report else "allowed")
"""


@pytest.fixture
def redis_cache(settings):
    """The default cache in Redis, as with several web processes; skips without a Redis server."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        message = f"no Redis server at {REDIS_URL} (set TEST_REDIS_URL)"
        missing_on_this_machine(message)
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    pk = f"test-{uuid.uuid4().hex}"
    yield pk
    for key in client.scan_iter(f"*registry-probe-rate:{pk}:*"):
        client.delete(key)


def test_web_processes_sharing_redis_share_one_limit(settings, redis_cache):
    settings.REGISTRY_PROBE_RATE = "3/m"
    env = {**os.environ, "CACHE_URL": REDIS_URL, "REGISTRY_PROBE_RATE": "3/m"}
    script = THROTTLE_IN_ANOTHER_PROCESS.format(pk=redis_cache)
    started = time.time()
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "shell", "--verbosity=0", "-c", script],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(5)
    ]
    answers = sorted(process.communicate(timeout=60)[0].strip() for process in processes)
    assert answers == ["allowed"] * 3 + ["refused"] * 2
    refused = connection_test.take_test_slot(SimpleNamespace(pk=redis_cache))
    assert refused is not None
    # The oldest slot was taken after `started`, so it frees at most 60 s from then.
    assert 60 - (time.time() - started) - 1 <= refused.retry_after <= 60


def test_default_settings_pass_the_checks(settings):
    assert check_ids() == set()


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("REGISTRY_PROBE_ALLOWED_NETWORKS", ["10.0.0.0/33"], "registries.E001"),
        ("REGISTRY_PROBE_ALLOWED_NETWORKS", ["registry.internal"], "registries.E001"),
        ("REGISTRY_PROBE_ALLOWED_NETWORKS", ["169.254.0.0/16"], "registries.W001"),
        ("REGISTRY_PROBE_ALLOWED_NETWORKS", ["0.0.0.0/0"], "registries.W001"),
        ("REGISTRY_PROBE_CA_BUNDLE", "/nonexistent/ca.pem", "registries.E002"),
        ("REGISTRY_PROBE_TIMEOUT", 0, "registries.E003"),
        ("REGISTRY_PROBE_RATE", "lots", "registries.E004"),
    ],
)
def test_bad_settings_fail_the_checks(settings, name, value, check_id):
    setattr(settings, name, value)
    assert check_ids() == {check_id}


def test_ca_bundle_that_is_not_pem_fails_the_checks(settings, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate")
    settings.REGISTRY_PROBE_CA_BUNDLE = str(bundle)
    assert check_ids() == {"registries.E002"}


def test_operator_ca_bundle_passes_the_checks(settings, pki):
    settings.REGISTRY_PROBE_CA_BUNDLE = str(pki.ca_pem)
    assert check_ids() == set()


def test_manage_check_reports_a_bad_allow_list_from_the_environment():
    result = manage("check", **PRODUCTION, REGISTRY_PROBE_ALLOWED_NETWORKS="10.0.0.0/8,intranet")
    assert result.returncode != 0
    assert "registries.E001" in result.stderr
    assert "REGISTRY_PROBE_ALLOWED_NETWORKS" in result.stderr
