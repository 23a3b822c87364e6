"""Credentials that expire: what each row says, and the reconciler's warning in Activity.

A row's words come from its auth kind (`AuthKind.expiry`), computed from the registry's own
columns, so the table reads nothing more per row. The reconciler calls `expiry_pass` once a
pass: it counts the credentials that expire soon or have expired, and records the warning in
the organization's Activity once per registry and "Expires on" date.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from orgsettings.audit import audit_event
from orgsettings.models import AuditEvent, AuditSource

from .auth_kinds import EXPIRY_WARNING_DAYS, UnknownAuthKind
from .models import SECRET_COLUMNS, ContainerRegistry

EXPIRES_SOON = "registry.expires_soon"
EXPIRED = "registry.expired"
EVENT_KINDS = {EXPIRES_SOON: "Credential expires soon", EXPIRED: "Credential expired"}


@dataclass
class ExpiryCounts:
    expiring: int = 0
    expired: int = 0
    warned: list[str] = field(default_factory=list)  # "slug / Display Name"


def _candidates(*, now: datetime.datetime, organization_slug: str | None):
    """Registries whose row may warn: a date within the window, or an issued login that ends
    within two days (a kind's own refresh keeps those away unless it fails)."""
    today = timezone.localdate(now)
    rows = ContainerRegistry.objects.filter(
        Q(expires_on__lte=today + datetime.timedelta(days=EXPIRY_WARNING_DAYS))
        | Q(issued_expires_at__lte=now + datetime.timedelta(days=2))
    )
    if organization_slug is not None:
        rows = rows.filter(organization__slug=organization_slug)
    return rows.select_related("organization").defer(*SECRET_COLUMNS).order_by("pk")


def expiry_pass(
    *, now: datetime.datetime | None = None, organization_slug: str | None = None
) -> ExpiryCounts:
    """Count what expires soon or has expired; warn Activity of each "Expires on" date once."""
    now = now or timezone.now()
    counts = ExpiryCounts()
    warnings = []
    for registry in _candidates(now=now, organization_slug=organization_slug):
        try:
            expiry = registry.kind.expiry(registry, now=now)
        except UnknownAuthKind:
            continue
        if expiry is None or expiry.state == "ok":
            continue
        if expiry.state == "expired":
            counts.expired += 1
        else:
            counts.expiring += 1
        # Issued logins are the kind's own business (it refreshes them and reports failures).
        if registry.expires_on is None or registry.expiry_warned_on == registry.expires_on:
            continue
        warnings.append((registry, expiry))
    if not warnings:
        return counts
    events = []
    with transaction.atomic():
        for registry, expiry in warnings:
            # Conditional, so each date is warned about once however many passes see it, and a
            # save that changed the date meanwhile is warned about anew.
            claimed = (
                ContainerRegistry.objects.filter(pk=registry.pk, expires_on=registry.expires_on)
                .exclude(expiry_warned_on=registry.expires_on)
                .update(expiry_warned_on=registry.expires_on)
            )
            if not claimed:
                continue
            events.append(
                audit_event(
                    registry.organization,
                    actor=None,
                    action=EXPIRED if expiry.state == "expired" else EXPIRES_SOON,
                    target_type="registry",
                    target_id=registry.pk,
                    target_label=registry.display_name,
                    changes={"expires_on": {"old": None, "new": registry.expires_on.isoformat()}},
                    source=AuditSource.SYNC,
                )
            )
            counts.warned.append(f"{registry.organization.slug} / {registry.display_name}")
        AuditEvent.objects.bulk_create(events)
    return counts
