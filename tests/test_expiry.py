"""Expiry for every credential: an "Expires on" date entered with BasicAuth and Token, the
row's warning from two weeks before, one warning in Activity, the admin's list across
organizations, and the reconciler's count."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from delivery.reconcile import reconcile
from orgsettings.models import AuditEvent
from registries.expiry import EXPIRED, EXPIRES_SOON, expiry_pass
from registries.forms import RegistryForm
from registries.models import ContainerRegistry

from .factories import OrganizationFactory, RegistryFactory, UserFactory
from .test_forms import basic as form_data

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def days(count: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=count)


def basic(**overrides):
    return form_data(**{"expires_on": "2027-03-31", **overrides})


def list_html(client, organization) -> str:
    return client.get(
        reverse("registries:list", kwargs={"slug": organization.slug})
    ).content.decode()


# The form


@pytest.mark.parametrize("auth_type", ["BasicAuth", "Token"])
def test_an_iso_date_is_stored_as_the_expiry(organization, owner, auth_type):
    form = RegistryForm(
        basic(auth_type=auth_type, token="glpat-x", expires_on="2027-03-31"),
        organization=organization,
    )
    assert form.is_valid(), form.errors
    assert form.registry_fields()["expires_on"] == datetime.date(2027, 3, 31)


def test_the_expiry_is_optional(organization):
    form = RegistryForm(basic(expires_on=""), organization=organization)
    assert form.is_valid(), form.errors
    assert form.registry_fields()["expires_on"] is None


@pytest.mark.parametrize("typed", ["31/03/2027", "March 31", "2027-02-30", "2027-3-31 10:00"])
def test_a_date_that_is_not_iso_is_refused_with_the_format_to_use(organization, typed):
    form = RegistryForm(basic(expires_on=typed), organization=organization)
    assert form.errors["expires_on"] == ["Enter the date as YYYY-MM-DD, for example 2027-03-31."]


def test_the_date_is_a_date_input_showing_the_stored_date(organization):
    registry = RegistryFactory(organization=organization, expires_on=datetime.date(2027, 1, 9))
    html = str(RegistryForm(instance=registry, organization=organization)["expires_on"])
    assert 'type="date"' in html
    assert 'value="2027-01-09"' in html


def test_a_date_typed_into_the_form_without_javascript_is_saved(client, organization, owner):
    client.force_login(owner)
    response = client.post(
        reverse("registries:create", kwargs={"slug": organization.slug}), basic()
    )
    assert response.status_code == 302
    assert ContainerRegistry.objects.get().expires_on == datetime.date(2027, 3, 31)


def test_a_wrong_date_is_said_at_its_field_and_nothing_is_saved(client, organization, owner):
    client.force_login(owner)
    response = client.post(
        reverse("registries:create", kwargs={"slug": organization.slug}),
        basic(expires_on="31.03.2027"),
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert "Enter the date as YYYY-MM-DD" in html
    assert 'id="id_expires_on_error"' in html
    assert not ContainerRegistry.objects.exists()


def test_changing_the_date_is_recorded_in_activity(organization, owner):
    from registries.services import registry_update

    registry = RegistryFactory(organization=organization)
    registry_update(registry, actor=owner, expected_version=registry.version, expires_on=days(30))
    event = AuditEvent.objects.get()
    assert event.changes["expires_on"] == {"old": None, "new": days(30).isoformat()}


def test_an_edit_without_a_new_secret_keeps_the_date_it_shows(client, organization, owner):
    registry = RegistryFactory(organization=organization, address="ghcr.io", expires_on=days(40))
    client.force_login(owner)
    response = client.post(
        reverse("registries:edit", kwargs={"slug": organization.slug, "pk": registry.pk}),
        basic(
            display_name=registry.display_name,
            username=registry.username,
            password="",
            expires_on=days(40).isoformat(),
            version=registry.version,
        ),
    )
    assert response.status_code == 302
    stored = ContainerRegistry.objects.get()
    assert (stored.expires_on, stored.password) == (days(40), registry.password)


# The row


@pytest.mark.parametrize(
    ("expires_on", "words", "state"),
    [
        (days(5), "expires in 5 days", "soon"),
        (days(14), "expires in 14 days", "soon"),
        (days(1), "expires tomorrow", "soon"),
        (days(0), "expires today", "soon"),
        (days(-1), "expired", "expired"),
    ],
)
def test_the_row_warns_from_two_weeks_before_the_date(
    client, organization, owner, expires_on, words, state
):
    RegistryFactory(organization=organization, expires_on=expires_on)
    client.force_login(owner)
    html = list_html(client, organization)
    assert f'data-expiry="{state}">{words}</span>' in html


def test_the_row_says_nothing_earlier_or_without_a_date(client, organization, owner):
    RegistryFactory(organization=organization, expires_on=days(15))
    RegistryFactory(organization=organization, expires_on=None)
    client.force_login(owner)
    assert "data-expiry" not in list_html(client, organization)


def test_expiry_words_cost_no_query_per_row(client, organization, owner, django_assert_num_queries):
    for index in range(20):
        RegistryFactory(organization=organization, expires_on=days(index - 5), updated_by=owner)
    client.force_login(owner)
    url = reverse("registries:list", kwargs={"slug": organization.slug})
    client.get(url)
    with django_assert_num_queries(7):
        html = client.get(url).content.decode()
    assert html.count('data-expiry="expired"') == 5


# Activity and the reconciler


def test_activity_records_the_warning_once_per_registry_and_date(organization):
    soon = RegistryFactory(organization=organization, expires_on=days(3), display_name="Soon")
    RegistryFactory(organization=organization, expires_on=days(-2), display_name="Gone")
    RegistryFactory(organization=organization, expires_on=days(60), display_name="Later")

    first = expiry_pass()
    second = expiry_pass()

    events = AuditEvent.objects.order_by("target_label")
    assert [(e.target_label, e.action, e.source) for e in events] == [
        ("Gone", EXPIRED, "sync"),
        ("Soon", EXPIRES_SOON, "sync"),
    ]
    assert events.get(target_label="Soon").changes == {
        "expires_on": {"old": None, "new": days(3).isoformat()}
    }
    assert (first.expiring, first.expired, len(first.warned)) == (1, 1, 2)
    assert (second.expiring, second.expired, second.warned) == (1, 1, [])

    # A new date is a new warning.
    ContainerRegistry.objects.filter(pk=soon.pk).update(expires_on=days(10))
    assert expiry_pass().warned == ["acme / Soon"]


def test_a_date_that_comes_into_the_window_later_is_warned_then(organization):
    RegistryFactory(organization=organization, expires_on=days(20))
    now = timezone.now()
    assert expiry_pass(now=now).warned == []
    assert len(expiry_pass(now=now + datetime.timedelta(days=7)).warned) == 1


def test_the_warning_shows_on_the_activity_page(client, organization, owner):
    RegistryFactory(organization=organization, expires_on=days(3), display_name="Hub")
    expiry_pass()
    client.force_login(owner)
    html = client.get(
        reverse("settings-activity", kwargs={"slug": organization.slug})
    ).content.decode()
    assert "Credential expires soon" in html
    assert f"Expires on: “{days(3).isoformat()}”" in html


def test_a_pass_for_one_organization_counts_only_its_credentials(organization):
    RegistryFactory(organization=organization, expires_on=days(2))
    RegistryFactory(organization=OrganizationFactory(slug="other"), expires_on=days(2))
    report = reconcile("acme")
    assert (report.expiring, report.expired) == (1, 0)
    assert AuditEvent.objects.filter(organization=organization).count() == 1


def test_the_reconcile_command_reports_expiring_and_expired_credentials(organization):
    RegistryFactory(organization=organization, expires_on=days(4), display_name="Quay")
    RegistryFactory(organization=organization, expires_on=days(-1), display_name="Hub")
    RegistryFactory(organization=organization, expires_on=days(90))
    out, err = io.StringIO(), io.StringIO()
    call_command("reconcile_registries", stdout=out, stderr=err)
    assert "Credentials: 1 expire within 14 days, 1 expired." in err.getvalue()
    assert "Warned in Activity: the credential of acme / Quay" in out.getvalue()

    out, err = io.StringIO(), io.StringIO()
    call_command("reconcile_registries", stdout=out, stderr=err)
    assert "Warned in Activity" not in out.getvalue()
    assert "Credentials: 1 expire within 14 days, 1 expired." in err.getvalue()


# The admin


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_the_admin_lists_credentials_expiring_soon_across_organizations(admin_client):
    acme, other = OrganizationFactory(slug="acme"), OrganizationFactory(slug="other")
    RegistryFactory(organization=acme, display_name="Acme soon", expires_on=days(5))
    RegistryFactory(organization=other, display_name="Other soon", expires_on=days(12))
    RegistryFactory(organization=other, display_name="Other later", expires_on=days(40))
    RegistryFactory(organization=acme, display_name="Acme gone", expires_on=days(-3))
    RegistryFactory(organization=acme, display_name="Acme undated")
    changelist = reverse("admin:registries_containerregistry_changelist")

    soon = admin_client.get(changelist, {"expiry": "soon"})
    assert {r.display_name for r in soon.context["cl"].result_list} == {"Acme soon", "Other soon"}
    expired = admin_client.get(changelist, {"expiry": "expired"})
    assert [r.display_name for r in expired.context["cl"].result_list] == ["Acme gone"]
    html = soon.content.decode()
    assert f"{days(5).isoformat()} · expires in 5 days" in html


def test_the_admin_form_edits_the_date(admin_client):
    registry = RegistryFactory(expires_on=days(30))
    page = admin_client.get(
        reverse("admin:registries_containerregistry_change", args=[registry.pk])
    ).content.decode()
    assert 'name="expires_on"' in page
    assert f'value="{days(30).isoformat()}"' in page
