"""The Test connection settings: how they reach the engine, the rate limit, and their checks."""

from __future__ import annotations

import ipaddress

import pytest
from django.core.cache import cache

from registries import probing
from registries.checks import probe_settings

from .factories import UserFactory
from .test_settings import PRODUCTION, manage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()


def check_ids() -> set[str]:
    return {message.id for message in probe_settings(None)}


def test_defaults_refuse_plain_http_and_internal_networks(settings):
    options = probing.probe_options()
    assert options.allow_http is False
    assert options.allowed_networks == ()
    assert options.ca_bundle is None
    assert options.total_timeout == 10


def test_options_follow_the_settings(settings, tmp_path):
    settings.REGISTRY_PROBE_ALLOW_HTTP = True
    settings.REGISTRY_PROBE_ALLOWED_NETWORKS = ["10.20.0.0/16", "fd00::/8"]
    settings.REGISTRY_PROBE_CA_BUNDLE = str(tmp_path / "ca.pem")
    settings.REGISTRY_PROBE_TIMEOUT = 20
    options = probing.probe_options()
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
    assert len(probing.probe_options().allowed_networks) == 2


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
    assert probing.parse_rate(value) == probing.Rate(limit, seconds)


@pytest.mark.parametrize("value", ["", "10", "ten/m", "0/m", "10/w", "-1/m"])
def test_rate_that_is_not_a_number_per_period_is_refused(value):
    with pytest.raises(ValueError, match="not a rate"):
        probing.parse_rate(value)


def test_throttle_counts_each_user_up_to_the_rate(settings):
    settings.REGISTRY_PROBE_RATE = "3/h"
    alice, bob = UserFactory(), UserFactory()
    assert [probing.throttle(alice) for _ in range(3)] == [None, None, None]
    refused = probing.throttle(alice)
    assert refused is not None
    assert 1 <= refused.retry_after <= 3600
    assert "limited to 3 per hour for each person" in refused.message
    assert probing.throttle(bob) is None


def test_throttle_window_ends_with_its_period(settings, monkeypatch):
    settings.REGISTRY_PROBE_RATE = "1/m"
    user = UserFactory()
    monkeypatch.setattr(probing.time, "time", lambda: 6_000_030.0)  # 30 s into a minute
    assert probing.throttle(user) is None
    assert probing.throttle(user).retry_after == 30
    monkeypatch.setattr(probing.time, "time", lambda: 6_000_060.0)  # the next minute
    assert probing.throttle(user) is None


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
