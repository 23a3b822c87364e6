"""/metrics: who may scrape it, and that its figures follow what happens (requests, connection
tests, deliveries, the queue and the reconciler's passes)."""

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from django_tasks import task
from prometheus_client.parser import text_string_to_metric_families

from delivery.models import DeliveryTarget, PendingRemoval, TargetStatus

from .deliveries import run_tasks
from .factories import RegistryFactory

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-the-suite-0000"
BEARER = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


@task()
def deliver_nothing() -> None:
    """A queued task for the queue figures."""


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def scrape() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", **BEARER)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return scrape


def value(figures, name, **labels) -> float | None:
    return figures.get((name, tuple(sorted(labels.items()))))


# Who may scrape


def test_metrics_are_off_until_the_operator_says_who_may_read_them(client):
    assert client.get("/metrics").status_code == 404


def test_a_scraper_without_the_token_gets_401(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_a_scraper_outside_the_allowed_networks_gets_403(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403


def test_a_scraper_inside_the_allowed_networks_needs_no_token(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    response = client.get("/metrics", REMOTE_ADDR="10.4.5.6", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert b"orgsettings_delivery_targets" in response.content


def test_the_token_opens_metrics_for_a_scraper_reaching_the_pod_ip(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["platform.example.com"]
    assert client.get("/metrics", HTTP_HOST="10.1.2.3:8000", **BEARER).status_code == 200


def test_every_metric_name_starts_with_orgsettings(scrape):
    names = {name for name, _ in scrape()}
    ours = {name for name in names if not name.startswith(("python_", "process_"))}
    assert ours
    assert all(name.startswith("orgsettings_") for name in ours)


# What the figures follow


def test_requests_are_counted_by_view_and_status(client, scrape):
    before = value(
        scrape(), "orgsettings_http_requests_total", method="GET", view="login", status="200"
    )
    client.get(reverse("login"))
    client.get(reverse("login"))
    after = value(
        scrape(), "orgsettings_http_requests_total", method="GET", view="login", status="200"
    )
    assert after == (before or 0) + 2


def test_connection_test_outcomes_are_counted(client, organization, owner, scrape):
    cache.clear()
    before = value(scrape(), "orgsettings_connection_tests_total", outcome="blocked") or 0
    client.force_login(owner)
    url = reverse("registries:test", kwargs={"slug": organization.slug})
    data = {
        "display_name": "Ours",
        "address": "10.1.2.3:5000",
        "auth_type": "BasicAuth",
        "username": "robot",
        "password": "typed-password-0000",
        "token": "",
    }
    assert client.post(url, data, HTTP_HX_REQUEST="true").status_code == 200
    assert value(scrape(), "orgsettings_connection_tests_total", outcome="blocked") == before + 1


def test_figures_follow_a_failing_then_healed_reconcile(cluster, organization, scrape):
    RegistryFactory(organization=organization)
    RegistryFactory(organization=organization)
    figures = scrape()
    assert value(figures, "orgsettings_reconcile_last_success_timestamp_seconds") is None

    with cluster.unreachable(), pytest.raises(CommandError):
        call_command("reconcile_registries", stdout=io.StringIO(), stderr=io.StringIO())
    failing = scrape()
    assert value(failing, "orgsettings_delivery_targets", cluster="main", status="error") == 1
    assert value(failing, "orgsettings_delivery_targets", cluster="main", status="synced") is None
    assert value(failing, "orgsettings_delivery_oldest_failing_target_age_seconds") > 0
    assert value(failing, "orgsettings_reconcile_last_success_timestamp_seconds") == 0
    assert value(failing, "orgsettings_reconcile_last_pass_failed_targets") == 1
    assert value(failing, "orgsettings_reconcile_last_pass_timestamp_seconds") > 0

    cluster.clear_requests()
    call_command("reconcile_registries", stdout=io.StringIO(), stderr=io.StringIO())
    requests = len(cluster.requests)
    healed = scrape()
    assert value(healed, "orgsettings_delivery_targets", cluster="main", status="synced") == 1
    assert value(healed, "orgsettings_delivery_targets", cluster="main", status="error") is None
    assert value(healed, "orgsettings_delivery_oldest_failing_target_age_seconds") == 0
    assert value(healed, "orgsettings_reconcile_last_success_timestamp_seconds") > 0
    assert value(healed, "orgsettings_reconcile_last_pass_failed_targets") == 0
    # The requests the fake API server saw during the pass.
    assert value(healed, "orgsettings_reconcile_last_pass_api_calls") == requests > 0
    assert value(healed, "orgsettings_reconcile_interval_seconds") == 60


def test_the_oldest_failure_counts_from_when_the_audit_trail_recorded_it(
    cluster, organization, scrape
):
    registry = RegistryFactory(organization=organization)
    with cluster.unreachable(), pytest.raises(CommandError):
        call_command("reconcile_registries", stdout=io.StringIO(), stderr=io.StringIO())
    first = value(scrape(), "orgsettings_delivery_oldest_failing_target_age_seconds")
    with cluster.unreachable(), pytest.raises(CommandError):
        call_command("reconcile_registries", stdout=io.StringIO(), stderr=io.StringIO())
    assert DeliveryTarget.objects.get(organization=registry.organization).status == (
        TargetStatus.ERROR
    )
    # A second failing pass does not restart the clock.
    assert value(scrape(), "orgsettings_delivery_oldest_failing_target_age_seconds") >= first


# The worker checks its connection between tasks as requests do, which closes one left inside
# a test's transaction: run it in autocommit, as it runs in production.
@pytest.mark.django_db(transaction=True)
def test_queue_depth_counts_waiting_tasks_until_a_worker_runs_them(scrape, settings, tmp_path):
    settings.HEARTBEAT_DIR = tmp_path
    assert value(scrape(), "orgsettings_delivery_queue_depth", queue="default") == 0
    deliver_nothing.enqueue()
    deliver_nothing.enqueue()
    queued = scrape()
    assert value(queued, "orgsettings_delivery_queue_depth", queue="default") == 2
    assert value(queued, "orgsettings_delivery_queue_oldest_age_seconds", queue="default") >= 0
    call_command("run_worker", "--batch", "--no-startup-delay", "--no-reload", "--verbosity", "0")
    assert value(scrape(), "orgsettings_delivery_queue_depth", queue="default") == 0


def test_pending_removals_are_counted_until_the_cluster_confirms_them(
    cluster, organization, scrape
):
    with cluster.unreachable():
        organization.delete()
        run_tasks()
    assert value(scrape(), "orgsettings_delivery_pending_removals", cluster="main") == 1

    PendingRemoval.objects.update(retry_at=timezone.now())
    call_command("reconcile_registries", stdout=io.StringIO(), stderr=io.StringIO())

    assert not PendingRemoval.objects.exists()
    assert value(scrape(), "orgsettings_delivery_pending_removals", cluster="main") is None
