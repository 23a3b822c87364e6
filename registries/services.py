"""Writes to registries. Each runs in one transaction, validates before it saves and records
the change in the audit trail; what has to happen outside the database (cluster sync) is
scheduled on commit by signals."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import F

from orgsettings.audit import audit_record, field_changes
from orgsettings.models import AuditAction, Organization

from .auth_kinds import Login, UnknownAuthKind, auth_kinds
from .models import ContainerRegistry


class RegistryChangedError(Exception):
    """The registry was saved by someone else since the editor loaded it."""

    def __init__(self, current: ContainerRegistry | None) -> None:
        super().__init__("The registry was changed by someone else.")
        self.current = current


@transaction.atomic
def registry_create(
    organization: Organization,
    *,
    actor,
    display_name: str,
    address: str,
    auth_type: str,
    username: str = "",
    plain_http: bool = False,
    expires_on: datetime.date | None = None,
    ip: str | None = None,
    **credentials: str | None,
) -> ContainerRegistry:
    """Add a registry; `credentials` are its auth kind's fields (password=…, token=…)."""
    registry = ContainerRegistry(
        organization=organization,
        display_name=display_name,
        address=address,
        plain_http=plain_http,
        auth_type=auth_type,
        username=username,
        expires_on=expires_on,
        created_by=actor,
        updated_by=actor,
    )
    _store_credentials(registry, credentials)
    registry.full_clean()
    registry.save()
    _audit(registry, actor, ip, AuditAction.REGISTRY_CREATED, None, _audited_fields(registry))
    return registry


@transaction.atomic
def registry_update(
    registry: ContainerRegistry,
    *,
    actor,
    expected_version: int | None,
    ip: str | None = None,
    **fields,
) -> ContainerRegistry:
    """Apply `fields`; an auth kind's secret given as None (or left out) keeps the stored one
    (for the same Auth Type).

    `expected_version` is the version the editor read. The save is refused with
    RegistryChangedError when the registry was saved by someone else since, and also when no
    version is given: an edit that does not say what it was based on could overwrite anything.
    A save that changes nothing writes nothing: the version, "Last changed" and the audit trail
    stay as they were, and no delivery is requested; the stored registry comes back unchanged.
    """
    stored = ContainerRegistry.objects.filter(pk=registry.pk).first()
    if stored is None or expected_version is None or expected_version != stored.version:
        raise RegistryChangedError(stored)
    before = _audited_fields(stored)
    kind_fields = _kind_field_names()
    for name, value in fields.items():
        if name not in kind_fields:
            setattr(stored, name, value)
    _store_credentials(stored, {k: v for k, v in fields.items() if k in kind_fields})
    if _audited_fields(stored) == before:
        return stored
    # The conditional bump is the lock: of two concurrent saves based on one version, one wins.
    bumped = ContainerRegistry.objects.filter(pk=stored.pk, version=stored.version)
    if not bumped.update(version=F("version") + 1):
        raise RegistryChangedError(ContainerRegistry.objects.filter(pk=registry.pk).first())
    stored.version += 1
    stored.updated_by = actor
    stored.full_clean()
    stored.save()
    _audit(stored, actor, ip, AuditAction.REGISTRY_UPDATED, before, _audited_fields(stored))
    return stored


@transaction.atomic
def registry_delete(registry: ContainerRegistry, *, actor, ip: str | None = None) -> None:
    # The event keeps the registry's name and address as text: it outlives the row.
    _audit(registry, actor, ip, AuditAction.REGISTRY_DELETED, _audited_fields(registry), None)
    registry.delete()


@transaction.atomic
def registry_login_issue(
    registry: ContainerRegistry, *, login: Login | None, state: dict | None = None
) -> ContainerRegistry:
    """Store a login the registry's kind obtained itself (a minted token), and its bookkeeping.

    For kinds that refresh their logins (Amazon ECR). The version is bumped, so the reconciler
    sees that the delivered Secret is behind, and the save requests a delivery like any change.
    It is not a person's change: "Last changed" and the audit trail stay as they were (a kind
    records its own failures). Only the issued columns are written, so a concurrent edit of the
    registry's other fields is not overwritten.
    """
    stored = ContainerRegistry.objects.select_for_update().get(pk=registry.pk)
    stored.set_issued_login(login)
    if state is not None:
        stored.kind_state = state
    stored.version += 1
    stored.save(update_fields=["issued_login", "issued_expires_at", "kind_state", "version"])
    return stored


_AUDITED_FIELDS = ("display_name", "address", "plain_http", "auth_type", "username")


def _kind_field_names() -> set[str]:
    return {name for kind in auth_kinds() for name in kind.field_names()}


def _audited_fields(registry: ContainerRegistry) -> dict:
    """The fields the trail compares; the secrets only to tell whether they changed."""
    values = {name: getattr(registry, name) for name in _AUDITED_FIELDS}
    values["expires_on"] = registry.expires_on.isoformat() if registry.expires_on else None
    try:
        kind = registry.kind
    except UnknownAuthKind:
        return values  # refused by full_clean() before anything is saved
    values.update({name: kind.read(registry, name) for name in kind.field_names()})
    return values


def registry_event_record(
    registry: ContainerRegistry, *, actor, action: str, changes: dict, ip: str | None = None
) -> None:
    """Record an event about `registry` in its organization's audit trail (actor None: the
    platform itself), in the caller's transaction."""
    audit_record(
        registry.organization,
        actor=actor,
        action=action,
        target_type="registry",
        target_id=registry.pk,
        target_label=registry.display_name,
        changes=changes,
        ip=ip,
    )


def _audit(registry: ContainerRegistry, actor, ip, action: str, before, after) -> None:
    changes = field_changes(before, after)
    # A save that changed nothing (the same values submitted again) is not an event.
    if changes or action != AuditAction.REGISTRY_UPDATED:
        registry_event_record(registry, actor=actor, action=action, changes=changes, ip=ip)


def _store_credentials(registry: ContainerRegistry, credentials: dict) -> None:
    # The kind keeps only its own credentials, so a switched-away one does not linger.
    try:
        kind = registry.kind
    except UnknownAuthKind:
        return  # refused by full_clean() before anything is saved
    kind.store(registry, credentials)
