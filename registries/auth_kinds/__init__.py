"""The auth kinds a registry can use, loaded from the REGISTRY_AUTH_KINDS setting.

Modelled on Django's PASSWORD_HASHERS: the setting lists dotted paths to AuthKind classes, and
`auth_kinds()` holds one instance of each, in the setting's order (the form's order). See
base.py for what a kind is and how to add one.
"""

from __future__ import annotations

import contextlib
import functools

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .base import (
    EXPIRY_WARNING_DAYS,
    AuthKind,
    Expiry,
    Login,
    LoginUnavailable,
    date_expiry,
    secret_field,
)
from .basic import BasicAuth
from .token import Token

__all__ = [
    "EXPIRY_WARNING_DAYS",
    "AuthKind",
    "AuthType",
    "Expiry",
    "Login",
    "LoginUnavailable",
    "UnknownAuthKind",
    "auth_kind_choices",
    "auth_kinds",
    "date_expiry",
    "get_auth_kind",
    "secret_field",
    "secret_parameters",
]

DEFAULT_AUTH_KINDS = [
    "registries.auth_kinds.basic.BasicAuth",
    "registries.auth_kinds.token.Token",
]


class AuthType(models.TextChoices):
    """The stored values of the built-in kinds, for code that names one of them (the form and
    the model read the configured kinds instead)."""

    BASIC = BasicAuth.value, BasicAuth.label
    TOKEN = Token.value, Token.label


class UnknownAuthKind(LookupError):
    """A stored Auth Type that no configured kind has (its kind was taken out of the setting)."""


@functools.cache
def _loaded() -> dict[str, AuthKind]:
    kinds: dict[str, AuthKind] = {}
    for path in getattr(settings, "REGISTRY_AUTH_KINDS", DEFAULT_AUTH_KINDS):
        try:
            kind_class = import_string(path)
        except ImportError as error:
            raise ImproperlyConfigured(f"REGISTRY_AUTH_KINDS: cannot import {path!r}.") from error
        if not (isinstance(kind_class, type) and issubclass(kind_class, AuthKind)):
            raise ImproperlyConfigured(f"REGISTRY_AUTH_KINDS: {path!r} is not an AuthKind.")
        kind = kind_class()
        if kind.value in kinds:
            raise ImproperlyConfigured(f"REGISTRY_AUTH_KINDS lists {kind.value!r} twice.")
        kinds[kind.value] = kind
    if not kinds:
        raise ImproperlyConfigured("REGISTRY_AUTH_KINDS lists no auth kind.")
    return kinds


def auth_kinds() -> list[AuthKind]:
    """Every configured kind, in the setting's order."""
    return list(_loaded().values())


def get_auth_kind(value: str) -> AuthKind:
    """The configured kind stored as `value` ("BasicAuth"), or UnknownAuthKind."""
    try:
        return _loaded()[value]
    except KeyError:
        raise UnknownAuthKind(f"No configured auth kind is stored as {value!r}.") from None


def secret_parameters() -> list[str]:
    """Every configured kind's write-only field names, for sensitive_post_parameters."""
    return sorted({name for kind in auth_kinds() for name in kind.secret_fields})


def auth_kind_choices() -> list[tuple[str, str]]:
    """The model field's choices (a callable, so migrations do not list the kinds)."""
    return [(kind.value, kind.label) for kind in auth_kinds()]


def register_audit_fields() -> None:
    """Tell the audit trail each kind's field labels, and that its secrets are secrets (recorded
    only as "set", "changed" or "removed")."""
    from orgsettings.audit import register_event_kinds

    labels: dict[str, str] = {"expires_on": "Expires on"}
    secrets: set[str] = set()
    for kind in auth_kinds():
        labels.update({name: str(field.label) for name, field in kind.form_fields().items()})
        secrets.update(kind.secret_fields)
    register_event_kinds({}, field_labels=labels, secret_fields=secrets)


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs) -> None:
    if setting == "REGISTRY_AUTH_KINDS":
        _loaded.cache_clear()
        # A wrong setting is said again where the kinds are used.
        with contextlib.suppress(ImproperlyConfigured):
            register_audit_fields()
