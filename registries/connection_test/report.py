"""What a connection test found: the engine's outcome, and how the page says it.

`ProbeResult` is the engine's answer (one of OUTCOMES and a message in words); `Report` is what
the Settings page and the admin show for it, or for a test the rate limit refused. `Stop` ends a
test early with its result from anywhere in the login flow or the transport. `Redactor` is the
one place that decides how a message may quote what a registry chose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prometheus_client import Counter

OUTCOMES = (
    "ok",
    "unauthorized",
    "not-registry",
    "dns",
    "unreachable",
    "timeout",
    "tls",
    "blocked",
    "insecure-http",
    "rate-limited",
    "untestable",
)

# (title, tone) per engine outcome. The tone only picks the colour: the icon and the title say
# the same, so nothing depends on colour alone.
_TITLES = {
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
_LOGINS = {
    "basic": "Login: Basic (username and password).",
    "bearer": "Login: Bearer (a token from the registry's token service).",
}

TESTS = Counter(
    "orgsettings_connection_tests_total",
    "Connection tests, by outcome (probe outcomes, or `throttled` when our rate limit refused one).",
    ["outcome"],
)


@dataclass(frozen=True)
class ProbeResult:
    outcome: str
    message: str
    auth_scheme: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown probe outcome {self.outcome!r}")

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class Stop(Exception):
    """Ends the test early with its result; never leaves the connection_test package."""

    def __init__(self, result: ProbeResult) -> None:
        super().__init__(result.outcome)
        self.result = result


def stop(outcome: str, message: str, auth_scheme: str = "") -> Stop:
    return Stop(ProbeResult(outcome=outcome, message=message, auth_scheme=auth_scheme))


@dataclass
class Redactor:
    """Quotes values in messages without ever quoting the secret."""

    secret: str
    display: str = ""
    own_host: str = ""

    def shown(self, value: str) -> str:
        """`value` as a message may quote it, when the registry or the network chose it (a
        redirect's host, a token realm, a challenge): a registry that was sent the secret could
        echo it there. The user's own address is quoted as typed, and so is our wording: hiding
        a short secret inside those would show where it occurs, and so what it is."""
        if not self.secret or value in (self.own_host, self.display):
            return value
        # Ignoring case: host names and challenge schemes reach us lower-cased.
        return re.sub(re.escape(self.secret), "[hidden]", value, flags=re.IGNORECASE)


@dataclass(frozen=True)
class Report:
    """What the page shows about one test, or about a test our own rate limit refused."""

    title: str
    message: str
    tone: str  # "ok", "warn" or "error"
    # The engine's outcome (OUTCOMES); empty when our rate limit stopped the test.
    outcome: str = ""
    login: str = ""
    retry_after: int = 0

    @property
    def icon(self) -> str:
        return {"ok": "✓", "warn": "!", "error": "✕"}[self.tone]


def report_for(result: ProbeResult) -> Report:
    title, tone = _TITLES[result.outcome]
    login = _LOGINS.get(result.auth_scheme, "")
    if result.ok and result.auth_scheme == "none":
        # The registry let us in without a login: it works, but the credentials are unproven.
        title, tone = "Registry answers, credentials not checked", "warn"
    return Report(title, result.message, tone, outcome=result.outcome, login=login)
