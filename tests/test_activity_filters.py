"""Activity's filters: registry, person, kind of event and days, kept in the URL and in the page
links; times shown with their time zone."""

from __future__ import annotations

import datetime

import pytest
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from orgsettings.audit import audit_record
from orgsettings.models import AuditAction, AuditEvent
from orgsettings.views import ACTIVITY_PAGE_SIZE

from .factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def _url(organization) -> str:
    return reverse("settings-activity", kwargs={"slug": organization.slug})


def _event(
    organization, *, actor=None, action=AuditAction.REGISTRY_CREATED, label="Harbor", at=None
):
    event = audit_record(
        organization,
        actor=actor,
        action=action,
        target_type="membership" if action.startswith("membership") else "registry",
        target_id=1,
        target_label=label,
    )
    if at is not None:
        # Events cannot be changed through the model; their time is set here, for the test.
        QuerySet.update(AuditEvent.objects.filter(pk=event.pk), created_at=at)
    return event


def _labels(response) -> list[str]:
    return [event.target_label for event in response.context["page"].object_list]


@pytest.fixture
def trail(organization, owner):
    alice = UserFactory(username="alice")
    now = timezone.now()
    _event(organization, actor=owner, label="Harbor", at=now - datetime.timedelta(days=10))
    _event(organization, actor=alice, label="Quay robots", action=AuditAction.REGISTRY_UPDATED)
    _event(organization, label="Harbor", action=AuditAction.SYNC_FAILED)
    _event(organization, actor=alice, label="bob", action=AuditAction.MEMBERSHIP_ADDED)
    return now


def test_filters_by_registry_name(client, organization, owner, trail):
    client.force_login(owner)

    response = client.get(_url(organization), {"registry": "harb"})

    # Its sync failure and its creation; not Quay's change, not the membership.
    assert [e.action for e in response.context["page"].object_list] == [
        AuditAction.SYNC_FAILED,
        AuditAction.REGISTRY_CREATED,
    ]


def test_filters_by_person(client, organization, owner, trail):
    client.force_login(owner)

    assert _labels(client.get(_url(organization), {"person": "alice"})) == ["bob", "Quay robots"]
    assert _labels(client.get(_url(organization), {"person": "system"})) == ["Harbor"]


def test_the_person_filter_offers_who_appears_in_the_trail(client, organization, owner, trail):
    _event(OrganizationFactory(), actor=UserFactory(username="stranger"))
    client.force_login(owner)

    choices = dict(client.get(_url(organization)).context["form"].fields["person"].choices)

    assert choices == {"": "Anyone", "alice": "alice", "olivia": "olivia", "system": "System"}


def test_filters_by_kind_of_event(client, organization, owner, trail):
    client.force_login(owner)

    response = client.get(_url(organization), {"action": AuditAction.MEMBERSHIP_ADDED})

    assert _labels(response) == ["bob"]


def test_filters_by_a_range_of_days(client, organization, owner, trail):
    client.force_login(owner)
    today = timezone.localdate(trail)
    ten_days_ago = today - datetime.timedelta(days=10)

    old = client.get(_url(organization), {"since": ten_days_ago, "until": ten_days_ago})
    recent = client.get(_url(organization), {"since": today})

    assert _labels(old) == ["Harbor"]
    assert len(_labels(recent)) == 3


def test_a_range_that_ends_before_it_starts_is_refused_with_a_reason(
    client, organization, owner, trail
):
    client.force_login(owner)

    response = client.get(_url(organization), {"since": "2026-02-10", "until": "2026-02-01"})

    assert response.status_code == 200
    assert "The end of the range is before its start." in response.text


def test_an_invalid_filter_is_reported_and_the_others_apply(client, organization, owner, trail):
    client.force_login(owner)

    response = client.get(_url(organization), {"since": "yesterday", "person": "alice"})

    assert response.status_code == 200
    assert "Enter a valid date." in response.text
    assert _labels(response) == ["bob", "Quay robots"]


def test_no_match_says_so(client, organization, owner, trail):
    client.force_login(owner)

    response = client.get(_url(organization), {"registry": "nothing-like-it"})

    assert "No events match these filters" in response.text


def test_page_links_keep_the_filters(client, organization, owner):
    for index in range(ACTIVITY_PAGE_SIZE + 1):
        _event(organization, actor=owner, label=f"Registry {index}")
    client.force_login(owner)

    response = client.get(_url(organization), {"person": "olivia"})

    assert 'href="?person=olivia&amp;page=2"' in response.text
    assert _labels(client.get(_url(organization), {"person": "olivia", "page": 2})) == [
        "Registry 0"
    ]


def test_times_carry_their_time_zone(client, organization, owner, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    _event(organization, at=datetime.datetime(2026, 7, 1, 12, 30, tzinfo=datetime.UTC))
    client.force_login(owner)

    text = client.get(_url(organization)).text

    assert "Jul 1, 2026, 14:30 CEST" in text
    assert 'datetime="2026-07-01T12:30:00+00:00"' in text


def test_filters_work_without_javascript_as_a_get_form(client, organization, owner):
    client.force_login(owner)

    text = client.get(_url(organization)).text

    form = text.split('class="table-tools activity-filters"')[1].split("</form>")[0]
    assert 'method="get"' in form
    for name in ("registry", "person", "action", "since", "until"):
        assert f'name="{name}"' in form


def test_outsiders_get_404_and_members_403_for_filtered_activity(
    client, organization, outsider, member
):
    client.force_login(outsider)
    assert client.get(_url(organization), {"person": "system"}).status_code == 404
    client.force_login(member)
    assert client.get(_url(organization), {"person": "system"}).status_code == 403
