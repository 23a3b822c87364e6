"""Test connection for the Settings page: the operator's probe settings, the per-user rate limit,
and what the page says about each outcome. The login itself is registries/probe.py.

Results are never stored: every test logs in again, so what the page shows is what the registry
answered just now.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.views.decorators.debug import sensitive_variables
from prometheus_client import Counter

from .models import ContainerRegistry
from .probe import ProbeOptions, ProbeResult, parse_networks, probe_registry

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PERIOD_NAMES = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}
MAX_TESTS_PER_PERIOD = 100
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(s|m|h|d|second|minute|hour|day)\s*$", re.IGNORECASE)

# (title, tone) per engine outcome. The tone only picks the colour: the icon and the title say
# the same, so nothing depends on colour alone.
_OUTCOMES = {
    "ok": ("Connection works", "ok"),
    "unauthorized": ("Credentials rejected", "error"),
    "not-registry": ("Not a container registry", "error"),
    "dns": ("Host name not found", "error"),
    "unreachable": ("Registry unreachable", "error"),
    "timeout": ("No answer in time", "error"),
    "tls": ("Secure connection failed", "error"),
    "blocked": ("Address not allowed", "warn"),
    "insecure-http": ("Plain HTTP not tested", "warn"),
    "rate-limited": ("The registry is limiting requests", "warn"),
    "untestable": ("Cannot be tested", "warn"),
}
TESTS = Counter(
    "orgsettings_connection_tests_total",
    "Connection tests, by outcome (probe outcomes, or `throttled` when our rate limit refused one).",
    ["outcome"],
)
_LOGINS = {
    "basic": "Login: Basic (username and password).",
    "bearer": "Login: Bearer (a token from the registry's token service).",
}


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.limit} per {_PERIOD_NAMES[self.seconds]}"


def parse_rate(value: str) -> Rate:
    """Parse REGISTRY_PROBE_RATE: `10/m` is ten tests per minute (s, m, h or d)."""
    match = _RATE_RE.match(value or "")
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"{value!r} is not a rate like 10/m (a number, then /s, /m, /h or /d)")
    rate = Rate(int(match.group(1)), _PERIODS[match.group(2)[0].lower()])
    if rate.limit > MAX_TESTS_PER_PERIOD:
        # Each test in the period holds a cache entry (see throttle).
        raise ValueError(
            f"{value!r} allows more than {MAX_TESTS_PER_PERIOD} tests per period; "
            "use a shorter period (100/m rather than 6000/h)"
        )
    return rate


def probe_options() -> ProbeOptions:
    """The operator's settings for the engine, read on every test so changes apply at once."""
    networks = settings.REGISTRY_PROBE_ALLOWED_NETWORKS
    if not isinstance(networks, str):
        networks = ",".join(networks)
    total = float(settings.REGISTRY_PROBE_TIMEOUT)
    return ProbeOptions(
        allow_http=settings.REGISTRY_PROBE_ALLOW_HTTP,
        allowed_networks=parse_networks(networks),
        ca_bundle=settings.REGISTRY_PROBE_CA_BUNDLE or None,
        # One slow step (a connection, a read) must not use up the whole test by itself.
        connect_timeout=total * 0.3,
        read_timeout=total * 0.5,
        total_timeout=total,
    )


@dataclass(frozen=True)
class Report:
    """What the page shows about one test, or about a test our own rate limit refused."""

    title: str
    message: str
    tone: str  # "ok", "warn" or "error"
    # The engine's outcome (probe.OUTCOMES); empty when our rate limit stopped the test.
    outcome: str = ""
    login: str = ""
    retry_after: int = 0

    @property
    def icon(self) -> str:
        return {"ok": "✓", "warn": "!", "error": "✕"}[self.tone]


def report_for(result: ProbeResult) -> Report:
    title, tone = _OUTCOMES[result.outcome]
    login = _LOGINS.get(result.auth_scheme, "")
    if result.ok and result.auth_scheme == "none":
        # The registry let us in without a login: it works, but the credentials are unproven.
        title, tone = "Registry answers, credentials not checked", "warn"
    return Report(title, result.message, tone, outcome=result.outcome, login=login)


@sensitive_variables("registry")
def check_login(registry: ContainerRegistry) -> Report:
    """Log in to the registry's address with its credentials (saved or not) and report.

    This is network I/O bounded by REGISTRY_PROBE_TIMEOUT; call it outside any transaction.
    """
    result = probe_registry(
        address=registry.address,
        plain_http=registry.plain_http,
        username=registry.login_username,
        secret=registry.login_secret,
        options=probe_options(),
    )
    TESTS.labels(result.outcome).inc()
    return report_for(result)


def throttle(user) -> Report | None:
    """Take one of `user`'s tests for the period; the report to show instead when none is free.

    A sliding window, exact to the second: the rate's limit is a number of slots per user in the
    cache, each taken with an atomic `add` that expires one period later. A test runs only if it
    takes a free slot, so no period-long span ever holds more tests than the limit (a fixed window
    would allow twice the limit across its boundary), and a refused test takes nothing. Web
    processes sharing one cache (Redis) share the slots.
    """
    rate = parse_rate(settings.REGISTRY_PROBE_RATE)
    keys = [f"registry-probe-rate:{user.pk}:{rate.seconds}:{slot}" for slot in range(rate.limit)]
    taken = cache.get_many(keys)
    now = time.time()
    for key in keys:
        if key not in taken and cache.add(key, now, timeout=rate.seconds):
            return None
    # Every slot was taken, some perhaps by a test in another process since get_many.
    taken = cache.get_many(keys)
    if len(taken) < len(keys):
        # A slot expired just now; the next click will find it.
        retry_after = 1
    else:
        retry_after = max(1, math.ceil(min(taken.values()) + rate.seconds - now))
    TESTS.labels("throttled").inc()
    return Report(
        title="Too many tests",
        message=(
            f"Connection tests are limited to {rate} for each person. "
            f"Try again in {_duration(retry_after)}."
        ),
        tone="warn",
        retry_after=retry_after,
    )


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 90 * 60:
        minutes = math.ceil(seconds / 60)
        return f"{minutes} minutes"
    hours = math.ceil(seconds / 3600)
    return f"{hours} hours"
