"""The operators' admin for organizations, their members and the audit trail.

Changes go through orgsettings.services, so the admin writes the same audit events as the
Settings page and the CLI, and saves organizations with a plain save() so the sync's signals
see namespace changes. The audit trail is read-only here.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.html import format_html, format_html_join

from registries import dispatch, kube
from registries.models import ContainerRegistry, SyncStatus

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


def sync_organizations_now(modeladmin: admin.ModelAdmin, request, organization_ids) -> None:
    """Queue a cluster sync of the organizations, like a save does; shared by both admins."""
    if kube.configuration_source() is None:
        modeladmin.message_user(
            request, "No cluster is configured, so there is nothing to sync to.", messages.WARNING
        )
        return
    organization_ids = sorted(set(organization_ids))
    for organization_id in organization_ids:
        dispatch.schedule_sync(organization_id)
    count = len(organization_ids)
    modeladmin.message_user(
        request,
        f"Sync to the cluster started for {count} organization{'s' if count != 1 else ''}: "
        "their registries show Pending until it is done.",
        messages.SUCCESS,
    )


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "namespace", "member_count", "registry_count", "health"]
    search_fields = ["name", "slug", "namespace"]
    inlines = [MembershipInline]
    actions = ["sync_now"]

    class Media:
        css = {"all": ["css/admin.css"]}

    def get_queryset(self, request):
        registries = ContainerRegistry.objects.all()
        return (
            super()
            .get_queryset(request)
            .annotate(
                member_count=_count_per_organization(Membership.objects.all()),
                registry_count=_count_per_organization(registries),
                error_count=_count_per_organization(
                    registries.filter(sync_status=SyncStatus.ERROR)
                ),
            )
        )

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, organization: Organization) -> int:
        return organization.member_count

    @admin.display(description="Registries", ordering="registry_count")
    def registry_count(self, organization: Organization) -> int:
        return organization.registry_count

    @admin.display(description="Health", ordering="error_count")
    def health(self, organization: Organization) -> str:
        if organization.error_count:
            return format_html(
                '<span class="sync-state sync-error"><span aria-hidden="true">!</span> '
                "{} in error</span>",
                organization.error_count,
            )
        if not organization.registry_count:
            return format_html('<span class="sync-state sync-none">{}</span>', "No registries")
        return format_html(
            '<span class="sync-state sync-ok"><span aria-hidden="true">✓</span> {}</span>',
            "No errors",
        )

    @admin.action(description="Sync selected to the cluster now", permissions=["change"])
    def sync_now(self, request, queryset) -> None:
        sync_organizations_now(self, request, queryset.values_list("pk", flat=True))

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


def _stored_membership(membership: Membership) -> Membership:
    return Membership.objects.select_related("user", "organization").get(pk=membership.pk)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
