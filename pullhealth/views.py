"""Pull health on the Registries section: the state per row and for the organization, its
poll, "Restart affected workloads", and the automatic-restart switch.

The registries section renders the panel above its table and a line under each row
(`pull_health_context`). While the organization is on a cluster, a small element of its own
polls `pull_health_poll`, as the delivery status does: it carries what the page shows (a
signature of the panel, of its ages, and of each row's line) and gets back only what changed,
out of band. Each pass of the reconciler makes the ages change ("checked just now"): those
come alone, a few hundred bytes, unless the failures changed too.
Everything is read from what the worker and the reconciler stored; the page never waits on a
cluster. The restart buttons only queue the restart (services.request_restart): a worker makes
it and records it in Activity.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from orgsettings.access import AUTOMATIC, RESTART, membership_or_404, require_registry_manager
from orgsettings.audit import client_ip
from orgsettings.models import AuditSource, Membership
from registries.models import ContainerRegistry

from . import services
from .forms import AutoRestartForm
from .page import FailureLine, OrganizationPullHealth, RestartEstimate, pull_health_read
from .preferences import pull_health_settings_of, pull_health_settings_update

TEMPLATE = "pullhealth/pull_health.html"
# The reconciler reads pods every pass; a page open on the section shows news this soon
# (PULL_HEALTH_POLL_SECONDS, 10 unless set).
DEFAULT_POLL_SECONDS = 10
# Rows listed in the poll's query: a page of the table holds at most 50.
MAX_WATCHED = 200
_ROW_RE = re.compile(r"^(\d{1,18})\.([0-9a-f]{8}|0)$")
_SIG_RE = re.compile(r"^[0-9a-f]{8}$")


def pull_health_context(membership: Membership, registries, *, targets=None) -> dict:
    """The panel and the poll for a page listing `registries`; sets each registry's `pull`
    (the line under its row). With `targets` (the delivery targets the page already read),
    a fixed number of queries, none when the organization is on no cluster."""
    organization = membership.organization
    health = pull_health_read(organization, targets=targets)
    rows = {registry.pk: health.for_registry(registry.pk) for registry in registries}
    for registry in registries:
        registry.pull = rows[registry.pk]
    context = _context(membership, health, rows)
    if health.configured:
        context["pull_settings"] = pull_health_settings_of(organization)
    return context


def _context(membership: Membership, health: OrganizationPullHealth, rows: dict) -> dict:
    slug = membership.organization.slug
    watched = dict(list(rows.items())[:MAX_WATCHED])
    return {
        "pull_health": health,
        "pull_can_restart": membership.can_manage_registries,
        "pull_poll": {
            "url": reverse("pullhealth:poll", kwargs={"slug": slug}),
            "interval": _poll_interval() if health.configured else None,
            "sig": health.signature,
            "ages": health.ages,
            "rows": "_".join(f"{pk}.{row.signature}" for pk, row in watched.items()),
        },
    }


def _poll_interval() -> str:
    return f"{getattr(settings, 'PULL_HEALTH_POLL_SECONDS', DEFAULT_POLL_SECONDS)}s"


def _watched(query) -> tuple[str, str, dict[int, str]]:
    """The poll's query, leniently: what does not parse counts as "shown nothing"."""
    sig, ages = query.get("sig", ""), query.get("ages", "")
    rows = {}
    for item in query.get("rows", "").split("_"):
        match = _ROW_RE.match(item)
        if match and len(rows) < MAX_WATCHED:
            rows[int(match[1])] = match[2]
    return (sig if _SIG_RE.match(sig) else ""), (ages if _SIG_RE.match(ages) else ""), rows


@require_GET
@never_cache
def pull_health_poll(request: HttpRequest, slug: str) -> HttpResponse:
    """The panel when it changed, and the lines of the watched rows that changed."""
    if not request.user.is_authenticated:
        # An expired session: stop polling (htmx's 286) rather than swap in the login page.
        return HttpResponse('<div id="pull-health-poll" hidden></div>', status=286)
    membership = membership_or_404(request.user, slug)
    sig, ages, watched = _watched(request.GET)
    health = pull_health_read(membership.organization)
    # The rows the page shows; an id of another organization's registry reads as healthy.
    rows = {pk: health.for_registry(pk) for pk in watched}
    context = _context(membership, health, rows)
    context.update(
        organization=membership.organization,
        membership=membership,
        send_panel=sig != health.signature,
        cells=[row for pk, row in rows.items() if watched[pk] != row.signature],
        # Only the ages changed (every pass): a few bytes instead of the panel and the rows.
        send_ages=ages != health.ages,
        send_row_ages=any(row.failures for row in rows.values()),
    )
    return render(request, f"{TEMPLATE}#poll-answer", context)


