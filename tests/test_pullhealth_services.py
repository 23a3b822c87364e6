"""The stored pull health of a delivery target, and the record of restarts made for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from delivery.models import Cluster, DeliveryTarget
from pullhealth.causes import Cause
from pullhealth.failures import PullFailure as ReadFailure
from pullhealth.models import PullFailure, PullHealth, PullHealthSettings, WorkloadRestart
from pullhealth.page import NOT_PERMITTED, pull_health_read
from pullhealth.pods import WorkloadRef
from pullhealth.restarts import Restart, change_key
from pullhealth.services import (
    previous_causes,
    pull_health_record,
    pull_health_unavailable,
    restarts_done,
    workload_restart_record,
)

from .factories import OrganizationFactory, RegistryFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)


@pytest.fixture
def target(organization):
    cluster = Cluster.objects.create(name="eu-west", connection=Cluster.Connection.IN_CLUSTER)
    return DeliveryTarget.objects.create(
        organization=organization, cluster=cluster, namespace=organization.namespace
    )


@pytest.fixture
def ghcr(organization):
    return RegistryFactory(organization=organization, display_name="GitHub", address="ghcr.io")


def read(name: str, registry, *, cause=Cause.CREDENTIALS_REFUSED, kind="Deployment", pods=1):
    return ReadFailure(
        workload=WorkloadRef(kind, "org-acme", name),
        container="app",
        init=False,
        image=f"ghcr.io/acme/{name}:1",
        reason="ImagePullBackOff",
        cause=cause,
        message="failed to fetch oauth token: 401 Unauthorized",
        registry=registry,
        references_secret=False,
        pods=tuple(f"{name}-{i}" for i in range(pods)),
    )


def test_a_read_stores_each_failing_workload_with_registry_cause_and_since(target, ghcr):
    pull_health_record(
        target, failures=[read("api", ghcr, pods=2), read("legacy", None)], read_at=T0
    )

    health = PullHealth.objects.get(target=target)
    api, legacy = PullFailure.objects.filter(health=health).order_by("workload_name")
    assert health.read_at == T0
    assert health.available
    assert (api.registry, api.cause, api.pods, api.since) == (ghcr, "credentials_refused", 2, T0)
    assert api.get_cause_display() == "credentials refused"
    assert not api.references_secret
    assert legacy.registry is None


def test_a_failure_seen_again_keeps_its_since_and_one_no_longer_seen_is_gone(target, ghcr):
    pull_health_record(target, failures=[read("api", ghcr), read("web", ghcr)], read_at=T0)
    later = T0 + timedelta(minutes=5)

    pull_health_record(
        target, failures=[read("api", ghcr, cause=Cause.NO_CREDENTIALS)], read_at=later
    )

    (api,) = PullFailure.objects.filter(health__target=target)
    assert (api.workload_name, api.since, api.seen_at) == ("api", T0, later)
    assert api.cause == "no_credentials"


def test_a_failed_read_keeps_what_was_read_and_says_why(target, ghcr):
    pull_health_record(target, failures=[read("api", ghcr)], read_at=T0)

    pull_health_unavailable(
        target,
        error_kind="forbidden",
        error="Forbidden by RBAC: the platform may not list pods.",
        read_at=T0 + timedelta(minutes=1),
    )

    health = PullHealth.objects.get(target=target)
    assert not health.available
    assert health.error_kind == "forbidden"
    assert health.read_at == T0
    assert health.failures.count() == 1


def test_a_successful_read_clears_the_error(target, ghcr):
    pull_health_unavailable(target, error_kind="timeout", error="late", read_at=T0)

    pull_health_record(target, failures=[], read_at=T0 + timedelta(minutes=1))

    assert PullHealth.objects.get(target=target).available


def test_previous_causes_are_keyed_like_read_failures(target, ghcr):
    failure = read("api", ghcr, cause=Cause.IMAGE_NOT_FOUND)
    pull_health_record(target, failures=[failure], read_at=T0)

    assert previous_causes(target) == {failure.key: Cause.IMAGE_NOT_FOUND}


def test_deleting_a_registry_leaves_its_failures_matching_no_registry(target, ghcr):
    pull_health_record(target, failures=[read("api", ghcr)], read_at=T0)

    ghcr.delete()

    assert PullFailure.objects.get(health__target=target).registry is None


def test_an_automatic_restart_is_recorded_at_most_once_per_change(target, ghcr):
    restart = Restart(WorkloadRef("Deployment", "org-acme", "api"), (read("api", ghcr),))
    change = change_key(ghcr.pk, ghcr.version)

    first = workload_restart_record(target, restart=restart, automatic=True, change=change)
    again = workload_restart_record(target, restart=restart, automatic=True, change=change)

    assert first is not None
    assert again is None
    assert WorkloadRestart.objects.count() == 1
    assert restarts_done(target) == {("Deployment", "org-acme", "api", change)}
    assert (first.action, first.cause, first.registry) == ("rollout", "credentials_refused", ghcr)


def test_a_person_may_restart_the_same_workload_again(target, ghcr, owner):
    restart = Restart(
        WorkloadRef("Pod", "org-acme", "job-x", controller_owned=True),
        (read("job-x", ghcr, kind="Pod"),),
    )

    workload_restart_record(target, restart=restart, actor=owner)
    workload_restart_record(target, restart=restart, actor=owner)

    rows = WorkloadRestart.objects.filter(target=target)
    assert [(r.action, r.actor, r.automatic) for r in rows] == [("delete_pod", owner, False)] * 2
    assert restarts_done(target) == set()


def test_the_automatic_mode_is_off_unless_an_organization_turns_it_on():
    settings = PullHealthSettings.objects.create(organization=OrganizationFactory())

    assert settings.auto_restart is False


def test_the_page_reads_an_organizations_pull_health_in_two_queries(
    organization, target, ghcr, django_assert_num_queries
):
    other = Cluster.objects.create(name="us-east", connection=Cluster.Connection.IN_CLUSTER)
    second = DeliveryTarget.objects.create(
        organization=organization, cluster=other, namespace=organization.namespace
    )
    pull_health_record(target, failures=[read("api", ghcr), read("legacy", None)], read_at=T0)
    pull_health_record(second, failures=[read("api", ghcr, pods=3)], read_at=T0 + timedelta(1))
    pull_health_unavailable(
        second, error_kind="forbidden", error="Forbidden by RBAC", read_at=T0 + timedelta(2)
    )

    # The page passes the targets it read for the delivery status line.
    targets = list(organization.delivery_targets.select_related("cluster"))

    with django_assert_num_queries(2):
        state = pull_health_read(organization, targets=targets)

    row = state.for_registry(ghcr.pk)
    assert sorted(f.cluster for f in row.failures) == ["eu-west", "us-east"]
    assert row.workloads == 2  # the same Deployment on two clusters
    assert {f.cause for f in row.failures} == {Cause.CREDENTIALS_REFUSED}
    assert [f.name for f in state.unmatched] == ["legacy"]
    assert state.read_at == T0
    assert [(c.cluster, c.unavailable) for c in state.unavailable] == [("us-east", NOT_PERMITTED)]
