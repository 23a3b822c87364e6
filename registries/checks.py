"""System checks for the Test connection settings and the auth kinds: a typo in them fails
`manage.py check` (and migrate, which deployments run) instead of the first test a user runs."""

from __future__ import annotations

import ipaddress
import ssl

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured

from .auth_kinds import auth_kinds
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


MIN_KEY_LENGTH = 32


def encryption_key_settings(app_configs, **kwargs) -> list[CheckMessage]:
    """`check --deploy`: the key of stored credentials is long and not SECRET_KEY, as Django
    asks of SECRET_KEY itself (security.W009)."""
    messages: list[CheckMessage] = []
    fallbacks = list(settings.CRYPTOGRAPHY_KEY_FALLBACKS)
    for name, key in [("CRYPTOGRAPHY_KEY", settings.CREDENTIALS_KEY)] + [
        (f"CRYPTOGRAPHY_KEY_FALLBACKS[{index}]", key) for index, key in enumerate(fallbacks)
    ]:
        if len(key) < MIN_KEY_LENGTH or len(set(key)) < 5:
            messages.append(
                Error(
                    f"{name} is too short to protect stored credentials: it has fewer than "
                    f"{MIN_KEY_LENGTH} characters or fewer than 5 different ones.",
                    hint='Generate one, for example: python -c "import secrets; '
                    'print(secrets.token_urlsafe(48))"',
                    id="registries.E005",
                )
            )
        signing_keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        if key in signing_keys:
            messages.append(
                Error(
                    f"{name} is the same as SECRET_KEY (or one of its fallbacks): whoever learns "
                    "one learns both, and rotating SECRET_KEY would mean rotating it too.",
                    hint="Give stored credentials a key of their own.",
                    id="registries.E006",
                )
            )
    return messages


# The form's stylesheet shows each kind's fields for up to this many kinds (app.css).
MAX_AUTH_KINDS = 8


def auth_kind_settings(app_configs, **kwargs) -> list[CheckMessage]:
    try:
        kinds = auth_kinds()
    except ImproperlyConfigured as error:
        return [
            Error(
                str(error),
                hint="List dotted paths to AuthKind classes, like "
                "registries.auth_kinds.basic.BasicAuth.",
                id="registries.E010",
            )
        ]
    if len(kinds) > MAX_AUTH_KINDS:
        return [
            Warning(
                f"REGISTRY_AUTH_KINDS lists {len(kinds)} kinds; the form hides the fields of the "
                f"kinds not chosen for the first {MAX_AUTH_KINDS} only.",
                hint="Add rules for more positions to .auth-fields in static/css/app.css.",
                id="registries.W010",
            )
        ]
    return []
