"""Who may see and change what. Every organization URL resolves its membership here, so an
outsider gets the same 404 whether the organization or object exists or not."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .errors import RoleRequired
from .models import Membership


def membership_or_404(user, slug: str) -> Membership:
    membership = (
        Membership.objects.select_related("organization")
        .filter(user=user, organization__slug=slug)
        .first()
    )
    if membership is None:
        raise Http404("No such organization.")
    return membership


def require_registry_manager(membership: Membership) -> None:
    if not membership.can_manage_registries:
        raise RoleRequired(
            "Only the organization's owners and admins can change registries.",
            lost="You can no longer change registries.",
        )


def require_activity_viewer(membership: Membership) -> None:
    if not membership.can_view_activity:
        raise PermissionDenied("Only the organization's owners and admins can see its activity.")


def require_owner(membership: Membership) -> None:
    if not membership.can_rename_organization:
        raise PermissionDenied("Only the organization's owners can change its settings.")
