"""The operators' admin for clusters, and delivery's part of the organization admin.

A cluster's kubeconfig is write-only (never rendered back). The cluster list shows each
cluster's health from its targets; organizations show their targets and get a "Deliver now"
action, added through orgsettings' extension point so tenancy knows nothing of delivery.
Pending removals are listed read-only.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.debug import sensitive_post_parameters

from orgsettings.admin import ReadOnlyAdmin, count_per_organization, extend_organization_admin

from .forms import ClusterForm
from .models import Cluster, DeliveryTarget, PendingRemoval, TargetStatus
from .services import cluster_add, cluster_update, request_delivery


def _state(css_class: str, icon: str, text) -> str:
    return format_html(
        '<span class="sync-state {}"><span aria-hidden="true">{}</span> {}</span>',
        css_class,
        icon,
        text,
    )


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    form = ClusterForm
    list_display = [
        "name",
        "connection",
        "is_default",
        "synced",
        "failing",
        "pending",
        "last_error",
    ]
    readonly_fields = ["config_version", "created_at", "updated_at"]

    class Media:
        css = {"all": ["css/admin.css"]}

    def get_queryset(self, request):
        last_error = (
            DeliveryTarget.objects.filter(cluster=OuterRef("pk"), status=TargetStatus.ERROR)
            .order_by("-failing_since")
            .values("error")[:1]
        )
        return (
            super()
            .get_queryset(request)
            .defer("kubeconfig")
            .annotate(
                synced_count=Count("targets", filter=Q(targets__status=TargetStatus.SYNCED)),
                failing_count=Count("targets", filter=Q(targets__status=TargetStatus.ERROR)),
                pending_count=Count(
                    "targets",
                    filter=Q(targets__status__in=[TargetStatus.PENDING, TargetStatus.REMOVING]),
                ),
                last_error_text=Subquery(last_error),
            )
        )

    @admin.display(description="Synced", ordering="synced_count")
    def synced(self, cluster: Cluster) -> str:
        return _state("sync-ok", "✓", cluster.synced_count)

    @admin.display(description="Failing", ordering="failing_count")
    def failing(self, cluster: Cluster) -> str:
        if not cluster.failing_count:
            return _state("sync-none", "○", 0)
        return _state("sync-error", "!", cluster.failing_count)

    @admin.display(description="Pending", ordering="pending_count")
    def pending(self, cluster: Cluster) -> str:
        return _state(
            "sync-pending" if cluster.pending_count else "sync-none", "…", cluster.pending_count
        )

    @admin.display(description="Last error")
    def last_error(self, cluster: Cluster) -> str:
        return cluster.last_error_text or ""

    @method_decorator(sensitive_post_parameters("kubeconfig"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj: Cluster, form: ClusterForm, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in ("name", "connection", "is_default")}
        kubeconfig = form.cleaned_data.get("kubeconfig")
        if change:
            saved = cluster_update(obj, kubeconfig=kubeconfig, **fields)
        else:
            saved = cluster_add(kubeconfig=kubeconfig or "", **fields)
        obj.pk, obj._state.adding = saved.pk, False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Targets protect their cluster: unplace the organizations first (unplace_org).
        return super().has_delete_permission(request, obj) and (
            obj is None or not obj.targets.exists()
        )


@admin.display(description="Delivery targets")
def delivery_targets(modeladmin, organization) -> str:
    targets = (
        list(organization.delivery_targets.select_related("cluster")) if organization.pk else []
    )
    if not targets:
        return "Not placed on any cluster (place_org SLUG CLUSTER)."
    return format_html_join(
        "",
        "<div>{}/{}: {}{}</div>",
        (
            (
                t.cluster.name,
                t.namespace,
                t.get_status_display(),
                f" since {t.failing_since:%Y-%m-%d %H:%M} UTC: {t.error}" if t.error else "",
            )
            for t in targets
        ),
    )


@admin.display(description="Delivery", ordering="failing_targets")
def delivery_health(modeladmin, organization) -> str:
    if organization.failing_targets:
        return _state("sync-error", "!", f"{organization.failing_targets} failing")
    if not organization.target_count:
        return _state("sync-none", "○", "Not placed")
    return _state("sync-ok", "✓", "No errors")


@admin.action(description="Deliver selected to their clusters now", permissions=["change"])
def deliver_now(modeladmin, request, queryset) -> None:
    organizations = list(queryset)
    for organization in organizations:
        request_delivery(organization, reason="admin")
    count = len(organizations)
    modeladmin.message_user(
        request,
        f"Delivery queued for {count} organization{'s' if count != 1 else ''}: their targets show "
        "Pending until a worker has delivered them.",
        messages.SUCCESS,
    )


extend_organization_admin(
    column=delivery_health,
    annotations={
        "target_count": count_per_organization(DeliveryTarget.objects.all()),
        "failing_targets": count_per_organization(
            DeliveryTarget.objects.filter(status=TargetStatus.ERROR)
        ),
    },
    detail=delivery_targets,
    action=deliver_now,
)


@admin.register(PendingRemoval)
class PendingRemovalAdmin(ReadOnlyAdmin):
    """Secrets still to be taken out of a cluster: read-only, since only the cluster's
    confirmation may end a removal (the worker and every reconcile pass retry it)."""

    list_display = [
        "organization_slug",
        "cluster",
        "namespace",
        "attempts",
        "retry_at",
        "error",
        "created_at",
    ]
    list_filter = ["cluster"]
    list_select_related = ["cluster"]
    search_fields = ["organization_slug", "namespace"]
    ordering = ["retry_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("cluster__kubeconfig")
