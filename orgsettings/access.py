"""Who may see and change what. Every organization URL resolves its membership here, so an
outsider gets the same 404 whether the organization or object exists or not."""

from __future__ import annotations

from django.contrib.humanize.templatetags.humanize import naturaltime
from django.core.exceptions import PermissionDenied
from django.http import Http404

from .errors import RoleRequired
from .models import AuditAction, AuditEvent, Membership, Role

# What a registry manager may do that a member may not, by the `action` the views name: what
# the role can do instead, and the action in the words "you can no longer …".
CHANGE, TEST, RESTART, AUTOMATIC, SYNC = "change", "test", "restart", "automatic", "sync"
_ACTIONS = {
    CHANGE: ("view registries but not change them", "change registries"),
    TEST: ("view registries but not test their connections", "test registries' connections"),
    RESTART: ("view pull health but not restart workloads", "restart workloads"),
    AUTOMATIC: (
        "see whether automatic restarts are on but not turn them on or off",
        "turn automatic restarts on or off",
    ),
    SYNC: ("view the delivery status but not sync the Secret", "sync the Secret"),
}
_MANAGING = {Role.OWNER, Role.ADMIN}


def membership_or_404(user, slug: str) -> Membership:
    membership = (
        Membership.objects.select_related("organization")
        .filter(user=user, organization__slug=slug)
        .first()
    )
    if membership is None:
        raise Http404("No such organization.")
    return membership


def require_registry_manager(membership: Membership, *, action: str = CHANGE) -> None:
    """Refuse a member, in words that name what the role cannot do; to one whose role was
    lowered from owner or admin (as Activity records it), say so too."""
    if membership.can_manage_registries:
        return
    can, what = _ACTIONS[action]
    role = Role(membership.role).label
    refused = f"{role}s can {can}; ask an owner or admin."
    lowered = _lowered_at(membership)
    lost = ""
    if lowered is not None:
        lost = f"Your role was changed to {role} {naturaltime(lowered)}: you can no longer {what}."
    raise RoleRequired(refused, lost=lost)


def _lowered_at(membership: Membership):
    """When the membership's last role change took a managing role away, or None."""
    change = (
        AuditEvent.objects.filter(
            organization=membership.organization,
            action=AuditAction.MEMBERSHIP_ROLE_CHANGED,
            target_type="membership",
            target_id=str(membership.pk),
        )
        .order_by("-created_at")
        .only("created_at", "changes")
        .first()
    )
    if change is None:
        return None
    role = (change.changes or {}).get("role") or {}
    if role.get("old") in _MANAGING and role.get("new") == membership.role:
        return change.created_at
    return None


def require_activity_viewer(membership: Membership) -> None:
    if not membership.can_view_activity:
        raise PermissionDenied("Only the organization's owners and admins can see its activity.")


def require_owner(membership: Membership) -> None:
    if not membership.can_rename_organization:
        raise PermissionDenied("Only the organization's owners can change its settings.")
