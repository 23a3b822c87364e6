"""System checks for the Test connection settings: a typo in them fails `manage.py check`
(and migrate, which deployments run) instead of the first test a user runs."""

from __future__ import annotations

import ipaddress
import ssl

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from .connection_test import ProbeOptions, build_ssl_context, parse_networks, parse_rate

# Cloud metadata services answer here with the machine's own credentials.
_METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))


def probe_settings(app_configs, **kwargs) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    networks = settings.REGISTRY_PROBE_ALLOWED_NETWORKS
    try:
        allowed = parse_networks(networks if isinstance(networks, str) else ",".join(networks))
    except ValueError as error:
        messages.append(
            Error(
                f"REGISTRY_PROBE_ALLOWED_NETWORKS: {error}.",
                hint="Use comma-separated CIDRs, like 10.20.0.0/16,fd00:1234::/48.",
                id="registries.E001",
            )
        )
        allowed = ()
    exposed = sorted({str(ip) for ip in _METADATA for net in allowed if ip in net})
    if exposed:
        messages.append(
            Warning(
                f"REGISTRY_PROBE_ALLOWED_NETWORKS lets connection tests reach {', '.join(exposed)}, "
                "a cloud metadata service that hands out the server's own credentials.",
                hint="Allow only the networks of your registries.",
                id="registries.W001",
            )
        )
    bundle = settings.REGISTRY_PROBE_CA_BUNDLE
    if bundle:
        try:
            build_ssl_context(ProbeOptions(ca_bundle=bundle))
        except (OSError, ssl.SSLError) as error:
            messages.append(
                Error(
                    f"REGISTRY_PROBE_CA_BUNDLE: {bundle} cannot be read as PEM certificates "
                    f"({error.strerror or error}).",
                    id="registries.E002",
                )
            )
    if not float(settings.REGISTRY_PROBE_TIMEOUT) > 0:
        messages.append(
            Error(
                "REGISTRY_PROBE_TIMEOUT must be a number of seconds above 0.", id="registries.E003"
            )
        )
    try:
        parse_rate(settings.REGISTRY_PROBE_RATE)
    except ValueError as error:
        messages.append(Error(f"REGISTRY_PROBE_RATE: {error}.", id="registries.E004"))
    return messages