def _registry_or_404(membership: Membership, pk: int) -> ContainerRegistry:
    registry = (
        ContainerRegistry.objects.filter(pk=pk, organization=membership.organization)
        .only("id", "organization", "display_name", "address")
        .first()
    )
    if registry is None:
        raise Http404("No such registry.")
    return registry


@login_required
@require_POST
def restart_organization_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Restart the workloads that cannot pull from any of the organization's registries."""
    membership = membership_or_404(request.user, slug)
    require_registry_manager(membership, action=RESTART)
    return _restart(request, membership, registry=None)


@login_required
@require_POST
def restart_registry_view(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Restart the workloads that cannot pull from one registry."""
    membership = membership_or_404(request.user, slug)
    require_registry_manager(membership, action=RESTART)
    registry = _registry_or_404(membership, pk)
    return _restart(request, membership, registry=registry)


def _restart(
    request: HttpRequest, membership: Membership, *, registry: ContainerRegistry | None
) -> HttpResponse:
    organization = membership.organization
    health = pull_health_read(organization)
    if registry is None:
        estimate, where = health.estimate, f"in {organization.name}"
    else:
        estimate = health.for_registry(registry.pk).estimate
        where = f"from “{registry.display_name}”"
    if not estimate.total:
        message, tone = f"No workload is failing to pull {where}: nothing to restart.", "info"
    else:
        services.request_restart(
            organization, registry=registry, actor=request.user, source=AuditSource.SETTINGS
        )
        message, tone = _restart_message(estimate, where), "success"
    if not request.htmx:
        messages.add_message(
            request, messages.SUCCESS if tone == "success" else messages.INFO, message
        )
        return redirect("registries:list", slug=organization.slug)
    response = render(request, f"{TEMPLATE}#restart-answer", {"message": message, "tone": tone})
    patch_vary_headers(response, ("HX-Request",))
    return response


def _names(failures: tuple[FailureLine, ...], limit: int = 4) -> str:
    names = [f"{failure.kind} {failure.name}" for failure in failures]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _restart_message(estimate: RestartEstimate, where: str) -> str:
    """What was asked, with the same numbers as the panel: every failing workload is either
    restarted or left alone with the reason."""
    parts = []
    count, total = estimate.count, estimate.total
    if count:
        counted = f"{count} of the {total} workloads" if estimate.left else f"{count} workload"
        if not estimate.left and count > 1:
            counted += "s"
        parts.append(
            f"Restart requested for {counted} that can't pull {where}:"
            f" {_names(estimate.restart)}."
            " The platform restarts them in a moment and records each restart in Activity."
        )
        if estimate.may_be_paused:
            parts.append("A Deployment it finds paused is left alone, and Activity says so.")
    else:
        parts.append(
            f"Restart requested: the platform checks the {total} workload{'s' if total > 1 else ''}"
            f" that can't pull {where} again."
        )
    for why, failures in estimate.left:
        parts.append(f"Left alone ({why}): {_names(failures)}.")
    return " ".join(parts)


@login_required
@require_POST
def auto_restart_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Turn the automatic restart of affected workloads on or off."""
    membership = membership_or_404(request.user, slug)
    require_registry_manager(membership, action=AUTOMATIC)
    organization = membership.organization
    form = AutoRestartForm(request.POST)
    form.is_valid()  # a checkbox: anything but a true value is "off"
    on = bool(form.cleaned_data.get("auto_restart"))
    stored = pull_health_settings_update(
        organization, actor=request.user, ip=client_ip(request), auto_restart=on
    )
    if on:
        message = (
            "Automatic restarts are on: once a changed credential or a new registry has reached a "
            "cluster, the workloads that could not pull from it are restarted, once."
        )
    else:
        message = "Automatic restarts are off: affected workloads are restarted only when you ask."
    messages.success(request, message)
    if not request.htmx:
        return redirect("registries:list", slug=slug)
    context = {
        "organization": organization,
        "membership": membership,
        "pull_settings": stored,
        "pull_can_restart": membership.can_manage_registries,
    }
    response = render(request, f"{TEMPLATE}#auto-answer", context)
    patch_vary_headers(response, ("HX-Request",))
    return response
