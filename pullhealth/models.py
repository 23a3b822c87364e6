"""The stored pull health of each delivery target, and the restarts made because of it.

The worker and the reconciler read pods from the cluster and write this; the Settings page only
reads it (with its age), so it never waits on a cluster. One PullHealth per target (one
organization on one cluster) says when it was last read and whether it could be; its failures
are the workloads that cannot pull one image, each with the registry that image is pulled with
(none: "no registry matches"), the cause and since when.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from delivery.models import DeliveryTarget
from orgsettings.models import Organization
from registries.models import ContainerRegistry

from .causes import MESSAGE_MAX_LENGTH, Cause


class WorkloadKind(models.TextChoices):
    DEPLOYMENT = "Deployment", "Deployment"
    STATEFUL_SET = "StatefulSet", "StatefulSet"
    DAEMON_SET = "DaemonSet", "DaemonSet"
    POD = "Pod", "Pod"


class PullHealth(models.Model):
    target = models.OneToOneField(
        DeliveryTarget, on_delete=models.CASCADE, related_name="pull_health"
    )
    # When the pods were last read; null until the first read.
    read_at = models.DateTimeField(null=True, blank=True)
    # Why they could not be read, for example kind "forbidden" when RBAC does not grant it
    # (the page then says "pull health not available: not permitted"). Delivery is unaffected.
    error_kind = models.CharField(max_length=40, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name_plural = "pull health"

    def __str__(self) -> str:
        return f"pull health of {self.target_id}"

    @property
    def available(self) -> bool:
        return self.read_at is not None and not self.error_kind


class PullFailure(models.Model):
    health = models.ForeignKey(PullHealth, on_delete=models.CASCADE, related_name="failures")
    # The registry whose Secret entry the node tries first for the image; null when none
    # matches. A deleted registry leaves its failures unmatched until the next read.
    registry = models.ForeignKey(
        ContainerRegistry,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pull_failures",
    )
    namespace = models.CharField(max_length=63)
    workload_kind = models.CharField(max_length=12, choices=WorkloadKind.choices)
    workload_name = models.CharField(max_length=253)
    # For a pod no Deployment, StatefulSet or DaemonSet owns: whether a controller does.
    controller_owned = models.BooleanField(default=False)
    container = models.CharField(max_length=63)
    init_container = models.BooleanField(default=False)
    image = models.CharField(max_length=1024)
    cause = models.CharField(max_length=20, choices=Cause.choices)
    # The cluster's message, shortened; never holds credentials (the runtime has none to say).
    message = models.CharField(max_length=MESSAGE_MAX_LENGTH, blank=True)
    # False when a pod predates the ServiceAccount's reference to our Secret.
    references_secret = models.BooleanField(default=True)
    pods = models.PositiveIntegerField(default=1)
    since = models.DateTimeField()
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["namespace", "workload_kind", "workload_name", "container"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "health",
                    "namespace",
                    "workload_kind",
                    "workload_name",
                    "container",
                    "image",
                ],
                name="one_failure_per_workload_image",
            )
        ]
        indexes = [models.Index(fields=["registry", "cause"], name="pullfailure_registry_cause")]

    def __str__(self) -> str:
        return f"{self.workload_kind} {self.namespace}/{self.workload_name}: {self.get_cause_display()}"


class PullHealthSettings(models.Model):
    """An organization's pull-health choices (tenancy keeps no feature settings)."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="pull_health_settings"
    )
    auto_restart = models.BooleanField(
        "restart affected workloads automatically",
        default=False,
        help_text=(
            "After a credential change or a new registry reaches a cluster, restart the"
            " workloads that could not pull from it, once."
        ),
    )

    class Meta:
        verbose_name_plural = "pull health settings"

    def __str__(self) -> str:
        return f"pull health settings of {self.organization_id}"


class WorkloadRestart(models.Model):
    """One restart: who (none for the automatic mode), which workload, why. The constraint
    makes "at most once per change" hold even when two workers decide at the same time."""

    class Action(models.TextChoices):
        ROLLOUT = "rollout", "Restarted"
        DELETE_POD = "delete_pod", "Pod deleted"

    target = models.ForeignKey(DeliveryTarget, on_delete=models.CASCADE, related_name="restarts")
    registry = models.ForeignKey(
        ContainerRegistry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    namespace = models.CharField(max_length=63)
    workload_kind = models.CharField(max_length=12, choices=WorkloadKind.choices)
    workload_name = models.CharField(max_length=253)
    action = models.CharField(max_length=12, choices=Action.choices)
    cause = models.CharField(max_length=20, choices=Cause.choices)
    # The delivered change this restart answers (restarts.change_key); blank when a person
    # asked for it.
    change = models.CharField(max_length=100, blank=True)
    automatic = models.BooleanField(default=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    restarted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-restarted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["target", "namespace", "workload_kind", "workload_name", "change"],
                condition=~models.Q(change=""),
                name="one_restart_per_change",
            )
        ]

    def __str__(self) -> str:
        return f"{self.workload_kind} {self.namespace}/{self.workload_name} at {self.restarted_at}"
