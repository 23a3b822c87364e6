"""The Settings page's view of delivery to clusters: the status line, Sync now, and the poll.

The registries section renders the status line above its table and a Status cell per row
(`delivery_context`); while something is on its way, a small element of its own polls
`delivery_poll`, which answers itself, the status line when it changed, and the Status cells
whose words changed (out of band, by their ids). Nothing inherits from the poll element, so
the table, its row actions and the dialog never swap because of it.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from orgsettings.access import SYNC, membership_or_404, require_registry_manager
from orgsettings.models import Membership

from . import services
from .advice import secret_name, status_line, status_signature, words_by_registry
from .poll import changed_rows, parse_watched, poll_interval, watch_params
from .status import organization_delivery

TEMPLATE = "delivery/status.html"


def delivery_context(membership: Membership, registries) -> dict:
    """The status line and the poll for a page that lists `registries`; sets each registry's
    `delivery` (its Status cell's words). One query (the targets), whatever the number of rows."""
    delivery = organization_delivery(membership.organization)
    words = words_by_registry(delivery, ((r.pk, r.version) for r in registries))
    for registry in registries:
        registry.delivery = words[registry.pk]
    return _context(membership, delivery, words)


def _context(membership: Membership, delivery, words: dict) -> dict:
    line = status_line(delivery)
    can_sync = membership.can_manage_registries
    signature = status_signature(line, can_sync=can_sync)
    interval = poll_interval(line, words)
    poll_url = reverse("delivery:poll", kwargs={"slug": membership.organization.slug})
    return {
        "delivery_line": line,
        "delivery_signature": signature,
        "delivery_can_sync": can_sync,
        "delivery_secret": secret_name(),
        # What the page shows, for the next poll and for Sync now (hidden inputs of the poll).
        "delivery_poll": {
            "url": poll_url,
            "interval": interval,
            "watch": watch_params(signature, words),
        },
    }


def _rows(membership: Membership):
    """Each registry's Status cell words, from its id and version only: nothing decrypted."""
    delivery = organization_delivery(membership.organization)
    rows = list(membership.organization.registries.values_list("pk", "version", "updated_at"))
    words = words_by_registry(delivery, ((pk, version) for pk, version, _ in rows))
    saved_at = {pk: updated_at for pk, _, updated_at in rows}
    return delivery, words, saved_at


@require_GET
@never_cache
def delivery_poll(request: HttpRequest, slug: str) -> HttpResponse:
    """What changed since the page's last poll (see poll.py)."""
    if not request.user.is_authenticated:
        # An expired session: stop polling (htmx's 286) rather than swap in the login page.
        return HttpResponse('<div id="delivery-poll" hidden></div>', status=286)
    membership = membership_or_404(request.user, slug)
    delivery, words, saved_at = _rows(membership)
    context = _context(membership, delivery, words)
    watched = parse_watched(request.GET)
    line, signature = context["delivery_line"], context["delivery_signature"]
    changed = changed_rows(watched, line, signature, words, saved_at)
    context.update(
        organization=membership.organization,
        membership=membership,
        send_line=watched.line != signature,
        cells=[(pk, words[pk]) for pk in changed],
    )
    return render(request, f"{TEMPLATE}#poll-answer", context)


@require_POST
def delivery_sync(request: HttpRequest, slug: str) -> HttpResponse:
    """Sync now: deliver the organization's Secret to every cluster again."""
    if not request.user.is_authenticated:
        return _session_expired(request, slug)
    membership = membership_or_404(request.user, slug)
    require_registry_manager(membership, action=SYNC)
    organization = membership.organization
    if organization_delivery(organization).configured:
        services.request_delivery(organization, reason="manual")
        messages.success(request, "Sync requested: the Secret is delivered to every cluster again.")
    else:
        messages.warning(
            request,
            "Nothing to sync: no cluster is configured for this organization. "
            "Ask your platform operator to place it on a cluster.",
        )
    if not request.htmx:
        return redirect("registries:list", slug=slug)
    # The answer carries the cells that changed from what the page showed (the poll's inputs
    # come with the form): the delivery may already have run, settling rows shown as failing.
    delivery, words, saved_at = _rows(membership)
    context = _context(membership, delivery, words)
    changed = changed_rows(
        parse_watched(request.POST),
        context["delivery_line"],
        context["delivery_signature"],
        words,
        saved_at,
    )
    context.update(
        organization=organization,
        membership=membership,
        cells=[(pk, words[pk]) for pk in changed],
    )
    return render(request, f"{TEMPLATE}#sync-answer", context)


def _session_expired(request: HttpRequest, slug: str) -> HttpResponse:
    page = reverse("registries:list", kwargs={"slug": slug})
    if request.htmx:
        login = redirect_to_login(page)
        return HttpResponseClientRedirect(login["Location"])
    return redirect_to_login(page)
