"""Test connection: log in to a registry from this server, now, as a container runtime would.

The package's parts, each with one job:

- `login_flow`: the registry login protocol (`GET /v2/`, Basic, or a Bearer token from the
  registry's token service) and the entry point `probe_registry`;
- `transport`: HTTP to checked addresses only, redirects, TLS, and one deadline for the test;
- `address_policy`: which addresses may be reached (SSRF: public ones and allowed networks);
- `report`: the outcomes, their messages without secrets, and what the page shows for each;
- `options`: the operator's settings; `rate_limit`: tests per person.

Results are never stored: every test logs in again, so what the page shows is what the registry
answered just now. Call `check_login` outside any database transaction: it is network I/O
bounded by REGISTRY_PROBE_TIMEOUT.
"""

from __future__ import annotations

from dataclasses import replace

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from ..auth_kinds import LoginUnavailable
from .address_policy import parse_networks
from .login_flow import probe_registry
from .options import ProbeOptions, parse_rate, probe_options
from .rate_limit import take_test_slot
from .report import OUTCOMES, TESTS, ProbeResult, Report, report_for
from .transport import build_ssl_context

__all__ = [
    "OUTCOMES",
    "ProbeOptions",
    "ProbeResult",
    "Report",
    "build_ssl_context",
    "check_login",
    "parse_networks",
    "parse_rate",
    "probe_options",
    "probe_registry",
    "report_for",
    "take_test_slot",
]


@sensitive_variables("registry", "login")
def check_login(registry) -> Report:
    """Log in to the registry's address with its credentials (saved or not) and report."""
    if registry.credentials_unreadable:
        # Testing would send an empty secret and blame the registry for refusing it.
        return Report(
            title="Stored credentials unreadable",
            message=f"{registry.credentials_problem} Nothing was tested.",
            tone="error",
            outcome="untestable",
        )
    try:
        login = registry.kind.login_to_test(registry, now=timezone.now())
    except LoginUnavailable as unavailable:
        TESTS.labels(unavailable.outcome).inc()
        report = report_for(ProbeResult(unavailable.outcome, unavailable.message))
        return replace(report, title=unavailable.title) if unavailable.title else report
    result = probe_registry(
        address=registry.address,
        plain_http=registry.plain_http,
        username=login.username,
        secret=login.secret,
        options=probe_options(),
    )
    TESTS.labels(result.outcome).inc()
    return report_for(result)
