"""Saving or deleting a registry or an organization schedules a cluster sync for after the
commit: a rolled-back transaction pushes nothing, and the save never waits on the cluster."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from orgsettings.models import Organization

from . import dispatch
from .models import ContainerRegistry


@receiver(post_save, sender=ContainerRegistry, dispatch_uid="registries.registry_saved")
@receiver(post_delete, sender=ContainerRegistry, dispatch_uid="registries.registry_deleted")
def registry_changed(sender, instance: ContainerRegistry, **kwargs) -> None:
    organization_id = instance.organization_id
    transaction.on_commit(lambda: dispatch.schedule_sync(organization_id))


@receiver(post_save, sender=Organization, dispatch_uid="registries.organization_saved")
def organization_saved(sender, instance: Organization, update_fields=None, **kwargs) -> None:
    if update_fields is not None and not {"namespace", "slug"} & set(update_fields):
        return
    organization_id = instance.pk
    transaction.on_commit(lambda: dispatch.schedule_sync(organization_id))


@receiver(post_delete, sender=Organization, dispatch_uid="registries.organization_deleted")
def organization_deleted(sender, instance: Organization, **kwargs) -> None:
    slug, namespace = instance.slug, instance.namespace
    transaction.on_commit(lambda: dispatch.schedule_removal(slug, namespace))
