"""The operators' admin of what delivery and pull health record: removals still to be
confirmed, each organization's pull-health choice and the restarts made. All read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from delivery.models import Cluster, DeliveryTarget, PendingRemoval
from pullhealth.models import PullHealthSettings, WorkloadRestart

from .factories import OrganizationFactory, RegistryFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD_SECRET = "pw-Restart-List-Secret-7c2e"
REMOVALS = "admin:delivery_pendingremoval"
RESTARTS = "admin:pullhealth_workloadrestart"
PULL_SETTINGS = "admin:pullhealth_pullhealthsettings"


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def eu_west():
    return Cluster.objects.create(name="eu-west", connection=Cluster.Connection.IN_CLUSTER)


def test_pending_removals_list_what_is_left_to_remove_where_and_why(superuser_client, eu_west):
    PendingRemoval.objects.create(
        cluster=eu_west,
        organization_slug="acme",
        namespace="org-acme",
        attempts=3,
        error="the cluster is unreachable",
    )

    response = superuser_client.get(reverse(f"{REMOVALS}_changelist"))

    assert response.status_code == 200
    for words in ("acme", "org-acme", "eu-west", "the cluster is unreachable"):
        assert words in response.text


def test_only_the_clusters_confirmation_ends_a_pending_removal(superuser_client, eu_west):
    removal = PendingRemoval.objects.create(
        cluster=eu_west, organization_slug="acme", namespace="org-acme"
    )

    assert superuser_client.get(reverse(f"{REMOVALS}_add")).status_code == 403
    assert (
        superuser_client.post(
            reverse(f"{REMOVALS}_delete", args=[removal.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    superuser_client.post(
        reverse(f"{REMOVALS}_change", args=[removal.pk]), {"namespace": "elsewhere"}
    )
    assert PendingRemoval.objects.get().namespace == "org-acme"


def test_restarts_list_each_workload_with_its_registry_and_never_a_secret(
    superuser_client, eu_west
):
    registry = RegistryFactory(display_name="GitHub", password=PASSWORD_SECRET)
    target = DeliveryTarget.objects.create(
        organization=registry.organization, cluster=eu_west, namespace="org-acme"
    )
    restart = WorkloadRestart.objects.create(
        target=target,
        registry=registry,
        namespace="org-acme",
        workload_kind="Deployment",
        workload_name="api",
        action=WorkloadRestart.Action.ROLLOUT,
        cause="credentials_refused",
        automatic=True,
    )

    listing = superuser_client.get(reverse(f"{RESTARTS}_changelist"))
    detail = superuser_client.get(reverse(f"{RESTARTS}_change", args=[restart.pk]))

    assert listing.status_code == detail.status_code == 200
    for words in ("api", "org-acme", "eu-west", "GitHub", "Restarted", registry.organization.slug):
        assert words in listing.text
    assert PASSWORD_SECRET not in listing.text
    assert PASSWORD_SECRET not in detail.text
    assert superuser_client.get(reverse(f"{RESTARTS}_add")).status_code == 403


def test_the_automatic_mode_is_shown_but_switched_only_on_the_settings_page(superuser_client):
    choice = PullHealthSettings.objects.create(
        organization=OrganizationFactory(slug="acme"), auto_restart=True
    )

    listing = superuser_client.get(reverse(f"{PULL_SETTINGS}_changelist"))
    superuser_client.post(reverse(f"{PULL_SETTINGS}_change", args=[choice.pk]), {})

    assert listing.status_code == 200
    assert "acme" in listing.text
    choice.refresh_from_db()
    assert choice.auto_restart is True
