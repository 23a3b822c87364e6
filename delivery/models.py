"""Clusters, and where each organization's image-pull Secret is delivered (its targets).

A delivery target is one organization on one cluster, in one namespace. It holds the state of
that delivery: what was last delivered (a digest, and the version of each registry it
contained), when, and what went wrong. A registry is delivered to a target when the target's
`delivered_versions` holds the registry's current version, so the page can tell per registry
and per cluster what the cluster holds without decrypting anything.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from orgsettings.models import Organization, validate_dns_label
from registries.encryption import EncryptedTextField


class Cluster(models.Model):
    class Connection(models.TextChoices):
        IN_CLUSTER = "in-cluster", "In-cluster service account"
        KUBECONFIG = "kubeconfig", "Kubeconfig"
        # KUBECONFIG's file, else in-cluster: the cluster of installations without clusters.
        ENVIRONMENT = "environment", "From the environment (KUBECONFIG or in-cluster)"

    name = models.CharField(max_length=40, unique=True, validators=[validate_dns_label])
    connection = models.CharField(max_length=20, choices=Connection.choices)
    # Write-only, like a registry password: never rendered back.
    kubeconfig = EncryptedTextField("Kubeconfig", blank=True)
    is_default = models.BooleanField(
        "default for new organizations",
        default=False,
        help_text="New organizations are placed on the default cluster.",
    )
    # Bumped whenever the connection changes, so cached API clients are rebuilt.
    config_version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_cluster",
                violation_error_message="Another cluster is already the default.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Cluster {self.pk} {self.name!r}>"


class TargetStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SYNCED = "synced", "Synced"
    ERROR = "error", "Error"
    REMOVING = "removing", "Removing"


class DeliveryTarget(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="delivery_targets"
    )
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="targets")
    namespace = models.CharField(max_length=63, validators=[validate_dns_label])

    status = models.CharField(
        max_length=12, choices=TargetStatus.choices, default=TargetStatus.PENDING
    )
    # When the organization last changed what this target must hold (a save, a placement).
    changed_at = models.DateTimeField(auto_now_add=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    # A stable code for the error (ClusterError.kind), for advice and metrics.
    error_kind = models.CharField(max_length=40, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    # sha256 of the Secret's data value as last delivered: compared, never decrypted.
    delivered_digest = models.CharField(max_length=64, blank=True)
    # {registry id (str): registry version} of the registries the delivered Secret holds.
    delivered_versions = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["cluster__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "cluster"], name="one_target_per_cluster"
            )
        ]
        indexes = [models.Index(fields=["cluster", "status"], name="target_cluster_status")]

    def __str__(self) -> str:
        return f"{self.organization.slug} on {self.cluster.name}/{self.namespace}"

    def holds(self, registry_id: int, version: int) -> bool:
        """Whether the delivered Secret holds this version of the registry's entry."""
        return self.delivered_versions.get(str(registry_id)) == version


class PendingRemoval(models.Model):
    """Our Secret and references still to be taken out of one namespace of a cluster, for an
    organization that was deleted (or, in the namespaced RBAC scope, moved away from it).

    Nothing else remembers such a namespace: in the namespaced scope the reconciler reads only
    the namespaces of current targets, so a removal that failed while the cluster was down would
    be forgotten. The record is kept until the cluster confirms the removal; the worker retries
    it with a growing delay, and every reconcile pass retries those that are due.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="removals")
    organization_slug = models.CharField(max_length=40)
    namespace = models.CharField(max_length=63)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    retry_at = models.DateTimeField(default=timezone.now)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "organization_slug", "namespace"], name="one_pending_removal"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_slug} from {self.cluster_id}/{self.namespace}"
