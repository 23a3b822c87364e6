"""The Container Registries section of the Settings page.

Every view works as a plain page (with redirects after POST) and, for htmx requests, answers
the fragment of the page it changes: the form into the dialog, or after a save the re-queried
row it changed (the whole table only when it turns empty or stops being empty).
"""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url, reswap, retarget, trigger_client_event

from delivery.views import delivery_context
from orgsettings.access import TEST, membership_or_404, require_registry_manager
from orgsettings.audit import client_ip
from orgsettings.errors import Gone
from orgsettings.models import AuditAction, AuditEvent, Membership
from orgsettings.nav import settings_context
from pullhealth.views import pull_health_context

from . import advice, connection_test, listing
from .auth_kinds import UnknownAuthKind, get_auth_kind, secret_parameters
from .forms import RegistryForm, RegistryTestForm, changed_message
from .models import ContainerRegistry
from .services import RegistryChangedError, registry_create, registry_delete, registry_update
from .validation import normalize_address, parse_id, unicode_host

PAGE = "registries/registries.html"
WILDCARD_REASON = (
    "A wildcard address names no single host to log in to, so it cannot be tested: add a "
    "registry for one concrete host to test its credentials."
)


def _registry_or_404(membership: Membership, pk: int) -> ContainerRegistry:
    registry = ContainerRegistry.objects.filter(pk=pk, organization=membership.organization).first()
    if registry is None:
        raise _not_found(membership, pk)
    return registry


def _not_found(membership: Membership, pk: int) -> Http404:
    """Who deleted it and when, from the audit trail, for a member of its organization."""
    deleted = AuditEvent.objects.filter(
        organization=membership.organization,
        target_type="registry",
        target_id=str(pk),
        action=AuditAction.REGISTRY_DELETED,
    ).first()
    if deleted is None:
        return Http404("No such registry.")
    who = "you" if deleted.actor_id == membership.user_id else deleted.actor_label
    when = naturaltime(deleted.created_at)
    return Gone(
        f"“{deleted.target_label}” was deleted by {who} {'just now' if when == 'now' else when}."
    )


def _list_params(request: HttpRequest) -> QueryDict:
    """The table's search, sort and page: the list's own query string, or for an htmx request
    made from the list (a save, a delete) the query string of the list it was made from."""
    list_path = reverse("registries:list", kwargs={"slug": request.resolver_match.kwargs["slug"]})
    if request.method == "GET" and request.path == list_path:
        return request.GET
    current = urlsplit(request.htmx.current_url or "") if request.htmx else None
    if current is not None and current.path == list_path:
        return QueryDict(current.query)
    return QueryDict()


def _page_context(request: HttpRequest, membership: Membership, **extra) -> dict:
    rows = listing.registry_list(membership.organization, _list_params(request))
    registries = rows.registries
    delivery = delivery_context(membership, registries)
    targets = [line.target for line in delivery["delivery_line"].targets]
    return {
        **settings_context(request, membership, section="registries"),
        "listing": rows,
        "registries": registries,
        **delivery,
        **pull_health_context(membership, registries, targets=targets),
        "general_advice": advice.GENERAL_ADVICE,
        "wildcard_reason": WILDCARD_REASON,
        **extra,
    }


