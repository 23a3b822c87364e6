"""What the operator decided about connection tests: reached networks, CA bundle, plain HTTP,
timeouts, and the rate per person. Read from settings on every test, so changes apply at once."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from .address_policy import IPNetwork, parse_networks

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PERIOD_NAMES = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}
MAX_TESTS_PER_PERIOD = 100
_RATE_RE = re.compile(r"^\s*([0-9]+)\s*/\s*(s|m|h|d|second|minute|hour|day)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ProbeOptions:
    """What the operator decided; read from settings by the caller, never per request."""

    allow_http: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    # An operator PEM bundle trusted in addition to the system roots.
    ca_bundle: str | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    total_timeout: float = 10.0
    max_response_bytes: int = 64 * 1024


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
        # Each test in the period holds a cache entry (see rate_limit).
        raise ValueError(
            f"{value!r} allows more than {MAX_TESTS_PER_PERIOD} tests per period; "
            "use a shorter period (100/m rather than 6000/h)"
        )
    return rate
