"""The Activity section of the Settings page: the organization's audit trail for its managers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orgsettings.audit import audit_record
from orgsettings.models import AuditAction
from orgsettings.views import ACTIVITY_PAGE_SIZE
from registries.services import registry_update

from .factories import OrganizationFactory, RegistryFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET = "pw-Activity-Secret-0b7e"


def _url(organization) -> str:
    return reverse("settings-activity", kwargs={"slug": organization.slug})


def _event(organization, label: str = "Harbor"):
    return audit_record(
        organization,
        actor=None,
        action=AuditAction.REGISTRY_CREATED,
        target_type="registry",
        target_id=1,
        target_label=label,
    )


@pytest.mark.parametrize("user", ["owner", "org_admin"])
def test_owners_and_admins_see_the_activity(client, organization, user, request):
    _event(organization, label="Quay robots")
    client.force_login(request.getfixturevalue(user))

    response = client.get(_url(organization))

    assert response.status_code == 200
    assert "Quay robots" in response.text


def test_members_are_refused(client, organization, member):
    client.force_login(member)

    assert client.get(_url(organization)).status_code == 403


def test_outsiders_get_not_found(client, organization, outsider):
    client.force_login(outsider)

    assert client.get(_url(organization)).status_code == 404


def test_unknown_organization_is_not_found(client):
    client.force_login(UserFactory())

    response = client.get(reverse("settings-activity", kwargs={"slug": "no-such-org"}))

    assert response.status_code == 404


def test_anonymous_users_are_sent_to_login(client, organization):
    response = client.get(_url(organization))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_activity_is_newest_first(client, organization, owner):
    for label in ("first", "second", "third"):
        _event(organization, label=label)
    client.force_login(owner)

    events = client.get(_url(organization)).context["page"].object_list

    assert [event.target_label for event in events] == ["third", "second", "first"]


def test_activity_shows_only_this_organizations_events(client, organization, owner):
    _event(organization, label="Ours")
    _event(OrganizationFactory(), label="Theirs")
    client.force_login(owner)

    text = client.get(_url(organization)).text

    assert "Ours" in text
    assert "Theirs" not in text


def test_activity_is_paginated(client, organization, owner):
    for index in range(ACTIVITY_PAGE_SIZE + 1):
        _event(organization, label=f"event {index}")
    client.force_login(owner)

    first = client.get(_url(organization))
    second = client.get(_url(organization), {"page": 2})

    assert len(first.context["page"].object_list) == ACTIVITY_PAGE_SIZE
    assert 'href="?page=2"' in first.text
    assert [e.target_label for e in second.context["page"].object_list] == ["event 0"]


def test_activity_page_past_the_end_shows_the_last_page(client, organization, owner):
    _event(organization)
    client.force_login(owner)

    response = client.get(_url(organization), {"page": 99})

    assert response.context["page"].number == 1


def test_activity_says_password_changed_without_the_secret(client, organization, owner):
    registry = RegistryFactory(organization=organization, password="old-one")
    registry_update(registry, actor=owner, expected_version=registry.version, password=SECRET)
    client.force_login(owner)

    text = client.get(_url(organization)).text

    assert "Password changed" in text
    assert SECRET not in text


def test_activity_without_events_says_so(client, organization, org_admin):
    client.force_login(org_admin)

    assert "No activity yet" in client.get(_url(organization)).text


def test_navigation_offers_activity_to_admins(client, organization, org_admin):
    client.force_login(org_admin)

    response = client.get(reverse("settings-general", kwargs={"slug": organization.slug}))

    assert _url(organization) in response.text


def test_navigation_hides_activity_from_members(client, organization, member):
    client.force_login(member)

    response = client.get(reverse("settings-general", kwargs={"slug": organization.slug}))

    assert _url(organization) not in response.text


def test_activity_queries_do_not_grow_with_events(client, organization, owner):
    _event(organization)
    client.force_login(owner)
    client.get(_url(organization))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            client.get(_url(organization))
        return len(queries)

    one = count()
    for _ in range(19):
        audit_record(
            organization,
            actor=UserFactory(),
            action=AuditAction.MEMBERSHIP_ADDED,
            target_type="membership",
            target_id=1,
            target_label="someone",
        )

    assert count() == one
