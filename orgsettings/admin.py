"""The operators' admin for organizations, their members and the audit trail.

Changes go through orgsettings.services, so the admin writes the same audit events as the
Settings page and the CLI, and saves organizations with a plain save() so the signals of the
features see namespace changes. The audit trail is read-only here. Features add their own
columns, inlines and actions to the organization admin with `extend_organization_admin`, so
this module knows none of them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.db import transaction
from django.db.models import Count, Expression, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.html import format_html_join

from .audit import audited_as, change_lines, client_ip
from .models import AuditEvent, AuditSource, Membership, Organization
from .services import (
    membership_remove,
    membership_set,
    organization_create,
    organization_delete,
    organization_update,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


def _count_per_organization(queryset):
    """A subquery counting `queryset`'s rows of each organization: no join, no row blow-up."""
    counts = (
        queryset.filter(organization=OuterRef("pk"))
        .order_by()
        .values("organization")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts), 0)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "namespace", "member_count"]
    search_fields = ["name", "slug", "namespace"]
    inlines = [MembershipInline]
    actions: list = []
    # {name: expression} that features add to the changelist's query (see below).
    annotations: dict[str, Expression] = {}

    class Media:
        css = {"all": ["css/admin.css"]}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                member_count=_count_per_organization(Membership.objects.all()), **self.annotations
            )
        )

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, organization: Organization) -> int:
        return organization.member_count

    @audited_as(AuditSource.ADMIN)
    def save_model(self, request, obj: Organization, form, change: bool) -> None:
        ip = client_ip(request)
        if change:
            organization_update(
                obj,
                actor=request.user,
                ip=ip,
                **{name: form.cleaned_data[name] for name in form.changed_data},
            )
        else:
            created = organization_create(
                slug=obj.slug, name=obj.name, namespace=obj.namespace, actor=request.user, ip=ip
            )
            obj.pk, obj._state.adding = created.pk, False

    @audited_as(AuditSource.ADMIN)
    def save_formset(self, request, form, formset, change: bool) -> None:
        if formset.model is not Membership:
            super().save_formset(request, form, formset, change)
            return
        ip = client_ip(request)
        organization = form.instance
        formset.save(commit=False)
        # The formset's instances already carry the submitted values: remove the stored rows.
        for membership in formset.deleted_objects:
            membership_remove(_stored_membership(membership), actor=request.user, ip=ip)
        for membership, changed_fields in formset.changed_objects:
            if "user" in changed_fields:
                # Pointing a row at another user is that user joining and the first one leaving.
                membership_remove(_stored_membership(membership), actor=request.user, ip=ip)
            membership_set(
                organization, user=membership.user, role=membership.role, actor=request.user, ip=ip
            )
        for membership in formset.new_objects:
            membership_set(
                organization, user=membership.user, role=membership.role, actor=request.user, ip=ip
            )

    @audited_as(AuditSource.ADMIN)
    def delete_model(self, request, obj: Organization) -> None:
        organization_delete(obj, actor=request.user, ip=client_ip(request))

    @audited_as(AuditSource.ADMIN)
    @transaction.atomic
    def delete_queryset(self, request, queryset) -> None:
        for organization in queryset:
            organization_delete(organization, actor=request.user, ip=client_ip(request))


def extend_organization_admin(
    *,
    column: Callable | None = None,
    annotations: dict[str, Expression] | None = None,
    detail: Callable | None = None,
    action: Callable | None = None,
) -> None:
    """For features: add a changelist column (a function decorated with @admin.display taking
    the admin and the organization) with the annotations it reads, a read-only detail on the
    change page (a function of the same shape), or an action."""
    if column is not None:
        setattr(OrganizationAdmin, column.__name__, column)
        OrganizationAdmin.list_display = [*OrganizationAdmin.list_display, column.__name__]
    if detail is not None:
        setattr(OrganizationAdmin, detail.__name__, detail)
        OrganizationAdmin.readonly_fields = [*OrganizationAdmin.readonly_fields, detail.__name__]
    if annotations:
        OrganizationAdmin.annotations = {**OrganizationAdmin.annotations, **annotations}
    if action is not None:
        OrganizationAdmin.actions = [*OrganizationAdmin.actions, action]


def count_per_organization(queryset):
    """For features' columns: a subquery counting `queryset`'s rows of each organization."""
    return _count_per_organization(queryset)


def _stored_membership(membership: Membership) -> Membership:
    return Membership.objects.select_related("user", "organization").get(pk=membership.pk)


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record operators may read but that only the platform writes: the audit trail here,
    and the features' histories."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The whole trail, for operators; nobody adds, changes or deletes events here."""

    list_display = [
        "created_at",
        "organization_slug",
        "actor_label",
        "source",
        "action",
        "target",
        "summary",
        "ip",
    ]
    list_filter = ["action", "source", "created_at", "actor_label", "organization_slug"]
    search_fields = ["organization_slug", "organization_name", "actor_label", "target_label"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "organization_name",
        "organization_slug",
        "actor_label",
        "source",
        "action",
        "target_type",
        "target_id",
        "target_label",
        "summary",
        "ip",
    ]
    readonly_fields = fields

    @admin.display(description="Object")
    def target(self, event: AuditEvent) -> str:
        return f"{event.target_type} {event.target_label}"

    @admin.display(description="Changes")
    def summary(self, event: AuditEvent) -> str:
        return format_html_join(
            "", "<div>{}</div>", ((line,) for line in change_lines(event.changes))
        )
