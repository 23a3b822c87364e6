"""Pull health on the Registries section, as the stored state says: the words under each row
and in the panel, the list, its poll, the restart buttons, and the automatic-restart switch.

The stored state is written with the services the worker and the reconciler use; reading the
cluster is tested in test_pullhealth_refresh.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from orgsettings.models import AuditAction, AuditEvent
from pullhealth import tasks
from pullhealth.causes import Cause
from pullhealth.failures import PullFailure as ReadFailure
from pullhealth.models import PullHealthSettings
from pullhealth.pods import WorkloadRef
from pullhealth.services import pull_health_record, pull_health_unavailable

from .factories import ClusterFactory, DeliveryTargetFactory, RegistryFactory

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


@pytest.fixture
def target(organization):
    return DeliveryTargetFactory(organization=organization, cluster=ClusterFactory(name="eu-west"))


@pytest.fixture
def ghcr(organization):
    return RegistryFactory(organization=organization, display_name="GitHub", address="ghcr.io")


@pytest.fixture
def quay(organization):
    return RegistryFactory(organization=organization, display_name="Quay", address="quay.io")


def failing(name, registry, cause=Cause.CREDENTIALS_REFUSED, *, kind="Deployment", owned=False):
    host = registry.address if registry is not None else "unknown.example.net"
    return ReadFailure(
        workload=WorkloadRef(kind, "org-acme", name, controller_owned=owned),
        container="app",
        init=False,
        image=f"{host}/acme/{name}:1",
        reason="ImagePullBackOff",
        cause=cause,
        message="failed to fetch oauth token: unexpected status: 401 Unauthorized",
        registry=registry,
        references_secret=True,
        pods=(f"{name}-1",),
    )


def store(target, *failures, minutes_ago=2):
    pull_health_record(
        target, failures=failures, read_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def page(client, organization, **headers):
    return client.get(
        reverse("registries:list", kwargs={"slug": organization.slug}), headers=headers
    )


def cell(response, registry) -> str:
    """The line under a registry's row."""
    text = response.text
    start = text.index(f'id="pull-cell-{registry.pk}"')
    return text[start : text.index("</tbody>", start)]


def restart_url(organization, registry=None) -> str:
    if registry is None:
        return reverse("pullhealth:restart", kwargs={"slug": organization.slug})
    return reverse(
        "pullhealth:restart-registry", kwargs={"slug": organization.slug, "pk": registry.pk}
    )


def restart_rows():
    return DBTaskResult.objects.filter(
        status="READY", task_path=tasks.restart_workloads.module_path
    )


# --- What the rows and the panel say ----------------------------------------------------------


@pytest.mark.parametrize(
    ("cause", "words"),
    [
        (Cause.CREDENTIALS_REFUSED, "credentials refused"),
        (Cause.NO_CREDENTIALS, "no credentials"),
        (Cause.IMAGE_NOT_FOUND, "image not found"),
        (Cause.OTHER, "other"),
    ],
)
def test_a_row_counts_its_failing_workloads_in_the_words_of_their_cause(
    client, organization, member, target, ghcr, cause, words
):
    store(target, failing("api", ghcr, cause), failing("worker", ghcr, cause))
    client.force_login(member)

    response = page(client, organization)

    assert f"2 workloads can&#x27;t pull: {words}" in cell(response, ghcr)


def test_a_row_with_several_causes_counts_each(client, organization, owner, target, ghcr):
    store(
        target,
        failing("api", ghcr),
        failing("web", ghcr),
        failing("jobs", ghcr, Cause.IMAGE_NOT_FOUND),
    )
    client.force_login(owner)

    text = cell(page(client, organization), ghcr)

    assert "3 workloads can&#x27;t pull: credentials refused (2), image not found (1)" in text


def test_only_the_registry_the_image_is_pulled_with_says_so(
    client, organization, owner, target, ghcr, quay
):
    store(target, failing("api", ghcr))
    client.force_login(owner)

    response = page(client, organization)

    assert "1 workload can&#x27;t pull" in cell(response, ghcr)
    assert f'<div id="pull-cell-{quay.pk}" class="pull-cell"></div>' in response.text


def test_the_list_names_workload_cluster_image_cause_and_since(
    client, organization, owner, target, ghcr
):
    store(target, failing("api", ghcr), minutes_ago=3)
    client.force_login(owner)

    text = cell(page(client, organization), ghcr)

    assert "Deployment api" in text
    assert "eu-west" in text
    assert "ghcr.io/acme/api:1" in text
    assert '<span class="pull-cause">credentials refused</span>' in text
    assert "3\xa0minutes ago" in text  # since, and the age of the read
    assert "checked 3\xa0minutes ago" in text


