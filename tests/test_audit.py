"""The audit trail: what the services record, what survives deletion, and the request's IP."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse

from delivery.reconcile import reconcile
from orgsettings.audit import (
    audit_record,
    change_lines,
    client_ip,
    event_kind_label,
    field_changes,
    register_event_kinds,
)
from orgsettings.models import AuditAction, AuditEvent, Role
from orgsettings.services import (
    membership_remove,
    membership_set,
    organization_create,
    organization_rename,
)
from registries.models import AuthType
from registries.services import registry_create, registry_delete, registry_update

from .deliveries import run_tasks
from .factories import MembershipFactory, OrganizationFactory, RegistryFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET = "s3cret-Audit-Password-7f2a"
TOKEN = "tok-Audit-Token-91c4e0"


def _only_event(**filters) -> AuditEvent:
    return AuditEvent.objects.get(**filters)


def _create(organization, actor, **fields):
    values = {
        "display_name": "GitHub packages",
        "address": "ghcr.io",
        "auth_type": AuthType.BASIC,
        "username": "octocat",
        "password": SECRET,
        **fields,
    }
    return registry_create(organization, actor=actor, **values)


# --- audit_record and field_changes ------------------------------------------------------------


def test_record_without_actor_is_by_system():
    organization = OrganizationFactory()

    event = audit_record(
        organization,
        actor=None,
        action=AuditAction.MEMBERSHIP_ADDED,
        target_type="membership",
        target_id=1,
        target_label="alice",
    )

    assert event.actor is None
    assert event.actor_label == "system"


def test_record_keeps_the_organization_as_text():
    organization = OrganizationFactory(slug="acme", name="Acme Inc")

    event = audit_record(
        organization,
        actor=None,
        action=AuditAction.REGISTRY_CREATED,
        target_type="registry",
        target_id=1,
        target_label="x",
    )

    assert (event.organization_slug, event.organization_name) == ("acme", "Acme Inc")


def test_record_refuses_a_secret_value():
    organization = OrganizationFactory()

    with pytest.raises(ValueError, match="never stores"):
        audit_record(
            organization,
            actor=None,
            action=AuditAction.REGISTRY_UPDATED,
            target_type="registry",
            target_id=1,
            target_label="x",
            changes={"password": {"old": "a", "new": SECRET}},
        )
    assert not AuditEvent.objects.exists()


def test_field_changes_lists_old_and_new_plain_values():
    assert field_changes(
        {"address": "a.io", "username": "u"}, {"address": "b.io", "username": "u"}
    ) == {"address": {"old": "a.io", "new": "b.io"}}


@pytest.mark.parametrize(
    ("old", "new", "marker"),
    [("", SECRET, "set"), ("old-one", SECRET, "changed"), (SECRET, "", "removed")],
)
def test_field_changes_keeps_only_whether_a_secret_changed(old, new, marker):
    changes = field_changes({"password": old}, {"password": new})

    assert changes == {"password": {"secret": marker}}


def test_field_changes_omits_unchanged_secrets():
    assert field_changes({"token": SECRET}, {"token": SECRET}) == {}


def test_change_lines_say_password_changed_without_the_value():
    lines = change_lines(
        {"display_name": {"old": "A", "new": "B"}, "password": {"secret": "changed"}}
    )

    assert lines == ["Display Name: “A” → “B”", "Password changed"]


def test_change_lines_show_choice_labels():
    assert change_lines({"role": {"old": "member", "new": "owner"}}) == ["Role: “Member” → “Owner”"]


def test_field_changes_of_a_new_object_leave_out_empty_fields():
    assert field_changes(None, {"username": "", "plain_http": False, "address": "a.io"}) == {
        "address": {"old": None, "new": "a.io"}
    }


# --- registries ------------------------------------------------------------------------------


def test_registry_create_records_who_what_and_that_a_password_was_set():
    organization, alice = OrganizationFactory(), UserFactory(username="alice")

    registry = _create(organization, alice, ip="203.0.113.9")

    event = _only_event(action=AuditAction.REGISTRY_CREATED)
    assert (event.organization, event.actor, event.actor_label) == (organization, alice, "alice")
    assert (event.target_type, event.target_id, event.target_label) == (
        "registry",
        str(registry.pk),
        "GitHub packages",
    )
    assert event.changes["address"] == {"old": None, "new": "ghcr.io"}
    assert event.changes["password"] == {"secret": "set"}
    assert event.ip == "203.0.113.9"


def test_registry_events_never_contain_the_secret():
    organization, alice = OrganizationFactory(), UserFactory()
    registry = _create(organization, alice)
    registry = registry_update(
        registry, actor=alice, expected_version=None, auth_type=AuthType.TOKEN, token=TOKEN
    )
    registry_delete(registry, actor=alice)

    stored = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert SECRET not in stored
    assert TOKEN not in stored


def test_registry_update_with_new_password_records_only_password_changed():
    registry, alice = RegistryFactory(password="old-password-1"), UserFactory()

    registry_update(registry, actor=alice, expected_version=None, password=SECRET)

    event = _only_event(action=AuditAction.REGISTRY_UPDATED)
    assert event.changes == {"password": {"secret": "changed"}}
    assert change_lines(event.changes) == ["Password changed"]


def test_registry_update_with_blank_password_records_no_password_change():
    registry, alice = RegistryFactory(), UserFactory()

    registry_update(registry, actor=alice, expected_version=None, password=None, username="bot")

    assert _only_event(action=AuditAction.REGISTRY_UPDATED).changes == {
        "username": {"old": "robot", "new": "bot"}
    }


def test_registry_update_switching_to_token_records_password_removed_and_token_set():
    registry, alice = RegistryFactory(), UserFactory()

    registry_update(
        registry, actor=alice, expected_version=None, auth_type=AuthType.TOKEN, token=TOKEN
    )

    changes = _only_event(action=AuditAction.REGISTRY_UPDATED).changes
    assert changes["auth_type"] == {"old": "BasicAuth", "new": "Token"}
    assert changes["password"] == {"secret": "removed"}
    assert changes["token"] == {"secret": "set"}


def test_registry_update_that_changes_nothing_records_nothing():
    registry, alice = RegistryFactory(), UserFactory()

    registry_update(
        registry, actor=alice, expected_version=None, display_name=registry.display_name
    )

    assert not AuditEvent.objects.exists()


def test_registry_create_that_fails_validation_records_nothing():
    organization, alice = OrganizationFactory(), UserFactory()

    with pytest.raises(ValidationError):
        _create(organization, alice, auth_type="Kerberos")

    assert not AuditEvent.objects.exists()


def test_registry_delete_event_survives_the_registry():
    registry, alice = RegistryFactory(display_name="Quay robots"), UserFactory()
    registry_pk = registry.pk

    registry_delete(registry, actor=alice, ip="2001:db8::1")

    event = _only_event(action=AuditAction.REGISTRY_DELETED)
    assert (event.target_id, event.target_label) == (str(registry_pk), "Quay robots")
    assert event.changes["display_name"] == {"old": "Quay robots", "new": None}
    assert event.ip == "2001:db8::1"


def test_events_survive_the_deletion_of_their_organization():
    registry = RegistryFactory(organization__slug="gone", organization__name="Gone Ltd")
    registry_delete(registry, actor=UserFactory())

    registry.organization.delete()

    event = _only_event(action=AuditAction.REGISTRY_DELETED)
    assert event.organization is None
    assert (event.organization_slug, event.organization_name) == ("gone", "Gone Ltd")


def test_events_keep_the_actor_name_after_the_user_is_deleted():
    alice = UserFactory(username="alice")
    _create(OrganizationFactory(), alice)

    alice.delete()

    event = _only_event(action=AuditAction.REGISTRY_CREATED)
    assert (event.actor, event.actor_label) == (None, "alice")


# --- append-only -----------------------------------------------------------------------------


def test_saving_an_existing_event_is_refused():
    event = audit_record(
        OrganizationFactory(),
        actor=None,
        action=AuditAction.SYNC_FAILED,
        target_type="registry",
        target_id=1,
        target_label="x",
    )
    event.target_label = "rewritten"

    with pytest.raises(TypeError):
        event.save()
    assert AuditEvent.objects.get().target_label == "x"


def test_deleting_an_event_is_refused():
    event = audit_record(
        OrganizationFactory(),
        actor=None,
        action=AuditAction.SYNC_FAILED,
        target_type="registry",
        target_id=1,
        target_label="x",
    )

    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.update(target_label="rewritten")
    assert AuditEvent.objects.count() == 1


# --- organizations and memberships -----------------------------------------------------------


def test_organization_create_records_creation_and_the_owner_joining():
    owner = UserFactory(username="olga")

    organization_create(slug="acme", name="Acme", owner=owner)

    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor_label"))
    assert actions == [
        (AuditAction.ORGANIZATION_CREATED, "system"),
        (AuditAction.MEMBERSHIP_ADDED, "system"),
    ]


def test_organization_rename_records_old_and_new_name():
    organization, olga = OrganizationFactory(name="Old name"), UserFactory()

    organization_rename(organization, actor=olga, name="New name", ip="198.51.100.7")

    event = _only_event(action=AuditAction.ORGANIZATION_UPDATED)
    assert event.changes == {"name": {"old": "Old name", "new": "New name"}}
    assert (event.actor, event.ip) == (olga, "198.51.100.7")


def test_membership_set_records_a_new_member_with_role():
    organization, bob, olga = OrganizationFactory(), UserFactory(username="bob"), UserFactory()

    membership = membership_set(organization, user=bob, role=Role.ADMIN, actor=olga)

    event = _only_event(action=AuditAction.MEMBERSHIP_ADDED)
    assert (event.target_type, event.target_id, event.target_label) == (
        "membership",
        str(membership.pk),
        "bob",
    )
    assert event.changes == {
        "user": {"old": None, "new": "bob"},
        "role": {"old": None, "new": "admin"},
    }
    assert event.actor == olga


def test_membership_set_records_a_role_change():
    membership = MembershipFactory(role=Role.MEMBER)

    membership_set(membership.organization, user=membership.user, role=Role.OWNER)

    event = _only_event(action=AuditAction.MEMBERSHIP_ROLE_CHANGED)
    assert event.changes == {"role": {"old": "member", "new": "owner"}}
    assert event.actor_label == "system"


def test_membership_set_with_the_same_role_records_nothing():
    membership = MembershipFactory(role=Role.ADMIN)

    membership_set(membership.organization, user=membership.user, role=Role.ADMIN)

    assert not AuditEvent.objects.exists()


def test_membership_remove_records_who_left():
    membership = MembershipFactory(user__username="carol", role=Role.ADMIN)

    membership_remove(membership, actor=None)

    event = _only_event(action=AuditAction.MEMBERSHIP_REMOVED)
    assert event.target_label == "carol"
    assert event.changes["role"] == {"old": "admin", "new": None}


def test_add_member_command_records_a_system_event():
    organization, dave = OrganizationFactory(slug="acme"), UserFactory(username="dave")

    call_command("add_member", "acme", "dave", "--role", "admin")

    event = _only_event(action=AuditAction.MEMBERSHIP_ADDED)
    assert (event.organization, event.actor_label, event.target_label) == (
        organization,
        "system",
        dave.username,
    )


# --- kinds of event that apps register, and delivery incidents -----------------------------


def test_an_unregistered_kind_of_event_is_refused():
    with pytest.raises(ValueError, match="register it first"):
        audit_record(
            OrganizationFactory(),
            actor=None,
            action="mystery.happened",
            target_type="x",
            target_id=1,
            target_label="x",
        )


def test_a_registered_kind_of_event_is_recorded_and_named():
    register_event_kinds({"test.pinged": "Pinged"}, field_labels={"ping": "Ping"})

    event = audit_record(
        OrganizationFactory(),
        actor=None,
        action="test.pinged",
        target_type="x",
        target_id=1,
        target_label="x",
        changes={"ping": {"old": None, "new": "pong"}},
    )

    assert (event.get_action_display(), event_kind_label("test.pinged")) == ("Pinged", "Pinged")
    assert change_lines(event.changes) == ["Ping: “pong”"]


def test_events_from_before_clusters_keep_their_names():
    assert event_kind_label(AuditAction.SYNC_FAILED) == "Sync failed"


def _incidents():
    return [
        (e.action, e.actor_label, e.target_label)
        for e in AuditEvent.objects.filter(target_type="delivery")
        .exclude(action__in=["delivery.placed", "delivery.unplaced"])
        .order_by("id")
    ]


def test_a_target_failing_then_recovering_is_recorded_once_each_by_system(cluster):
    organization = OrganizationFactory(slug="ghost")
    _create(organization, None, display_name="Harbor")
    run_tasks()
    # Retries and later saves while it keeps failing are not new incidents.
    reconcile()
    _create(organization, None, display_name="Quay", address="quay.io")
    run_tasks()

    cluster.add_namespace("org-ghost")
    reconcile()
    reconcile()

    assert _incidents() == [
        ("delivery.failed", "system", "main/org-ghost"),
        ("delivery.recovered", "system", "main/org-ghost"),
    ]
    failed = AuditEvent.objects.get(action="delivery.failed")
    assert failed.get_action_display() == "Delivery failed"
    assert failed.changes == {
        "cluster": {"old": None, "new": "main"},
        "error": {"old": None, "new": "Namespace “org-ghost” does not exist."},
    }


def test_placing_and_unplacing_are_recorded(cluster, organization):
    from delivery.services import organization_unplace

    organization_unplace(organization, cluster=cluster.row)

    placed, unplaced = AuditEvent.objects.filter(
        action__in=["delivery.placed", "delivery.unplaced"]
    ).order_by("id")
    assert (placed.get_action_display(), placed.target_label) == ("Placed on a cluster", "main")
    assert unplaced.get_action_display() == "Removed from a cluster"


# --- the request's IP ------------------------------------------------------------------------


def test_client_ip_is_remote_addr():
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.10")

    assert client_ip(request) == "192.0.2.10"


def test_client_ip_ignores_x_forwarded_for_by_default():
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1")

    assert client_ip(request) == "10.0.0.2"


def test_client_ip_takes_the_entry_our_outermost_proxy_added(settings):
    settings.AUDIT_TRUSTED_PROXIES = 2
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.3", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.1, 10.0.0.2"
    )

    assert client_ip(request) == "198.51.100.1"


def test_client_ip_falls_back_to_remote_addr_when_proxies_added_too_little(settings):
    settings.AUDIT_TRUSTED_PROXIES = 2
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.3", HTTP_X_FORWARDED_FOR="1.2.3.4")

    assert client_ip(request) == "10.0.0.3"


def test_client_ip_that_is_not_an_address_is_none():
    request = RequestFactory().get("/", REMOTE_ADDR="unix-socket")

    assert client_ip(request) is None


def test_settings_page_records_the_request_ip(client):
    owner = MembershipFactory(role=Role.OWNER)
    client.force_login(owner.user)
    url = reverse("registries:create", kwargs={"slug": owner.organization.slug})

    response = client.post(
        url,
        {
            "display_name": "GitHub",
            "address": "ghcr.io",
            "auth_type": "BasicAuth",
            "username": "octocat",
            "password": SECRET,
        },
        REMOTE_ADDR="203.0.113.50",
    )

    assert response.status_code == 302
    event = _only_event(action=AuditAction.REGISTRY_CREATED)
    assert (event.actor, event.ip) == (owner.user, "203.0.113.50")


def test_settings_page_rename_records_the_request_ip(client):
    owner = MembershipFactory(role=Role.OWNER)
    client.force_login(owner.user)

    client.post(
        reverse("settings-general", kwargs={"slug": owner.organization.slug}),
        {"name": "Renamed"},
        REMOTE_ADDR="203.0.113.51",
    )

    assert _only_event(action=AuditAction.ORGANIZATION_UPDATED).ip == "203.0.113.51"
