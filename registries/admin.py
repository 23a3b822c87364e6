"""The operators' admin for container registries.

Editing uses the Settings page's RegistryForm (same validation, write-only secrets) and saves
through registries.services, so the audit trail and delivery see admin changes exactly like
Settings page changes. Changing anything here takes the "Can change registry credentials"
permission on top of the usual ones; staff without it see registries read-only, and nobody sees
a stored password or token.
"""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from orgsettings.admin import count_per_organization, extend_organization_admin
from orgsettings.audit import audited_as, client_ip
from orgsettings.models import AuditSource

from . import connection_test
from .auth_kinds import EXPIRY_WARNING_DAYS, UnknownAuthKind, auth_kinds, secret_parameters
from .auth_kinds.ecr import AmazonECR
from .ecr_refresh import ecr_refresh_request
from .forms import RegistryForm, changed_message
from .models import SECRET_COLUMNS, ContainerRegistry
from .services import RegistryChangedError, registry_create, registry_delete, registry_update

CREDENTIALS_PERMISSION = "registries.change_registry_credentials"
# Each test may take up to REGISTRY_PROBE_TIMEOUT seconds; the admin request must stay short.
MAX_TESTS_PER_ACTION = 10
_MESSAGE_LEVELS = {"ok": messages.SUCCESS, "warn": messages.WARNING, "error": messages.ERROR}


class RegistryAdminForm(RegistryForm):
    """The Settings form, with the organization chosen by the operator when adding."""

    class Meta(RegistryForm.Meta):
        fields = ["organization", *RegistryForm.Meta.fields]

    def clean_organization(self):
        organization = self.cleaned_data["organization"]
        # Cleaned before the other fields: their uniqueness rules look within this organization.
        self.instance.organization = organization
        return organization

    def clean(self):
        cleaned = super().clean()
        # A missing version is refused like a stale one (registry_update would refuse it too).
        if self.instance.pk and cleaned.get("version") != self.instance.version:
            raise ValidationError(changed_message(self.instance), code="changed")
        return cleaned