def test_an_image_on_no_registrys_host_is_shown_for_the_organization(
    client, organization, owner, target, ghcr
):
    store(target, failing("mystery", None, Cause.NO_CREDENTIALS))
    client.force_login(owner)

    response = page(client, organization)

    assert "1 workload can&#x27;t pull: no registry matches" in response.text
    assert "unknown.example.net/acme/mystery:1" in response.text
    assert f'<div id="pull-cell-{ghcr.pk}" class="pull-cell"></div>' in response.text


def test_a_cluster_that_does_not_permit_the_read_says_so_on_the_rows(
    client, organization, member, target, ghcr
):
    pull_health_unavailable(
        target, error_kind="forbidden", error="pods is forbidden", read_at=timezone.now()
    )
    client.force_login(member)

    response = page(client, organization)

    assert "pull health not available: not permitted" in cell(response, ghcr)
    assert "pull health not available: not permitted" in response.text.split("registry-table")[0]


def test_a_healthy_organization_says_every_workload_pulls(
    client, organization, owner, target, ghcr
):
    store(target)
    client.force_login(owner)

    response = page(client, organization)

    assert "every workload pulls its images" in response.text
    assert re.search(r"checked <time [^>]*>2\xa0minutes ago</time>", response.text)
    assert "Restart affected workloads" not in response.text


def test_an_organization_on_no_cluster_shows_no_pull_health(client, organization, owner, ghcr):
    client.force_login(owner)

    response = page(client, organization)

    assert 'id="pull-health"' not in response.text
    assert 'hx-trigger="every' not in response.text.split('id="pull-health-poll"')[1][:200]


def test_a_bare_pod_is_listed_as_recreate_it_yourself(client, organization, owner, target, ghcr):
    store(target, failing("debug-shell", ghcr, kind="Pod"))
    client.force_login(owner)

    text = cell(page(client, organization), ghcr)

    assert "Pod debug-shell" in text
    assert "recreate it yourself" in text
    # Nothing a restart could do: no button.
    assert "Restart affected workloads" not in text


# --- The poll ---------------------------------------------------------------------------------


def poll(client, organization, response, **headers):
    """The poll as the page's element would send it, with its hidden inputs."""
    context = response.context
    params = {name: context["pull_poll"][name] for name in ("sig", "ages", "rows")}
    url = reverse("pullhealth:poll", kwargs={"slug": organization.slug})
    return client.get(url, params, headers={**HX, **headers})


def test_the_poll_sends_nothing_while_nothing_changed(client, organization, owner, target, ghcr):
    store(target, failing("api", ghcr))
    client.force_login(owner)
    shown = page(client, organization)

    answer = poll(client, organization, shown)

    assert 'id="pull-health-poll"' in answer.text
    assert "pull-cell-" not in answer.text
    assert "pull-health-state" not in answer.text


def test_a_new_read_that_found_the_same_sends_only_the_ages(
    client, organization, owner, target, ghcr
):
    store(target, failing("api", ghcr))
    client.force_login(owner)
    shown = page(client, organization)
    store(target, failing("api", ghcr), minutes_ago=0)

    answer = poll(client, organization, shown)

    assert 'hx-swap-oob="innerHTML:.pull-age">checked now</span>' in answer.text
    assert 'hx-swap-oob="innerHTML:#pull-age-eu-west">checked <time' in answer.text
    assert "pull-cell-" not in answer.text
    assert "pull-health-state" not in answer.text
    assert len(answer.content) < 1_000


def test_the_poll_brings_a_new_failure_without_a_reload(
    client, organization, owner, target, ghcr, quay
):
    store(target, failing("api", ghcr))
    client.force_login(owner)
    shown = page(client, organization)
    pull_health_record(
        target,
        failures=[failing("api", ghcr), failing("cache", quay, Cause.NO_CREDENTIALS)],
        read_at=timezone.now(),
    )

    answer = poll(client, organization, shown)

    assert f'id="pull-cell-{quay.pk}" class="pull-cell" hx-swap-oob="true"' in answer.text
    assert "1 workload can&#x27;t pull: no credentials" in answer.text
    assert 'id="pull-health-state"' in answer.text


def test_the_poll_clears_a_row_once_its_workloads_pull(client, organization, owner, target, ghcr):
    store(target, failing("api", ghcr))
    client.force_login(owner)
    shown = page(client, organization)
    store(target, minutes_ago=0)

    answer = poll(client, organization, shown)

    assert (
        f'<div id="pull-cell-{ghcr.pk}" class="pull-cell" hx-swap-oob="true"></div>' in answer.text
    )


def test_the_poll_of_an_expired_session_stops(client, organization):
    url = reverse("pullhealth:poll", kwargs={"slug": organization.slug})

    assert client.get(url, headers=HX).status_code == 286


