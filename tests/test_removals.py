"""Removals that must outlive a cluster being down: a deleted organization's Secret, and an
unplaced one, in the namespaced RBAC scope, where the reconciler cannot list Secrets
cluster-wide to find what was left behind. Against the fake API server, enforcing the
namespaced scope's manifests."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from delivery.models import DeliveryTarget, PendingRemoval, TargetStatus
from delivery.reconcile import reconcile
from delivery.services import organization_unplace

from . import fakerbac
from .deliveries import add_delivered_registry, run_tasks
from .test_rbac import SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(cluster, organization, settings):
    """acme's Secret delivered in the namespaced scope, its manifests enforced."""
    fakerbac.enforce_scope(cluster, settings, "namespaced")
    add_delivered_registry(organization, "Hub", "docker.io")
    assert cluster.get_object("secrets", "org-acme", SECRET) is not None
    return cluster


def references(cluster) -> list[str]:
    account = cluster.get_object("serviceaccounts", "org-acme", "default")
    return [ref["name"] for ref in account.get("imagePullSecrets") or []]


def retries_fall_due() -> None:
    """As if the back-off of every retry had passed."""
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    PendingRemoval.objects.update(retry_at=timezone.now())


def test_an_organization_deleted_while_its_cluster_is_down_is_removed_when_it_is_back(
    delivered, organization
):
    with delivered.unreachable():
        organization.delete()
        run_tasks()

    removal = PendingRemoval.objects.get()
    assert (removal.organization_slug, removal.namespace, removal.attempts) == (
        "acme",
        "org-acme",
        1,
    )
    assert removal.error
    assert delivered.get_object("secrets", "org-acme", SECRET) is not None

    retries_fall_due()
    run_tasks()  # the worker's retry, now that the cluster answers

    assert delivered.get_object("secrets", "org-acme", SECRET) is None
    assert SECRET not in references(delivered)
    assert not PendingRemoval.objects.exists()


def test_the_reconciler_retries_a_removal_the_worker_gave_up_on(delivered, organization, settings):
    settings.DELIVERY_RETRY_ATTEMPTS = 1
    with delivered.unreachable():
        organization.delete()
        run_tasks()
        retries_fall_due()
        reconcile()  # still down: the record stays, with a later retry

    assert not DBTaskResult.objects.filter(status="READY").exists()
    removal = PendingRemoval.objects.get()
    assert removal.attempts == 2
    assert removal.retry_at > timezone.now()
    reconcile()  # back, but not yet due: nothing is tried
    assert delivered.get_object("secrets", "org-acme", SECRET) is not None

    retries_fall_due()
    report = reconcile()

    assert report.removed == ["acme from org-acme"]
    assert delivered.get_object("secrets", "org-acme", SECRET) is None
    assert SECRET not in references(delivered)
    assert not PendingRemoval.objects.exists()


def test_a_new_organization_of_the_same_slug_keeps_its_secret(delivered, organization):
    from .factories import OrganizationFactory

    with delivered.unreachable():
        organization.delete()
        run_tasks()
        OrganizationFactory(slug="acme", namespace="org-acme")
    retries_fall_due()
    run_tasks()

    assert delivered.get_object("secrets", "org-acme", SECRET) is not None
    assert not PendingRemoval.objects.exists()


def test_a_cluster_unplaced_while_down_loses_the_secret_when_it_is_back(
    delivered, organization, cluster
):
    from delivery.models import Cluster

    with delivered.unreachable():
        organization_unplace(organization, cluster=Cluster.objects.get())
        run_tasks()
        reconcile()
    assert DeliveryTarget.objects.get().status == TargetStatus.REMOVING
    assert delivered.get_object("secrets", "org-acme", SECRET) is not None

    reconcile()

    assert delivered.get_object("secrets", "org-acme", SECRET) is None
    assert SECRET not in references(delivered)
    assert not DeliveryTarget.objects.exists()


def test_an_unplaced_target_whose_namespace_cannot_be_read_stays_until_it_can(
    delivered, organization
):
    from delivery.models import Cluster

    policy = fakerbac.load(**fakerbac.NAMESPACED)
    policy.provision("org-acme")
    # The namespace's Role was taken away: every read there is forbidden.
    delivered.enforce_rbac(lambda access: access.namespace != "org-acme" and policy(access))
    organization_unplace(organization, cluster=Cluster.objects.get())
    run_tasks()
    reconcile()
    assert DeliveryTarget.objects.get().status == TargetStatus.REMOVING

    delivered.enforce_rbac(policy)
    reconcile()

    assert delivered.get_object("secrets", "org-acme", SECRET) is None
    assert not DeliveryTarget.objects.exists()


def test_a_removal_the_cluster_refuses_fails_the_pass_until_it_is_done(delivered, organization):
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    policy = fakerbac.load(**fakerbac.NAMESPACED)
    policy.provision("org-acme")
    # The namespace's Role was taken away before the organization was deleted.
    delivered.enforce_rbac(lambda access: access.namespace != "org-acme" and policy(access))
    organization.delete()
    run_tasks()
    retries_fall_due()

    err = io.StringIO()
    with pytest.raises(CommandError, match="1 removal\\(s\\) are still pending"):
        call_command("reconcile_registries", stdout=io.StringIO(), stderr=err)
    assert "Not yet removed: acme from org-acme on main: " in err.getvalue()
    assert "It will be retried." in err.getvalue()

    delivered.enforce_rbac(policy)
    retries_fall_due()
    out = io.StringIO()
    call_command("reconcile_registries", stdout=out, stderr=io.StringIO())
    assert "Removed acme from org-acme" in out.getvalue()
    assert delivered.get_object("secrets", "org-acme", SECRET) is None
