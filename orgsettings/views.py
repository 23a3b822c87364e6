"""The Settings page shell: landing on an organization, the General and Activity sections."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from .access import membership_or_404, require_activity_viewer, require_owner
from .audit import SYSTEM_ACTOR, actor_display, change_lines, client_ip
from .forms import ActivityFilterForm, OrganizationNameForm
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
    """The organization's audit trail, newest first, for its owners and admins, filtered by
    the query string (registry, person, kind of event, days)."""
    membership = membership_or_404(request.user, slug)
    require_activity_viewer(membership)
    events = AuditEvent.objects.filter(organization=membership.organization)
    people = events.order_by("actor_label").values_list("actor_label", flat=True).distinct()
    form = ActivityFilterForm(
        request.GET,
        people=[(label, "System" if label == SYSTEM_ACTOR else label) for label in people],
    )
    page = Paginator(form.filter(events), ACTIVITY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        **settings_context(request, membership, section="activity"),
        "form": form,
        "page": page,
        # The filters, for the page links: `?{{ query }}&page=2`.
        "query": query.urlencode(),
        "events": [(event, actor_display(event), change_lines(event.changes)) for event in page],
    }
    return render(request, "orgsettings/activity.html", context)


def login_locked_out(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    """What both login pages answer while django-axes holds a username or an address locked:
    the login form again, saying why and for how long, with nothing checked (HTTP 429)."""
    minutes = round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    context = {
        "form": form,
        "next": request.POST.get("next", request.GET.get("next", "")),
        "locked_out": (
            f"Too many failed logins for this username or from your address. Logging in is "
            f"paused for {minutes} minute{'s' if minutes != 1 else ''}: try again later, or ask "
            "an operator to unlock it."
        ),
    }
    return render(request, "registration/login.html", context, status=429)