def test_outsiders_cannot_poll(client, organization, outsider, target):
    client.force_login(outsider)
    url = reverse("pullhealth:poll", kwargs={"slug": organization.slug})

    assert client.get(url, headers=HX).status_code == 404


# --- Restart ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "org_admin"])
def test_owners_and_admins_restart_a_registrys_workloads(
    client, request, organization, target, ghcr, who
):
    store(target, failing("api", ghcr))
    client.force_login(request.getfixturevalue(who))
    DBTaskResult.objects.all().delete()

    response = client.post(restart_url(organization, ghcr), headers=HX)

    assert response.status_code == 200
    assert (
        "Restart requested for 1 workload that can&#x27;t pull from “GitHub”: Deployment api."
        in response.text
    )
    (row,) = restart_rows()
    assert row.args_kwargs["kwargs"]["registry_id"] == ghcr.pk
    assert row.args_kwargs["kwargs"]["source"] == "settings"


def test_the_organizations_restart_covers_every_registry(
    client, organization, owner, target, ghcr, quay
):
    store(target, failing("api", ghcr), failing("cache", quay), failing("pod", ghcr, kind="Pod"))
    client.force_login(owner)
    DBTaskResult.objects.all().delete()

    response = client.post(restart_url(organization), headers=HX)

    assert "Restart requested for 2 of the 3 workloads" in response.text
    assert "Left alone (recreate it yourself): Pod pod." in response.text
    (row,) = restart_rows()
    assert row.args_kwargs["kwargs"]["registry_id"] is None


def test_a_restart_without_javascript_redirects_with_the_message(
    client, organization, owner, target, ghcr
):
    store(target, failing("api", ghcr))
    client.force_login(owner)

    response = client.post(restart_url(organization, ghcr), follow=True)

    assert response.redirect_chain[-1][0] == reverse("registries:list", kwargs={"slug": "acme"})
    assert "Restart requested for 1 workload" in response.text


def test_a_restart_with_nothing_failing_queues_nothing(client, organization, owner, target, ghcr):
    store(target)
    client.force_login(owner)
    DBTaskResult.objects.all().delete()

    response = client.post(restart_url(organization, ghcr), headers=HX)

    assert "nothing to restart" in response.text
    assert not restart_rows().exists()


def test_owners_see_the_restart_buttons_members_do_not(
    client, organization, owner, member, target, ghcr
):
    store(target, failing("api", ghcr))
    client.force_login(owner)
    assert page(client, organization).text.count("Restart affected workloads") == 2

    client.force_login(member)
    response = page(client, organization)
    assert "1 workload can&#x27;t pull: credentials refused" in response.text
    assert "Restart affected workloads" not in response.text


def test_each_restart_button_asks_first_and_restarts_only_its_own_workloads(
    client, organization, owner, target, ghcr
):
    store(target, failing("api", ghcr), failing("web", ghcr))
    client.force_login(owner)

    text = page(client, organization).text

    panel = text[text.index('id="pull-health-state"') : text.index('id="pull-result-all"')]
    assert f'hx-post="{restart_url(organization)}"' in panel
    assert 'hx-confirm="Restart the 2 affected workloads of Acme?"' in panel
    assert 'hx-target="#pull-result-all"' in panel
    row = text[text.index(f'id="pull-cell-{ghcr.pk}"') : text.index(f'id="pull-result-{ghcr.pk}"')]
    assert f'hx-post="{restart_url(organization, ghcr)}"' in row
    assert 'hx-confirm="Restart the 2 affected workloads?"' in row
    assert f'hx-target="#pull-result-{ghcr.pk}"' in row
    assert f'id="pull-restart-{ghcr.pk}"' in row


def test_the_organizations_restart_accounts_for_every_workload_the_panel_counts(
    client, organization, owner, target, ghcr
):
    store(
        target,
        failing("api", ghcr),
        failing("web", ghcr, Cause.IMAGE_NOT_FOUND),
        failing("legacy", None),
    )
    client.force_login(owner)
    text = page(client, organization).text
    panel = text[text.index('id="pull-health-state"') : text.index('id="pull-result-all"')]
    assert "Pull health: 3 workloads can't pull" in panel
    assert (
        'hx-confirm="Restart 1 of the 3 affected workloads of Acme? Left alone: no registry'
        ' matches: add the registry first (1); image not found: a restart cannot fix it (1)."'
        in panel
    )
    DBTaskResult.objects.all().delete()

    answer = client.post(restart_url(organization), headers=HX).text

    assert "Restart requested for 1 of the 3 workloads that can&#x27;t pull in Acme" in answer
    assert "Left alone (image not found: a restart cannot fix it): Deployment web." in answer
    assert "Left alone (no registry matches: add the registry first): Deployment legacy." in answer
    assert "A Deployment it finds paused is left alone" in answer
    assert restart_rows().count() == 1


