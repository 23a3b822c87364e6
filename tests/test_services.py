"""Registry writes: what is stored, encrypted at rest, and who changed it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from registries.models import AuthType, ContainerRegistry
from registries.services import (
    RegistryChangedError,
    registry_create,
    registry_delete,
    registry_update,
)

from .factories import RegistryFactory, UserFactory

pytestmark = pytest.mark.django_db


def create(organization, actor, **overrides):
    fields = {
        "display_name": "Harbor",
        "address": "harbor.example.com",
        "auth_type": AuthType.BASIC,
        "username": "robot",
        "password": "plaintext-password-123",
    }
    return registry_create(organization, actor=actor, **{**fields, **overrides})


def raw_column(registry, column):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM registries_containerregistry WHERE id = %s", [registry.pk]
        )
        value = cursor.fetchone()[0]
    return bytes(value)


def test_password_is_encrypted_at_rest(organization, owner):
    registry = create(organization, owner)
    stored = raw_column(registry, "password")
    assert b"plaintext-password-123" not in stored
    assert ContainerRegistry.objects.get(pk=registry.pk).password == "plaintext-password-123"


def test_token_is_encrypted_at_rest(organization, owner):
    registry = create(
        organization, owner, auth_type=AuthType.TOKEN, password=None, token="glpat-plaintext-token"
    )
    assert b"glpat-plaintext-token" not in raw_column(registry, "token")
    assert ContainerRegistry.objects.get(pk=registry.pk).token == "glpat-plaintext-token"


def test_create_records_who_created_and_changed_it(organization, owner):
    registry = create(organization, owner)
    assert registry.created_by == owner
    assert registry.updated_by == owner
    assert registry.created_at is not None


def test_update_records_who_changed_it_last(organization, owner, org_admin):
    registry = create(organization, owner)
    updated = registry_update(
        registry, actor=org_admin, expected_version=registry.version, display_name="Harbor EU"
    )
    assert updated.updated_by == org_admin
    assert updated.created_by == owner
    assert updated.updated_at >= registry.updated_at


def test_update_with_none_password_keeps_the_stored_one(organization, owner):
    registry = create(organization, owner)
    registry_update(
        registry, actor=owner, expected_version=registry.version, password=None, username="robot2"
    )
    stored = ContainerRegistry.objects.get(pk=registry.pk)
    assert (stored.username, stored.password) == ("robot2", "plaintext-password-123")


def test_switching_to_token_drops_the_stored_password(organization, owner):
    registry = create(organization, owner)
    registry_update(
        registry,
        actor=owner,
        expected_version=registry.version,
        auth_type=AuthType.TOKEN,
        token="tok",
    )
    stored = ContainerRegistry.objects.get(pk=registry.pk)
    assert (stored.password, stored.token) == ("", "tok")


def test_save_based_on_an_old_version_is_refused_and_changes_nothing(
    organization, owner, org_admin
):
    registry = create(organization, owner)
    opened_version = registry.version
    registry_update(
        registry, actor=org_admin, expected_version=opened_version, display_name="First"
    )
    with pytest.raises(RegistryChangedError) as raised:
        registry_update(
            registry, actor=owner, expected_version=opened_version, display_name="Second"
        )
    assert raised.value.current.updated_by == org_admin
    assert ContainerRegistry.objects.get(pk=registry.pk).display_name == "First"


def test_each_save_bumps_the_version(organization, owner):
    registry = create(organization, owner)
    updated = registry_update(
        registry, actor=owner, expected_version=registry.version, display_name="X"
    )
    assert updated.version == registry.version + 1


def test_service_refuses_a_duplicate_display_name_even_without_the_form(organization, owner):
    create(organization, owner)
    with pytest.raises(ValidationError):
        create(organization, owner, display_name="HARBOR", address="other.example.com")


def test_delete_removes_the_registry(organization, owner):
    registry = RegistryFactory(organization=organization)
    registry_delete(registry, actor=owner)
    assert not ContainerRegistry.objects.filter(pk=registry.pk).exists()


def test_secrets_are_not_in_str_or_repr(organization):
    registry = RegistryFactory(organization=organization, password="pw-do-not-print", token="")
    assert "pw-do-not-print" not in str(registry)
    assert "pw-do-not-print" not in repr(registry)


def test_token_login_uses_the_placeholder_username_when_none_is_given(organization):
    registry = RegistryFactory(
        organization=organization, auth_type=AuthType.TOKEN, username="", password="", token="t"
    )
    assert (registry.login_username, registry.login_secret) == ("token", "t")


def test_user_deletion_keeps_the_registry(organization):
    user = UserFactory()
    registry = RegistryFactory(organization=organization, created_by=user, updated_by=user)
    user.delete()
    registry.refresh_from_db()
    assert registry.created_by is None


def test_update_without_an_expected_version_is_refused_and_changes_nothing(owner):
    registry = RegistryFactory(display_name="Before")
    with pytest.raises(RegistryChangedError):
        registry_update(registry, actor=owner, expected_version=None, display_name="After")
    registry.refresh_from_db()
    assert (registry.display_name, registry.version) == ("Before", 1)


def test_update_that_changes_nothing_writes_nothing(organization, owner, org_admin):
    registry = create(organization, owner)
    unchanged = registry_update(
        registry,
        actor=org_admin,
        expected_version=registry.version,
        display_name="Harbor",
        address="harbor.example.com",
        password=None,
    )
    stored = ContainerRegistry.objects.get(pk=registry.pk)
    assert unchanged.version == stored.version == registry.version
    assert (stored.updated_at, stored.updated_by) == (registry.updated_at, owner)


def test_update_with_the_same_password_again_changes_nothing(organization, owner):
    registry = create(organization, owner)
    updated = registry_update(
        registry, actor=owner, expected_version=registry.version, password="plaintext-password-123"
    )
    assert updated.version == registry.version