class ExpiryFilter(admin.SimpleListFilter):
    """Across organizations: the credentials whose "Expires on" date is near or past, and the
    issued logins (a kind's minted token) that were not refreshed in time."""

    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [
            ("soon", f"Expires within {EXPIRY_WARNING_DAYS} days"),
            ("expired", "Expired"),
            ("dated", "Has an expiry date"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        today = timezone.localdate(now)
        if self.value() == "soon":
            return queryset.filter(
                expires_on__gte=today,
                expires_on__lte=today + datetime.timedelta(days=EXPIRY_WARNING_DAYS),
            )
        if self.value() == "expired":
            return queryset.filter(Q(expires_on__lt=today) | Q(issued_expires_at__lt=now))
        if self.value() == "dated":
            return queryset.filter(Q(expires_on__isnull=False) | Q(issued_expires_at__isnull=False))
        return queryset


@admin.register(ContainerRegistry)
class ContainerRegistryAdmin(admin.ModelAdmin):
    form = RegistryAdminForm
    list_display = [
        "display_name",
        "organization",
        "address",
        "auth_type",
        "expiry",
        "updated_at",
    ]
    list_select_related = ["organization"]
    list_filter = ["auth_type", ExpiryFilter, "organization"]
    search_fields = ["display_name", "address", "organization__name", "organization__slug"]
    autocomplete_fields = ["organization"]
    actions = ["test_connection", "refresh_token"]
    _record = ["created_at", "created_by", "updated_at", "updated_by"]

    class Media:
        css = {"all": ["css/admin.css"]}

    def get_queryset(self, request):
        # Lists never need the secrets: leave them encrypted in the database.
        return super().get_queryset(request).defer(*SECRET_COLUMNS)

    def get_fieldsets(self, request, obj=None):
        registry = ["organization", "display_name", "address", "auth_type", "username"]
        if obj is not None and not self.has_change_permission(request, obj):
            registry += ["expires_on", "credentials"]
        else:
            # Every kind's fields: the form checks only the chosen kind's.
            kind_fields = [name for kind in auth_kinds() for name in kind.field_names()]
            registry += [*dict.fromkeys(kind_fields), "expires_on", "version"]
        fieldsets = [(None, {"fields": registry})]
        if obj is not None:
            fieldsets += [("Record", {"fields": self._record})]
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["organization", "credentials", *self._record]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and not self.has_change_permission(request, obj):
            # Read-only: every field is displayed, none is a form field, no secret is rendered.
            kwargs["form"] = forms.ModelForm
        else:
            # The form's own field list: the secrets and the version are form-only fields that
            # must not be copied onto the model instance; the services decide what is stored.
            kwargs["fields"] = None
        return super().get_form(request, obj, change, **kwargs)

    @method_decorator(sensitive_post_parameters(*secret_parameters()))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(description="Expires", ordering="expires_on")
    def expiry(self, registry: ContainerRegistry) -> str:
        try:
            expiry = registry.kind.expiry(registry, now=timezone.now())
        except UnknownAuthKind:
            return "—"
        date = registry.expires_on.isoformat() if registry.expires_on else ""
        words = expiry.text if expiry else ""
        return " · ".join(part for part in (date, words) if part) or "—"

    @admin.display(description="Credentials")
    def credentials(self, registry: ContainerRegistry) -> str:
        if registry.credentials_problem:
            return registry.credentials_problem
        return registry.kind.describe_stored(registry)

    def _may_change_credentials(self, request) -> bool:
        return request.user.has_perm(CREDENTIALS_PERMISSION)

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and self._may_change_credentials(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._may_change_credentials(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_change_credentials(request)

    def has_change_credentials_permission(self, request) -> bool:
        return self._may_change_credentials(request)

    # A test sends the stored secret to the registry's address: the same permission as changing
    # it, and the same per-person rate limit as on the Settings page.
    @admin.action(description="Test connection", permissions=["change_credentials"])
    def test_connection(self, request, queryset) -> None:
        """Log in to each selected registry with its stored credentials and report per row."""
        registries = list(
            queryset.select_related("organization").order_by("pk")[: MAX_TESTS_PER_ACTION + 1]
        )
        for registry in registries[:MAX_TESTS_PER_ACTION]:
            refused = connection_test.take_test_slot(request.user)
            report = refused or connection_test.check_login(registry)
            login = f" ({report.login})" if report.login else ""
            self.message_user(
                request,
                f"{registry.organization.slug} / {registry.display_name} ({registry.address}): "
                f"{report.icon} {report.title}{login}. {report.message}",
                _MESSAGE_LEVELS[report.tone],
            )
            if refused:
                return
        if len(registries) > MAX_TESTS_PER_ACTION:
            self.message_user(
                request,
                f"Tested the first {MAX_TESTS_PER_ACTION} registries only: each test can take a few "
                "seconds. Select fewer to test the others.",
                messages.WARNING,
            )

    # Minting uses the stored AWS keys: the same permission as testing them.
    @admin.action(description="Refresh Amazon ECR token now", permissions=["change_credentials"])
    def refresh_token(self, request, queryset) -> None:
        """Queue a token refresh for each selected Amazon ECR registry, due now; the worker
        mints it and the delivery that follows rewrites the Secret."""
        chosen = list(queryset.select_related(None).only("pk", "auth_type"))
        ecr = [registry for registry in chosen if registry.auth_type == AmazonECR.value]
        for registry in ecr:
            ecr_refresh_request(registry)
        if ecr:
            self.message_user(
                request,
                f"Queued a token refresh for {len(ecr)} Amazon ECR "
                f"{'registry' if len(ecr) == 1 else 'registries'}: the worker mints the "
                "token and delivers it.",
                messages.SUCCESS,
            )
        if len(ecr) < len(chosen):
            self.message_user(
                request,
                f"{len(chosen) - len(ecr)} selected registries are not Amazon ECR: their "
                "credentials are stored as given, with nothing to refresh.",
                messages.WARNING,
            )

    @audited_as(AuditSource.ADMIN)
    def save_model(self, request, obj: ContainerRegistry, form: RegistryAdminForm, change) -> None:
        if change:
            try:
                saved = registry_update(
                    obj,
                    actor=request.user,
                    ip=client_ip(request),
                    expected_version=form.cleaned_data.get("version"),
                    **form.registry_fields(),
                )
            except RegistryChangedError as changed:
                # Someone saved between the form's version check and this save: nothing was
                # written. Say so, and send the operator back to the current values.
                self.message_user(request, changed_message(changed.current), messages.ERROR)
                request._registry_not_saved = True
                return
        else:
            saved = registry_create(
                obj.organization,
                actor=request.user,
                ip=client_ip(request),
                **form.registry_fields(),
            )
        # The admin goes on with `obj` (log entry, message, redirect): make it the stored row.
        for field in obj._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    def log_change(self, request, obj, message):
        if getattr(request, "_registry_not_saved", False):
            return None
        return super().log_change(request, obj, message)

    def response_change(self, request, obj):
        if getattr(request, "_registry_not_saved", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    @audited_as(AuditSource.ADMIN)
    def delete_model(self, request, obj: ContainerRegistry) -> None:
        registry_delete(obj, actor=request.user, ip=client_ip(request))

    @audited_as(AuditSource.ADMIN)
    @transaction.atomic
    def delete_queryset(self, request, queryset) -> None:
        for registry in queryset.select_related("organization"):
            registry_delete(registry, actor=request.user, ip=client_ip(request))


@admin.display(description="Registries", ordering="registry_count")
def registry_count(modeladmin, organization) -> int:
    return organization.registry_count


extend_organization_admin(
    column=registry_count,
    annotations={"registry_count": count_per_organization(ContainerRegistry.objects.all())},
)
