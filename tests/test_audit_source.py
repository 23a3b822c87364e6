"""Every audit event records where its change was made: the Settings page, the admin, the
command line or the cluster sync; Activity names it next to who made it."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from orgsettings.audit import (
    actor_display,
    audit_record,
    audit_source,
)
from orgsettings.models import AuditAction, AuditEvent, AuditSource
from registries.models import AuthType
from registries.services import registry_create

from .deliveries import run_tasks
from .factories import OrganizationFactory, RegistryFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_change_on_the_settings_page_is_from_the_settings_page(client, organization, owner):
    client.force_login(owner)

    client.post(
        reverse("registries:create", kwargs={"slug": organization.slug}),
        {
            "display_name": "Quay",
            "address": "quay.io",
            "auth_type": AuthType.TOKEN,
            "token": "tok-Source-Settings-1",
        },
    )

    event = AuditEvent.objects.get(action=AuditAction.REGISTRY_CREATED)
    assert (event.actor_label, event.source) == ("olivia", AuditSource.SETTINGS)
    assert actor_display(event) == "olivia"


def test_a_registry_added_in_the_admin_is_from_the_admin(client):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    organization = OrganizationFactory()
    client.force_login(root)

    client.post(
        reverse("admin:registries_containerregistry_add"),
        {
            "organization": organization.pk,
            "display_name": "GitHub packages",
            "address": "ghcr.io",
            "auth_type": AuthType.BASIC,
            "username": "octocat",
            "password": "pw-Source-Admin-1",
            "token": "",
            "version": "",
        },
    )

    event = AuditEvent.objects.get(action=AuditAction.REGISTRY_CREATED)
    assert (event.actor, event.source) == (root, AuditSource.ADMIN)
    assert actor_display(event) == "root (admin)"


def test_a_registry_deleted_in_the_admin_is_from_the_admin(client):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    registry = RegistryFactory()
    client.force_login(root)

    client.post(
        reverse("admin:registries_containerregistry_delete", args=[registry.pk]), {"post": "yes"}
    )

    event = AuditEvent.objects.get(action=AuditAction.REGISTRY_DELETED)
    assert event.source == AuditSource.ADMIN


def test_an_organization_renamed_in_the_admin_is_from_the_admin(client):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    organization = OrganizationFactory(slug="acme", name="Acme")
    client.force_login(root)

    client.post(
        reverse("admin:orgsettings_organization_change", args=[organization.pk]),
        {
            "name": "Acme Inc",
            "slug": "acme",
            "namespace": "org-acme",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )

    event = AuditEvent.objects.get(action=AuditAction.ORGANIZATION_UPDATED)
    assert (event.actor, event.source) == (root, AuditSource.ADMIN)


def test_create_org_and_add_member_are_from_the_command_line():
    UserFactory(username="alice")

    call_command("create_org", "acme", "--name", "Acme")
    call_command("add_member", "acme", "alice", "--role", "admin")

    events = AuditEvent.objects.order_by("id")
    assert [(e.action, e.actor_label, e.source) for e in events] == [
        (AuditAction.ORGANIZATION_CREATED, "system", AuditSource.COMMAND_LINE),
        (AuditAction.MEMBERSHIP_ADDED, "system", AuditSource.COMMAND_LINE),
    ]
    assert actor_display(events[0]) == "System (command line)"


def test_bootstrap_demo_is_from_the_command_line():
    call_command("bootstrap_demo", stdout=None)

    assert set(AuditEvent.objects.values_list("source", flat=True)) == {AuditSource.COMMAND_LINE}


def test_a_delivery_failure_is_from_the_sync(cluster):
    organization = OrganizationFactory(slug="ghost")  # its namespace org-ghost does not exist
    registry_create(
        organization,
        actor=None,
        display_name="Harbor",
        address="harbor.example.com",
        auth_type=AuthType.BASIC,
        username="robot",
        password="pw-Source-Sync-1",
    )

    run_tasks()

    event = AuditEvent.objects.get(action="delivery.failed")
    assert (event.actor_label, event.source) == ("system", AuditSource.SYNC)
    assert actor_display(event) == "System (sync)"


def test_events_written_before_sources_were_recorded_still_read():
    event = audit_record(
        OrganizationFactory(),
        actor=None,
        action=AuditAction.MEMBERSHIP_ADDED,
        target_type="membership",
        target_id=1,
        target_label="alice",
    )

    assert event.source == ""
    assert actor_display(event) == "System"


def test_activity_shows_who_and_from_where(client, organization, owner):
    for source in (AuditSource.SYNC, AuditSource.COMMAND_LINE):
        with audit_source(source):
            audit_record(
                organization,
                actor=None,
                action=AuditAction.MEMBERSHIP_ADDED,
                target_type="membership",
                target_id=1,
                target_label="alice",
            )
    client.force_login(owner)

    text = client.get(reverse("settings-activity", kwargs={"slug": organization.slug})).text

    assert "System (sync)" in text
    assert "System (command line)" in text
