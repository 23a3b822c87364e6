"""What makes a delivery happen: registries and organizations changing.

Receivers only queue work, inside the transaction of the change (the task row commits or rolls
back with it); the delivery itself runs in a worker. Tenancy and registries do not know that
delivery exists: this module connects them.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from orgsettings.models import Organization
from registries.models import ContainerRegistry

from . import services, tasks
from .models import DeliveryTarget


@receiver(post_save, sender=ContainerRegistry, dispatch_uid="delivery.registry_saved")
@receiver(post_delete, sender=ContainerRegistry, dispatch_uid="delivery.registry_deleted")
def registry_changed(sender, instance: ContainerRegistry, origin=None, **kwargs) -> None:
    if isinstance(origin, Organization):
        return  # deleted with its organization: the organization's removal takes care of it
    organization = Organization.objects.filter(pk=instance.organization_id).first()
    if organization is not None:
        services.request_delivery(organization, reason="registry changed")


@receiver(pre_save, sender=Organization, dispatch_uid="delivery.organization_saving")
def organization_saving(sender, instance: Organization, **kwargs) -> None:
    instance._delivery_before = (
        Organization.objects.filter(pk=instance.pk).values("slug", "namespace").first()
        if instance.pk
        else None
    )


@receiver(post_save, sender=Organization, dispatch_uid="delivery.organization_saved")
def organization_saved(sender, instance: Organization, created: bool, **kwargs) -> None:
    if created:
        cluster = services.default_cluster()
        if cluster is not None:
            services.organization_place(instance, cluster=cluster)
        return
    before = getattr(instance, "_delivery_before", None)
    if before is None or (before["slug"], before["namespace"]) == (
        instance.slug,
        instance.namespace,
    ):
        return
    # Targets that followed the organization's namespace move with it; the delivery removes
    # what was left in the old one.
    following = DeliveryTarget.objects.filter(organization=instance, namespace=before["namespace"])
    if before["namespace"] != instance.namespace and settings.REGISTRY_RBAC_SCOPE == "namespaced":
        # Reading one namespace at a time, the delivery cannot find the old namespace by label.
        moved = [
            (cluster_id, before["namespace"])
            for cluster_id in following.values_list("cluster_id", flat=True)
        ]
        if moved:
            tasks.enqueue_removal(before["slug"], moved)
    following.update(namespace=instance.namespace)
    services.request_delivery(instance, reason="namespace changed")


@receiver(pre_delete, sender=Organization, dispatch_uid="delivery.organization_deleting")
def organization_deleting(sender, instance: Organization, **kwargs) -> None:
    placements = list(instance.delivery_targets.values_list("cluster_id", "namespace"))
    tasks.enqueue_removal(instance.slug, placements)
