"""Writes to organizations and memberships, shared by the Settings page, the admin and the
operator CLI. Each change is recorded in the audit trail in the same transaction."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from .audit import audit_record, field_changes
from .models import AuditAction, Membership, Organization, Role, default_namespace
from .names import normalize_name


@transaction.atomic
def organization_create(
    *,
    slug: str,
    name: str,
    namespace: str | None = None,
    owner=None,
    actor=None,
    ip: str | None = None,
) -> Organization:
    """Add an organization; `actor` None is the platform itself (the CLI)."""
    name = _clean_name(name)
    organization = Organization(
        slug=slug, name=name, namespace=namespace or default_namespace(slug)
    )
    organization.full_clean()
    organization.save()
    _audit_organization(
        organization,
        actor,
        ip,
        field_changes(None, {"name": name, "slug": slug, "namespace": organization.namespace}),
        action=AuditAction.ORGANIZATION_CREATED,
    )
    if owner is not None:
        membership_set(organization, user=owner, role=Role.OWNER, actor=actor, ip=ip)
    return organization


@transaction.atomic
def organization_rename(
    organization: Organization, *, actor, name: str, ip: str | None = None
) -> Organization:
    old_name = _stored(organization, "name")["name"]
    name = _clean_name(name)
    organization.name = name
    organization.full_clean()
    organization.save(update_fields=["name"])
    _audit_organization(organization, actor, ip, field_changes({"name": old_name}, {"name": name}))
    return organization


@transaction.atomic
def organization_update(
    organization: Organization, *, actor, ip: str | None = None, **fields
) -> Organization:
    """Change an organization's name, slug or namespace (the operators' admin).

    Saved with a plain save(), so the signals that move cluster objects to a new namespace fire.
    """
    if "name" in fields:
        fields["name"] = _clean_name(fields["name"])
    before = _stored(organization, *fields) if fields else {}
    for name, value in fields.items():
        setattr(organization, name, value)
    organization.full_clean()
    organization.save()
    _audit_organization(organization, actor, ip, field_changes(before, fields))
    return organization


@transaction.atomic
def organization_delete(organization: Organization, *, actor, ip: str | None = None) -> None:
    """Delete an organization with its members and registries; its audit trail stays."""
    _audit_organization(
        organization,
        actor,
        ip,
        {"namespace": {"old": organization.namespace, "new": None}},
        action=AuditAction.ORGANIZATION_DELETED,
    )
    organization.delete()


def _clean_name(name: str) -> str:
    """The one name rule of the Settings form, for every way in (admin, command line)."""
    try:
        return normalize_name(name)
    except ValidationError as error:
        raise ValidationError({"name": error.messages}) from None


def _stored(organization: Organization, *fields: str) -> dict:
    # From the database: forms bound to the instance have already changed it in memory.
    return Organization.objects.filter(pk=organization.pk).values(*fields).get()


def _audit_organization(
    organization: Organization,
    actor,
    ip: str | None,
    changes: dict,
    *,
    action: str = AuditAction.ORGANIZATION_UPDATED,
) -> None:
    if changes:
        audit_record(
            organization,
            actor=actor,
            action=action,
            target_type="organization",
            target_id=organization.pk,
            target_label=organization.name,
            changes=changes,
            ip=ip,
        )


@transaction.atomic
def membership_set(
    organization: Organization, *, user, role: str, actor=None, ip: str | None = None
) -> Membership:
    """Give `user` the `role` in `organization`, adding the membership when there is none.

    `actor` is who did it; None means the platform (the CLI), recorded as "system".
    """
    membership, created = Membership.objects.select_for_update().get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    if created:
        action = AuditAction.MEMBERSHIP_ADDED
        changes = field_changes(None, {"user": user.get_username(), "role": role})
    elif membership.role != role:
        action = AuditAction.MEMBERSHIP_ROLE_CHANGED
        changes = field_changes({"role": membership.role}, {"role": role})
        membership.role = role
        membership.full_clean()
        membership.save(update_fields=["role"])
    else:
        return membership
    _audit_membership(membership, actor=actor, ip=ip, action=action, changes=changes)
    return membership


@transaction.atomic
def membership_remove(membership: Membership, *, actor=None, ip: str | None = None) -> None:
    """Take the user out of the organization."""
    _audit_membership(
        membership,
        actor=actor,
        ip=ip,
        action=AuditAction.MEMBERSHIP_REMOVED,
        changes=field_changes(
            {"user": membership.user.get_username(), "role": membership.role}, None
        ),
    )
    membership.delete()


def _audit_membership(membership: Membership, *, actor, ip, action: str, changes: dict) -> None:
    audit_record(
        membership.organization,
        actor=actor,
        action=action,
        target_type="membership",
        target_id=membership.pk,
        target_label=membership.user.get_username(),
        changes=changes,
        ip=ip,
    )


def user_by_username(username: str):
    return get_user_model().objects.get(username=username)
