"""The Settings page shell: landing on an organization, and the General section."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from .access import membership_or_404, require_owner
from .forms import OrganizationNameForm
from .models import Membership
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
            organization_rename(organization, actor=request.user, name=form.cleaned_data["name"])
            messages.success(request, "Saved the organization's name.")
            return redirect("settings-general", slug=slug)
    context = {**settings_context(request, membership, section="general"), "form": form}
    return render(request, "orgsettings/general.html", context)