def _render(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _changed_response(
    request: HttpRequest,
    membership: Membership,
    message: str,
    *,
    registry: ContainerRegistry | None = None,
    removed_pk: int | None = None,
    fresh: bool = True,
) -> HttpResponse:
    """After a change made through htmx: the changed row (or none, for a deleted one), the
    message, and an event that closes the dialog. The whole table only when it turns empty or
    gets its first row, as the empty state has no table to put a row in."""
    messages.success(request, message)
    organization = membership.organization
    count = organization.registries.count()
    created = request.resolver_match.url_name == "create"
    if count == 0 or (created and count == 1):
        response = _render(
            request, f"{PAGE}#table-with-messages", _page_context(request, membership)
        )
        response = reswap(retarget(response, "#registry-table"), "outerHTML")
    else:
        if registry is not None:
            # Re-queried: the sync scheduled on commit may have changed its status already.
            registry = organization.registries.select_related("updated_by").get(pk=registry.pk)
        # The status line and its poll come along, watching the rows of the list's view.
        context = _page_context(request, membership, fresh_row=fresh)
        if registry is not None:
            delivery_context(membership, [registry])
            registry.pull = context["pull_health"].for_registry(registry.pk)
            listing.attach_row_urls(organization.slug, [registry])
        context["registry"] = registry
        response = _render(request, f"{PAGE}#row-with-messages", context)
        if removed_pk is not None:
            response = reswap(retarget(response, f"#registry-{removed_pk}"), "delete")
        elif created:
            # New rows come first, where the person who added one looks for it.
            response = reswap(retarget(response, "#registry-table thead"), "afterend")
        else:
            response = reswap(retarget(response, f"#registry-{registry.pk}"), "outerHTML")
    return trigger_client_event(response, "registries:changed")


@login_required
@require_GET
def registry_list(request: HttpRequest, slug: str) -> HttpResponse:
    membership = membership_or_404(request.user, slug)
    context = _page_context(request, membership)
    if request.htmx:
        response = _render(request, f"{PAGE}#table", context)
        if request.htmx.trigger in ("registry-search", "registry-sort"):
            # The form sends its empty fields too: the address bar gets the view's own URL.
            response = push_url(response, context["listing"].current_url)
        return response
    return _render(request, PAGE, context)


@login_required
@sensitive_post_parameters(*secret_parameters())
@require_http_methods(["GET", "POST"])
def registry_create_view(request: HttpRequest, slug: str) -> HttpResponse:
    membership = membership_or_404(request.user, slug)
    require_registry_manager(membership)
    organization = membership.organization
    form = RegistryForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        registry = registry_create(
            organization, actor=request.user, ip=client_ip(request), **form.registry_fields()
        )
        message = _saved_message(registry, "added", form)
        if request.htmx:
            return _changed_response(request, membership, message, registry=registry)
        messages.success(request, message)
        return redirect("registries:list", slug=slug)
    return _render_form(request, membership, form)


@login_required
@sensitive_post_parameters(*secret_parameters())
@require_http_methods(["GET", "POST"])
def registry_edit_view(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    membership = membership_or_404(request.user, slug)
    require_registry_manager(membership)
    registry = _registry_or_404(membership, pk)
    stored_name, stored_version = registry.display_name, registry.version
    form = RegistryForm(
        request.POST or None, instance=registry, organization=membership.organization
    )
    if request.method == "POST" and form.is_valid():
        try:
            registry = registry_update(
                registry,
                actor=request.user,
                ip=client_ip(request),
                expected_version=form.cleaned_data.get("version"),
                **form.registry_fields(),
            )
        except RegistryChangedError as changed:
            form.add_error(None, changed_message(changed.current))
        else:
            # Every save bumps the version; one that changed nothing saved nothing.
            unchanged = registry.version == stored_version
            if unchanged:
                message = f"No changes to save in “{registry.display_name}”."
            else:
                message = _saved_message(registry, "saved", form)
            if request.htmx:
                return _changed_response(
                    request, membership, message, registry=registry, fresh=not unchanged
                )
            messages.success(request, message)
            return redirect("registries:list", slug=slug)
    return _render_form(request, membership, form, registry=registry, editing_name=stored_name)


@login_required
@require_http_methods(["GET", "POST"])
def registry_delete_view(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    membership = membership_or_404(request.user, slug)
    require_registry_manager(membership)
    registry = _registry_or_404(membership, pk)
    if request.method == "POST":
        name = registry.display_name
        registry_delete(registry, actor=request.user, ip=client_ip(request))
        message = f"Deleted “{name}”."
        if request.htmx:
            return _changed_response(request, membership, message, removed_pk=pk)
        messages.success(request, message)
        return redirect("registries:list", slug=slug)
    context = _page_context(request, membership, deleting=registry)
    return _render(request, f"{PAGE}#delete-confirm" if request.htmx else PAGE, context)


@login_required
@require_POST
def registry_hints(request: HttpRequest, slug: str) -> HttpResponse:
    """Advice for the address and username being typed. A POST, because a half-typed address
    may hold `user:password@`, and query strings end up in access logs."""
    membership = membership_or_404(request.user, slug)
    require_registry_manager(membership)
    post = request.POST
    hints = _hints(post.get("address", ""), post.get("username", ""), post.get("auth_type", ""))
    hints["past_expiry"] = _past_expiry(post.get("expires_on", ""), post.get("auth_type", ""))
    context = {"hints": hints}
    return _render(request, f"{PAGE}#hints", context)


def _past_expiry(raw_date: str, auth_type: str) -> str:
    """The warning for a typed "Expires on" date already gone, while the chosen kind has one."""
    try:
        expires_on = datetime.date.fromisoformat(raw_date.strip())
        kind = get_auth_kind(auth_type)
    except (ValueError, UnknownAuthKind):
        return ""
    if not kind.user_expiry:
        return ""
    return advice.past_expiry_warning(expires_on, today=timezone.localdate())


def _hints(raw_address: str, username: str, auth_type: str = "") -> dict:
    try:
        normalized = normalize_address(raw_address)
    except ValidationError:
        return {}
    try:
        kind = get_auth_kind(auth_type)
    except UnknownAuthKind:
        kind = None
    return {
        "username": advice.username_advice(normalized.key),
        "expiry": advice.expiry_warning(normalized.key, username.strip(), kind=kind),
        "note": normalized.note,
        "plain_http": normalized.plain_http,
        "unicode_host": unicode_host(normalized.key),
        "key": normalized.key,
    }


def _render_form(
    request: HttpRequest,
    membership: Membership,
    form: RegistryForm,
    registry: ContainerRegistry | None = None,
    editing_name: str = "",
    **extra,
) -> HttpResponse:
    if registry is None:
        action = reverse("registries:create", kwargs={"slug": membership.organization.slug})
    else:
        action = reverse(
            "registries:edit", kwargs={"slug": membership.organization.slug, "pk": registry.pk}
        )
    context = _page_context(
        request,
        membership,
        form=form,
        form_action=action,
        editing=registry,
        editing_name=editing_name,
        **extra,
    )
    # From the first look: an edit dialog warns about the stored address (ECR expiry) at once.
    address, username = form["address"].value(), form["username"].value()
    if address:
        context["hints"] = _hints(address, username or "", form["auth_type"].value() or "")
    if request.htmx:
        return _render(request, f"{PAGE}#form", context)
    return _render(request, PAGE, context)


def _saved_message(registry: ContainerRegistry, verb: str, form: RegistryForm) -> str:
    parts = [f"{verb.capitalize()} “{registry.display_name}”."]
    if form.normalized_address and form.normalized_address.saved_note:
        parts.append(form.normalized_address.saved_note)
    if form.expiry_warning:
        parts.append(form.expiry_warning)
    if form.past_expiry_warning:
        parts.append(form.past_expiry_warning)
    return " ".join(parts)


# --- Test connection --------------------------------------------------------------------------
# Both views log in to a registry from this server, now. They never hold a database transaction
# open during that network I/O (non_atomic_requests keeps it so even with ATOMIC_REQUESTS), and
# their answers are never cached. The result goes into the form's or the row's result slot for
# htmx, or into the re-rendered page without JavaScript.


@transaction.non_atomic_requests
@login_required
@sensitive_post_parameters(*secret_parameters())
@require_POST
@never_cache
def registry_test_form_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Test what is typed in the form; with the `id` of the registry being edited, a blank
    secret means that registry's stored one."""
    membership = membership_or_404(request.user, slug)
    require_registry_manager(membership, action=TEST)
    registry = _edited_registry_or_404(membership, request.POST.get("id", ""))
    editing_name = registry.display_name if registry else ""
    form = RegistryTestForm(request.POST, instance=registry, organization=membership.organization)
    if not form.is_valid():
        response = _render_form(request, membership, form, registry, editing_name)
        if request.htmx:
            # The Test button targets the result slot; errors belong to the whole form.
            response = reswap(retarget(response, "#registry-form"), "outerHTML")
        return response
    report = connection_test.take_test_slot(request.user) or connection_test.check_login(
        form.registry_to_test()
    )
    if request.htmx:
        response = _render(request, f"{PAGE}#probe-result", {"report": report})
    else:
        response = _render_form(request, membership, form, registry, editing_name, report=report)
    return _with_throttle_status(response, report)


@transaction.non_atomic_requests
@login_required
@sensitive_post_parameters(*secret_parameters())
@require_POST
@never_cache
def registry_test_stored_view(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Test a saved registry with its stored credentials."""
    membership = membership_or_404(request.user, slug)
    require_registry_manager(membership, action=TEST)
    registry = _registry_or_404(membership, pk)
    report = connection_test.take_test_slot(request.user) or connection_test.check_login(registry)
    if request.htmx:
        context = {"report": report, "dismissible": True}
        response = _render(request, f"{PAGE}#probe-result", context)
    else:
        context = _page_context(request, membership, tested_pk=registry.pk, report=report)
        response = _render(request, PAGE, context)
    return _with_throttle_status(response, report)


def _edited_registry_or_404(membership: Membership, raw_id: str) -> ContainerRegistry | None:
    if not raw_id:
        return None
    pk = parse_id(raw_id)
    if pk is None:
        raise Http404("No such registry.")
    return _registry_or_404(membership, pk)


def _with_throttle_status(response: HttpResponse, report: connection_test.Report) -> HttpResponse:
    """Our own rate limit answers 429 with Retry-After (app.js lets htmx show its message)."""
    if report.retry_after:
        response.status_code = 429
        response["Retry-After"] = str(report.retry_after)
    return response
