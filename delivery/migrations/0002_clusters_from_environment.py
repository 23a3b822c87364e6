"""Today's installation in the shape of clusters and targets.

Installations from before clusters were data synced to one cluster, the environment's
(KUBECONFIG, or in-cluster in a pod), and kept the sync state on each registry. When such an
installation has a cluster (the environment offers one, or a registry has ever been synced),
it becomes the cluster "default", every organization a target on it, and the registries' sync
state moves into those targets. The registries' columns go in registries' next migration.
"""

import os
from pathlib import Path

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def _environment_offers_cluster() -> bool:
    if getattr(settings, "KUBECONFIG", ""):
        return True
    token = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and token.is_file()


def forwards(apps, schema_editor):
    Cluster = apps.get_model("delivery", "Cluster")
    DeliveryTarget = apps.get_model("delivery", "DeliveryTarget")
    Organization = apps.get_model("orgsettings", "Organization")
    ContainerRegistry = apps.get_model("registries", "ContainerRegistry")
    ever_synced = ContainerRegistry.objects.exclude(sync_status="not_synced").exists()
    if Cluster.objects.exists() or not (ever_synced or _environment_offers_cluster()):
        return
    if not Organization.objects.exists() and not _environment_offers_cluster():
        return
    cluster = Cluster.objects.create(name="default", connection="environment", is_default=True)
    now = timezone.now()
    by_org = {}
    for row in ContainerRegistry.objects.values(
        "pk", "organization_id", "version", "sync_status", "synced_at", "sync_error"
    ):
        by_org.setdefault(row["organization_id"], []).append(row)
    targets = []
    for organization in Organization.objects.all():
        rows = by_org.get(organization.pk, [])
        errors = [r for r in rows if r["sync_status"] == "error"]
        synced = [r for r in rows if r["sync_status"] == "synced"]
        if errors:
            status = "error"
        elif rows and len(synced) == len(rows):
            status = "synced"
        else:
            status = "pending"
        targets.append(
            DeliveryTarget(
                organization=organization,
                cluster=cluster,
                namespace=organization.namespace,
                status=status,
                changed_at=now,
                synced_at=max((r["synced_at"] for r in synced if r["synced_at"]), default=None),
                error=errors[0]["sync_error"][:300] if errors else "",
                error_kind="legacy" if errors else "",
                failing_since=now if errors else None,
                # Unknown: the next reconcile pass compares the Secret's content and records it.
                delivered_digest="",
                delivered_versions={str(r["pk"]): r["version"] for r in synced},
            )
        )
    DeliveryTarget.objects.bulk_create(targets)


def backwards(apps, schema_editor):
    DeliveryTarget = apps.get_model("delivery", "DeliveryTarget")
    ContainerRegistry = apps.get_model("registries", "ContainerRegistry")
    targets = {t.organization_id: t for t in DeliveryTarget.objects.filter(cluster__name="default")}
    for registry in ContainerRegistry.objects.all():
        target = targets.get(registry.organization_id)
        if target is None:
            continue
        held = target.delivered_versions.get(str(registry.pk)) == registry.version
        registry.sync_status = (
            "error" if target.status == "error" else "synced" if held else "pending"
        )
        registry.sync_error = target.error if target.status == "error" else ""
        registry.synced_at = target.synced_at if held else None
        registry.save(update_fields=["sync_status", "sync_error", "synced_at"])


class Migration(migrations.Migration):

    dependencies = [
        ("delivery", "0001_initial"),
        ("registries", "0002_registry_credentials_permission"),
        ("orgsettings", "0002_auditevent"),
    ]

    operations = [
        migrations.AlterField(
            model_name="cluster",
            name="connection",
            field=models.CharField(
                choices=[
                    ("in-cluster", "In-cluster service account"),
                    ("kubeconfig", "Kubeconfig"),
                    ("environment", "From the environment (KUBECONFIG or in-cluster)"),
                ],
                max_length=20,
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
