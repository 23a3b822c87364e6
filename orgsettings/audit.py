"""The audit trail: who changed what in an organization, when and from where.

Services call `audit_record` inside their own transaction, so an event exists exactly when its
change was committed. Apps add their own kinds of event (and the labels of the fields they
record) with `register_event_kinds`, so the trail knows nothing of the features that write to it.
Each event records where the change was made (`AuditSource`): the sync says so itself; the admin
and the management commands run their writes inside `audit_source(...)`; anything else done by a
person is the Settings page.
Secret values are never recorded: a secret field appears only as "set", "changed" or "removed".
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .models import AuditAction, AuditEvent, AuditSource, Organization, Role

SYSTEM_ACTOR = "system"
_current_source: ContextVar[str | None] = ContextVar("audit_source", default=None)
# Fields recorded only as "set", "changed" or "removed"; apps add theirs (register_event_kinds).
SECRET_FIELDS = {"password", "token"}

FIELD_LABELS = {
    "display_name": "Display Name",
    "address": "Address",
    "plain_http": "Plain HTTP",
    "auth_type": "Auth Type",
    "username": "Username",
    "password": "Password",
    "token": "Token",
    "user": "User",
    "role": "Role",
    "name": "Name",
    "slug": "Slug",
    "namespace": "Namespace",
    # Recorded by the cluster sync before deliveries were per cluster.
    "sync_status": "Sync status",
    "sync_error": "Sync error",
}
# Fields whose recorded values are choices: shown with their labels.
VALUE_LABELS: dict[str, dict[str, str]] = {
    "role": dict(Role.choices),
    "sync_status": {"pending": "Pending", "synced": "Synced", "error": "Error"},
}
EVENT_KINDS: dict[str, str] = dict(AuditAction.choices)


def register_event_kinds(
    kinds: Mapping[str, str],
    *,
    field_labels: Mapping[str, str] | None = None,
    value_labels: Mapping[str, Mapping[str, str]] | None = None,
    secret_fields: Iterable[str] = (),
) -> None:
    """Let an app record its own kinds of event ({action: label}), name its fields and say
    which of them are secrets."""
    EVENT_KINDS.update(kinds)
    FIELD_LABELS.update(field_labels or {})
    SECRET_FIELDS.update(secret_fields)
    for name, labels in (value_labels or {}).items():
        VALUE_LABELS.setdefault(name, {}).update(labels)


def event_kind_label(action: str) -> str:
    return EVENT_KINDS.get(action, action)


def audit_record(
    organization: Organization,
    *,
    actor,
    action: str,
    target_type: str,
    target_id: Any,
    target_label: str,
    changes: Mapping[str, Mapping[str, Any]] | None = None,
    ip: str | None = None,
    source: str | None = None,
) -> AuditEvent:
    """Append one event. `actor` is a user, or None for the platform itself ("system").

    `source` defaults to the enclosing `audit_source(...)`, else to the Settings page for a
    person (an event of the platform's own outside both is recorded without a source).

    `changes` maps field names to {"old", "new"}; secret fields must come as {"secret": …}
    (see `field_changes`), and a secret value given any other way is refused.
    """
    event = audit_event(
        organization,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        changes=changes,
        ip=ip,
        source=source,
    )
    event.save()
    return event


def audit_event(
    organization: Organization,
    *,
    actor,
    action: str,
    target_type: str,
    target_id: Any,
    target_label: str,
    changes: Mapping[str, Mapping[str, Any]] | None = None,
    ip: str | None = None,
    source: str | None = None,
) -> AuditEvent:
    """An unsaved event, checked as `audit_record` checks it: for writers that bulk_create."""
    changes = dict(changes or {})
    for name in SECRET_FIELDS & changes.keys():
        if set(changes[name]) != {"secret"}:
            raise ValueError(f"The audit trail never stores the value of {name!r}.")
    if action not in EVENT_KINDS:
        raise ValueError(f"Unknown kind of audit event {action!r}: register it first.")
    return AuditEvent(
        organization=organization,
        organization_slug=organization.slug,
        organization_name=organization.name,
        actor=actor,
        actor_label=actor.get_username() if actor is not None else SYSTEM_ACTOR,
        source=source
        or _current_source.get()
        or (AuditSource.SETTINGS if actor is not None else ""),
        action=action,
        target_type=target_type,
        target_id="" if target_id is None else str(target_id),
        target_label=target_label,
        changes=changes,
        ip=ip,
    )


@contextlib.contextmanager
def audit_source(source: str) -> Iterator[None]:
    """Record the events written inside the block as made from `source`."""
    token = _current_source.set(source)
    try:
        yield
    finally:
        _current_source.reset(token)


def audited_as(source: str) -> Callable:
    """Decorate a function whose writes are all made from `source` (an admin's save_model)."""

    def decorator(function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with audit_source(source):
                return function(*args, **kwargs)

        return wrapper

    return decorator


def actor_display(event: AuditEvent) -> str:
    """Who made the change, and from where when it was not the Settings page:
    "olivia", "oscar (admin)", "System (sync)", "System (command line)"."""
    system = event.actor_id is None and event.actor_label == SYSTEM_ACTOR
    who = "System" if system else event.actor_label
    if event.source and event.source != AuditSource.SETTINGS:
        return f"{who} ({event.get_source_display()})"
    return who


def field_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """What differs between two snapshots of an object's fields (None: it did not exist).

    Values of SECRET_FIELDS are compared here and then dropped: only whether the secret was
    set, changed or removed is kept.
    """
    before, after = before or {}, after or {}
    changes: dict[str, dict[str, Any]] = {}
    for name in [*before, *(name for name in after if name not in before)]:
        old, new = before.get(name), after.get(name)
        # Unchanged, or empty on the side where the object does not exist (no "Username: ''").
        if old == new or (not old and not new and (name in SECRET_FIELDS or None in (old, new))):
            continue
        if name in SECRET_FIELDS:
            changes[name] = {"secret": "removed" if not new else "changed" if old else "set"}
        else:
            changes[name] = {"old": old, "new": new}
    return changes


def change_lines(changes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The changes of an event as sentences for people, in the order they were recorded."""
    lines = []
    for name, change in changes.items():
        label = FIELD_LABELS.get(name, name.replace("_", " ").capitalize())
        if "secret" in change:
            lines.append(f"{label} {change['secret']}")
            continue
        old, new = (_show(name, change.get(side)) for side in ("old", "new"))
        if change.get("old") in (None, ""):
            lines.append(f"{label}: {new}")
        elif change.get("new") in (None, ""):
            lines.append(f"{label}: {old} removed")
        else:
            lines.append(f"{label}: {old} → {new}")
    return lines


def _show(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"“{VALUE_LABELS.get(name, {}).get(value, value)}”"


def client_ip(request: HttpRequest) -> str | None:
    """The address a request came from, for the audit trail.

    REMOTE_ADDR, which a reverse proxy in front of the app must set to the client's address.
    X-Forwarded-For is trusted only when AUDIT_TRUSTED_PROXIES says how many proxies of ours
    append to it: the entry the outermost of them added is the client's; anything to its left
    was sent by the client and could be made up.
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "AUDIT_TRUSTED_PROXIES", 0)
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
