"""The Settings page shell: its sections and the organization switcher, shared by every section."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from .models import Membership

LAST_ORG_SESSION_KEY = "last_organization"

SECTIONS = [
    ("general", "General", "settings-general"),
    ("registries", "Container Registries", "registries:list"),
    ("activity", "Activity", "settings-activity"),
]
# Sections only the organization's owners and admins can open (the views check it too).
MANAGER_SECTIONS = {"activity"}


def settings_context(request: HttpRequest, membership: Membership, *, section: str) -> dict:
    slug = membership.organization.slug
    # Where `/` lands next time: the organization the user last worked in. Written only when it
    # changes: a session write on every page view (and every poll) is a database write.
    if request.session.get(LAST_ORG_SESSION_KEY) != slug:
        request.session[LAST_ORG_SESSION_KEY] = slug
    return {
        "membership": membership,
        "organization": membership.organization,
        "section": section,
        "sections": [
            {"key": key, "label": label, "url": reverse(url_name, kwargs={"slug": slug})}
            for key, label, url_name in SECTIONS
            if key not in MANAGER_SECTIONS or membership.can_view_activity
        ],
        "memberships": Membership.objects.filter(user=request.user)
        .select_related("organization")
        .order_by("organization__name"),
    }
