"""The Container Registries section of the Settings page.

Every view works as a plain page (with redirects after POST) and, for htmx requests, answers
the fragment of the page it changes: the form into the dialog, or the re-queried table after
a save.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from delivery.views import delivery_context
from orgsettings.access import membership_or_404, require_registry_manager
from orgsettings.audit import client_ip
from orgsettings.models import Membership
from orgsettings.nav import settings_context

from . import advice, probing
from .forms import RegistryForm, RegistryTestForm
from .models import ContainerRegistry
from .services import RegistryChangedError, registry_create, registry_delete, registry_update
from .validation import normalize_address

PAGE = "registries/registries.html"


def _registry_or_404(membership: Membership, pk: int) -> ContainerRegistry:
    return get_object_or_404(ContainerRegistry, pk=pk, organization=membership.organization)


def _page_context(request: HttpRequest, membership: Membership, **extra) -> dict:
    registries = list(
        membership.organization.registries.select_related("updated_by").order_by("display_name")
    )
    return {
        **settings_context(request, membership, section="registries"),
        "registries": registries,
        **delivery_context(membership, registries),
        "general_advice": advice.GENERAL_ADVICE,
        **extra,
    }


def _render(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _table_response(request: HttpRequest, membership: Membership, message: str) -> HttpResponse:
    """After a change made through htmx: the re-queried table, the message, and a close event."""
    messages.success(request, message)
    response = _render(request, f"{PAGE}#table-with-messages", _page_context(request, membership))
    response = retarget(response, "#registry-table")
    response = reswap(response, "outerHTML")
    return trigger_client_event(response, "registries:changed")


@login_required
@require_GET
def registry_list(request: HttpRequest, slug: str) -> HttpResponse:
    membership = membership_or_404(request.user, slug)
    context = _page_context(request, membership)
    if request.htmx:
        return _render(request, f"{PAGE}#table", context)
    return _render(request, PAGE, context)


@login_required
@sensitive_post_parameters("password", "token")
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
            return _table_response(request, membership, message)
        messages.success(request, message)
        return redirect("registries:list", slug=slug)
    return _render_form(request, membership, form)


@login_required
@sensitive_post_parameters("password", "token")
@require_http_methods(["GET", "POST"])
def registry_edit_view(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    membership = membership_or_404(request.user, slug)
    require_registry_manager(membership)
    registry = _registry_or_404(membership, pk)
    stored_name = registry.display_name
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
            form.add_error(None, _changed_message(changed.current))
        else:
            message = _saved_message(registry, "saved", form)
            if request.htmx:
                return _table_response(request, membership, message)
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
            return _table_response(request, membership, message)
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
    context = {"hints": _hints(request.POST.get("address", ""), request.POST.get("username", ""))}
    return _render(request, f"{PAGE}#hints", context)


def _hints(raw_address: str, username: str) -> dict:
    try:
        normalized = normalize_address(raw_address)
    except ValidationError:
        return {}
    return {
        "username": advice.username_advice(normalized.key),
        "expiry": advice.expiry_warning(normalized.key, username.strip()),
        "note": normalized.note,
        "plain_http": normalized.plain_http,
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
    if form.is_bound and form.data.get("address"):
        context["hints"] = _hints(form.data.get("address", ""), form.data.get("username", ""))
    if request.htmx:
        return _render(request, f"{PAGE}#form", context)
    return _render(request, PAGE, context)


def _saved_message(registry: ContainerRegistry, verb: str, form: RegistryForm) -> str:
    parts = [f"{verb.capitalize()} “{registry.display_name}”."]
    if form.address_note:
        parts.append(form.address_note)
    if form.expiry_warning:
        parts.append(form.expiry_warning)
    return " ".join(parts)


def _changed_message(current: ContainerRegistry | None) -> str:
    if current is None:
        return "This registry was deleted by someone else while you were editing it."
    who = current.updated_by.get_username() if current.updated_by else "someone else"
    return (
        f"This registry was changed by {who} since you opened it. Your changes were not saved: "
        "reload to see the current values, then make your change again."
    )


# --- Test connection --------------------------------------------------------------------------
# Both views log in to a registry from this server, now. They never hold a database transaction
# open during that network I/O (non_atomic_requests keeps it so even with ATOMIC_REQUESTS), and
# their answers are never cached. The result goes into the form's or the row's result slot for
# htmx, or into the re-rendered page without JavaScript.


@transaction.non_atomic_requests
@login_required
@sensitive_post_parameters("password", "token")
@require_POST
@never_cache
def registry_test_form_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Test what is typed in the form; with the `id` of the registry being edited, a blank
    secret means that registry's stored one."""
    membership = membership_or_404(request.user, slug)
    require_registry_manager(membership)
    registry = _edited_registry_or_404(membership, request.POST.get("id", ""))
    editing_name = registry.display_name if registry else ""
    form = RegistryTestForm(request.POST, instance=registry, organization=membership.organization)
    if not form.is_valid():
        response = _render_form(request, membership, form, registry, editing_name)
        if request.htmx:
            # The Test button targets the result slot; errors belong to the whole form.
            response = reswap(retarget(response, "#registry-form"), "outerHTML")
        return response
    report = probing.throttle(request.user) or probing.check_login(form.registry_to_test())
    if request.htmx:
        response = _render(request, f"{PAGE}#probe-result", {"report": report})
    else:
        response = _render_form(request, membership, form, registry, editing_name, report=report)
    return _with_throttle_status(response, report)


@transaction.non_atomic_requests
@login_required
@sensitive_post_parameters("password", "token")
@require_POST
@never_cache
def registry_test_stored_view(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Test a saved registry with its stored credentials."""
    membership = membership_or_404(request.user, slug)
    require_registry_manager(membership)
    registry = _registry_or_404(membership, pk)
    report = probing.throttle(request.user) or probing.check_login(registry)
    if request.htmx:
        response = _render(request, f"{PAGE}#probe-result", {"report": report})
    else:
        context = _page_context(request, membership, tested_pk=registry.pk, report=report)
        response = _render(request, PAGE, context)
    return _with_throttle_status(response, report)


def _edited_registry_or_404(membership: Membership, raw_id: str) -> ContainerRegistry | None:
    if not raw_id:
        return None
    if not raw_id.isdigit():
        raise Http404("No such registry.")
    return _registry_or_404(membership, int(raw_id))


def _with_throttle_status(response: HttpResponse, report: probing.Report) -> HttpResponse:
    """Our own rate limit answers 429 with Retry-After (app.js lets htmx show its message)."""
    if report.retry_after:
        response.status_code = 429
        response["Retry-After"] = str(report.retry_after)
    return response
