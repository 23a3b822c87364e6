"""The Settings page shell: landing on an organization, the General and Activity sections."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from .access import membership_or_404, require_activity_viewer, require_owner
from .audit import SYSTEM_ACTOR, change_lines, client_ip
from .forms import OrganizationNameForm
from .models import AuditEvent, Membership
from .nav import LAST_ORG_SESSION_KEY, settings_context
from .services import organization_rename


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    memberships = Membership.objects.filter(user=request.user).select_related("organization")
    slugs = [m.organization.slug for m in memberships]
    if not slugs:
        return render(request, "orgsettings/no_organization.html")
    last = request.session.get(LAST_ORG_SESSION_KEY)
    return redirect("registries:list", slug=last if last in slugs else sorted(slugs)[0])


@login_required
@require_http_methods(["GET", "POST"])
def settings_general(request: HttpRequest, slug: str) -> HttpResponse:
    membership = membership_or_404(request.user, slug)
    organization = membership.organization
    form = OrganizationNameForm(request.POST or None, instance=organization)
    if request.method == "POST":
        require_owner(membership)
        if form.is_valid():
            organization_rename(
                organization,
                actor=request.user,
                ip=client_ip(request),
                name=form.cleaned_data["name"],
            )
            messages.success(request, "Saved the organization's name.")
            return redirect("settings-general", slug=slug)
    members = (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("user__username")
    )
    context = {
        **settings_context(request, membership, section="general"),
        "form": form,
        "members": members,
    }
    return render(request, "orgsettings/general.html", context)


ACTIVITY_PAGE_SIZE = 50


@login_required
@require_GET
def settings_activity(request: HttpRequest, slug: str) -> HttpResponse:
    """The organization's audit trail, newest first, for its owners and admins."""
    membership = membership_or_404(request.user, slug)
    require_activity_viewer(membership)
    events = AuditEvent.objects.filter(organization=membership.organization)
    page = Paginator(events, ACTIVITY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **settings_context(request, membership, section="activity"),
        "page": page,
        "events": [(event, change_lines(event.changes)) for event in page],
        "system_actor": SYSTEM_ACTOR,
    }
    return render(request, "orgsettings/activity.html", context)
