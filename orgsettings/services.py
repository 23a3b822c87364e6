"""Writes to organizations and memberships, shared by the Settings page and the operator CLI."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Membership, Organization, Role, default_namespace


@transaction.atomic
def organization_create(
    *, slug: str, name: str, namespace: str | None = None, owner=None
) -> Organization:
    organization = Organization(
        slug=slug, name=name, namespace=namespace or default_namespace(slug)
    )
    organization.full_clean()
    organization.save()
    if owner is not None:
        membership_set(organization, user=owner, role=Role.OWNER)
    return organization


@transaction.atomic
def organization_rename(organization: Organization, *, actor, name: str) -> Organization:
    organization.name = name
    organization.full_clean()
    organization.save(update_fields=["name"])
    return organization


@transaction.atomic
def membership_set(organization: Organization, *, user, role: str, actor=None) -> Membership:
    """Give `user` the `role` in `organization`, adding the membership when there is none."""
    membership, _ = Membership.objects.select_for_update().get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    if membership.role != role:
        membership.role = role
        membership.full_clean()
        membership.save(update_fields=["role"])
    return membership


def user_by_username(username: str):
    return get_user_model().objects.get(username=username)
