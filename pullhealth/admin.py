"""The operators' view of pull health: each organization's choices and the restarts made.

Both are read-only here: the automatic mode is switched on the Settings page, which records
the change in Activity, and a restart is history. Neither holds a credential.
"""

from __future__ import annotations

from django.contrib import admin

from orgsettings.admin import ReadOnlyAdmin

from .models import PullHealthSettings, WorkloadRestart


@admin.register(PullHealthSettings)
class PullHealthSettingsAdmin(ReadOnlyAdmin):
    list_display = ["organization", "auto_restart"]
    list_filter = ["auto_restart"]
    list_select_related = ["organization"]
    search_fields = ["organization__slug", "organization__name"]


@admin.register(WorkloadRestart)
class WorkloadRestartAdmin(ReadOnlyAdmin):
    list_display = [
        "restarted_at",
        "organization",
        "cluster",
        "namespace",
        "workload_kind",
        "workload_name",
        "action",
        "cause",
        "registry_name",
        "automatic",
        "actor",
    ]
    list_filter = ["action", "cause", "automatic", "target__cluster"]
    search_fields = ["workload_name", "namespace", "target__organization__slug"]
    date_hierarchy = "restarted_at"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("target__organization", "target__cluster", "registry", "actor")
            # Names only: no registry credential or cluster kubeconfig is read for this list.
            .only(
                *(f.name for f in WorkloadRestart._meta.concrete_fields),
                "target__namespace",
                "target__organization__slug",
                "target__cluster__name",
                "registry__display_name",
                "actor__username",
            )
        )

    @admin.display(description="Organization", ordering="target__organization__slug")
    def organization(self, restart: WorkloadRestart) -> str:
        return restart.target.organization.slug

    @admin.display(description="Cluster", ordering="target__cluster__name")
    def cluster(self, restart: WorkloadRestart) -> str:
        return restart.target.cluster.name

    @admin.display(description="Registry")
    def registry_name(self, restart: WorkloadRestart) -> str:
        return restart.registry.display_name if restart.registry_id else ""
