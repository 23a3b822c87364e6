"""The organization's pull-health choices, changed from the Settings page and recorded in
Activity in the same transaction."""

from __future__ import annotations

from django.db import transaction

from orgsettings.audit import audit_record
from orgsettings.models import AuditAction, Organization

from .models import PullHealthSettings

# The name in Activity's change lines: "Automatic restarts: no → yes".
AUDIT_FIELD = "automatic_restarts"


def pull_health_settings_of(organization: Organization) -> PullHealthSettings:
    """The stored choices, or the defaults (unsaved) when none were ever made."""
    found = PullHealthSettings.objects.filter(organization=organization).first()
    return found or PullHealthSettings(organization=organization)


@transaction.atomic
def pull_health_settings_update(
    organization: Organization, *, actor, auto_restart: bool, ip: str | None = None
) -> PullHealthSettings:
    """Turn the automatic restart of affected workloads on or off. Saving the same value
    again changes and records nothing."""
    stored, _ = PullHealthSettings.objects.select_for_update().get_or_create(
        organization=organization
    )
    if stored.auto_restart == auto_restart:
        return stored
    old = stored.auto_restart
    stored.auto_restart = auto_restart
    stored.full_clean()
    stored.save(update_fields=["auto_restart"])
    audit_record(
        organization,
        actor=actor,
        action=AuditAction.ORGANIZATION_UPDATED,
        target_type="organization",
        target_id=organization.pk,
        target_label=organization.name,
        changes={AUDIT_FIELD: {"old": old, "new": auto_restart}},
        ip=ip,
    )
    return stored