def test_a_workload_with_an_image_not_found_elsewhere_is_not_counted_as_restarted(
    client, organization, owner, target, ghcr, quay
):
    # Its new pods would fail on the missing image too: the worker leaves it alone.
    store(target, failing("api", ghcr), failing("api", quay, Cause.IMAGE_NOT_FOUND))
    client.force_login(owner)

    text = page(client, organization).text

    assert "Restart affected workloads" not in text
    answer = client.post(restart_url(organization, ghcr), headers=HX).text
    assert "Left alone (image not found: a restart cannot fix it): Deployment api." in answer
    assert "Restart requested for" not in answer


@pytest.mark.parametrize("scope", ["registry", "organization"])
def test_members_cannot_restart(client, organization, member, target, ghcr, scope):
    store(target, failing("api", ghcr))
    client.force_login(member)

    response = client.post(
        restart_url(organization, ghcr if scope == "registry" else None), headers=HX
    )

    assert response.status_code == 403
    assert "Members can view pull health but not restart workloads; ask an owner or admin." in (
        response.text
    )
    assert not restart_rows().exists()


@pytest.mark.parametrize("scope", ["registry", "organization"])
def test_outsiders_get_404_for_a_restart(client, organization, outsider, target, ghcr, scope):
    store(target, failing("api", ghcr))
    client.force_login(outsider)

    response = client.post(restart_url(organization, ghcr if scope == "registry" else None))

    assert response.status_code == 404
    assert not restart_rows().exists()


def test_a_registry_of_another_organization_is_not_found(client, organization, owner, outsider):
    theirs = RegistryFactory(organization=outsider.memberships.get().organization)
    client.force_login(owner)

    assert client.post(restart_url(organization, theirs)).status_code == 404
    assert not restart_rows().exists()


def test_a_restart_needs_a_post(client, organization, owner, ghcr):
    client.force_login(owner)

    assert client.get(restart_url(organization, ghcr)).status_code == 405


# --- Automatic restarts -----------------------------------------------------------------------


def automatic_url(organization) -> str:
    return reverse("pullhealth:automatic", kwargs={"slug": organization.slug})


def test_automatic_restarts_are_off_by_default(client, organization, owner, target):
    client.force_login(owner)

    response = page(client, organization)

    assert "Automatic restarts: <strong>off</strong>" in response.text
    assert ">Turn on</button>" in response.text


def test_an_admin_turns_automatic_restarts_on_and_activity_records_it(
    client, organization, org_admin, target
):
    client.force_login(org_admin)

    response = client.post(automatic_url(organization), {"auto_restart": "on"}, headers=HX)

    assert response.status_code == 200
    assert "Automatic restarts: <strong>on</strong>" in response.text
    assert "Automatic restarts are on" in response.text
    assert PullHealthSettings.objects.get(organization=organization).auto_restart is True
    event = AuditEvent.objects.get(action=AuditAction.ORGANIZATION_UPDATED)
    assert event.actor == org_admin
    assert event.changes == {"automatic_restarts": {"old": False, "new": True}}
    activity = client.get(reverse("settings-activity", kwargs={"slug": organization.slug}))
    assert "Automatic restarts: no → yes" in activity.text


def test_turning_it_off_again_is_recorded_too(client, organization, owner, target):
    client.force_login(owner)
    client.post(automatic_url(organization), {"auto_restart": "on"})

    client.post(automatic_url(organization), {})

    assert PullHealthSettings.objects.get(organization=organization).auto_restart is False
    changes = [
        e.changes for e in AuditEvent.objects.filter(action=AuditAction.ORGANIZATION_UPDATED)
    ]
    assert {"automatic_restarts": {"old": True, "new": False}} in changes


def test_members_see_the_setting_but_cannot_change_it(client, organization, member, target):
    client.force_login(member)

    assert "Automatic restarts: <strong>off</strong>" in page(client, organization).text
    assert "Turn on" not in page(client, organization).text
    response = client.post(automatic_url(organization), {"auto_restart": "on"}, headers=HX)
    assert response.status_code == 403
    assert "Members can see whether automatic restarts are on but not turn them on" in (
        response.text
    )
    assert not PullHealthSettings.objects.filter(auto_restart=True).exists()


def test_outsiders_get_404_for_the_setting(client, organization, outsider, target):
    client.force_login(outsider)

    assert client.post(automatic_url(organization), {"auto_restart": "on"}).status_code == 404
    assert not PullHealthSettings.objects.exists()
