"""An installation from before clusters were data migrates with everything it had: registries
with their encrypted secrets, and their sync state moved into per-cluster targets."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [
    ("orgsettings", "0002_auditevent"),
    ("registries", "0002_registry_credentials_permission"),
    ("delivery", "0001_initial"),
]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_schema(transactional_db):
    apps = migrate(BEFORE)
    yield apps
    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_registries_secrets_and_sync_state_survive_the_migration(old_schema):
    apps = old_schema
    Organization = apps.get_model("orgsettings", "Organization")
    ContainerRegistry = apps.get_model("registries", "ContainerRegistry")
    synced_at = timezone.now() - datetime.timedelta(hours=2)
    acme = Organization.objects.create(slug="acme", name="Acme", namespace="org-acme")
    umbrella = Organization.objects.create(slug="umbrella", name="Umbrella", namespace="team-u")
    empty = Organization.objects.create(slug="empty", name="Empty", namespace="org-empty")
    github = ContainerRegistry.objects.create(
        organization=acme,
        display_name="GitHub",
        address="ghcr.io",
        auth_type="BasicAuth",
        username="octocat",
        password="ghp-old-secret",
        version=3,
        sync_status="synced",
        synced_at=synced_at,
    )
    ContainerRegistry.objects.create(
        organization=acme,
        display_name="Hub",
        address="docker.io",
        auth_type="Token",
        token="dckr-old-token",
        sync_status="synced",
        synced_at=synced_at,
    )
    broken = ContainerRegistry.objects.create(
        organization=umbrella,
        display_name="Quay",
        address="quay.io",
        auth_type="BasicAuth",
        username="u",
        password="quay-old-secret",
        sync_status="error",
        sync_error="Namespace “team-u” does not exist.",
    )

    migrated = migrate(
        [
            ("delivery", "0002_clusters_from_environment"),
            ("registries", "0003_sync_state_moved_to_delivery_targets"),
        ]
    )

    from delivery.models import Cluster, DeliveryTarget

    # The registry model as of that migration: later ones add columns.
    Registry = migrated.get_model("registries", "ContainerRegistry")

    assert Registry.objects.get(pk=github.pk).password == "ghp-old-secret"
    assert Registry.objects.get(address="docker.io").token == "dckr-old-token"
    assert Registry.objects.get(pk=broken.pk).password == "quay-old-secret"
    cluster = Cluster.objects.get()
    assert (cluster.name, cluster.connection, cluster.is_default) == (
        "default",
        "environment",
        True,
    )
    targets = {
        t.organization.slug: t for t in DeliveryTarget.objects.select_related("organization")
    }
    assert set(targets) == {"acme", "umbrella", "empty"}
    assert (targets["acme"].status, targets["acme"].synced_at) == ("synced", synced_at)
    assert targets["acme"].holds(github.pk, 3)
    assert (targets["umbrella"].status, targets["umbrella"].error) == (
        "error",
        "Namespace “team-u” does not exist.",
    )
    assert targets["umbrella"].namespace == "team-u"
    assert targets["empty"].status == "pending"
    assert empty.pk == targets["empty"].organization_id


@pytest.mark.django_db(transaction=True)
def test_an_installation_that_never_had_a_cluster_gets_none(old_schema, settings):
    settings.KUBECONFIG = ""
    Organization = old_schema.get_model("orgsettings", "Organization")
    ContainerRegistry = old_schema.get_model("registries", "ContainerRegistry")
    acme = Organization.objects.create(slug="acme", name="Acme", namespace="org-acme")
    ContainerRegistry.objects.create(
        organization=acme, display_name="Hub", address="docker.io", auth_type="Token", token="t"
    )

    migrate([("registries", "0003_sync_state_moved_to_delivery_targets")])

    from delivery.models import Cluster

    assert not Cluster.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_existing_credentials_are_given_the_key_that_reads_them(transactional_db, settings):
    from registries import encryption

    current = settings.CREDENTIALS_KEY
    apps = migrate([("registries", "0004_credentials_fernet_and_delivery_targets")])
    Organization = apps.get_model("orgsettings", "Organization")
    ContainerRegistry = apps.get_model("registries", "ContainerRegistry")
    acme = Organization.objects.create(slug="acme", name="Acme", namespace="org-acme")

    def registry(address, key):
        settings.CREDENTIALS_KEY = key
        return ContainerRegistry.objects.create(
            organization=acme,
            display_name=address,
            address=address,
            auth_type="BasicAuth",
            username="u",
            password="secret-of-" + address,
        ).pk

    readable = registry("ghcr.io", current)
    fallback = registry("quay.io", "the-previous-key-still-a-fallback-" + "p" * 20)
    lost = registry("docker.io", "a-key-that-nobody-kept-any-longer-" + "l" * 20)
    settings.CREDENTIALS_KEY = current
    settings.CRYPTOGRAPHY_KEY_FALLBACKS = ["the-previous-key-still-a-fallback-" + "p" * 20]

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    from registries.models import ContainerRegistry as Registry

    key_ids = dict(Registry.objects.values_list("pk", "credentials_key_id"))
    assert key_ids[readable] == encryption.current_key_id()
    assert key_ids[fallback] == encryption.key_id(settings.CRYPTOGRAPHY_KEY_FALLBACKS[0])
    assert key_ids[lost] == ""
    assert not Registry.objects.defer("password", "token").get(pk=readable).credentials_problem
    assert Registry.objects.defer("password", "token").get(pk=lost).credentials_problem


BEFORE_AUTH_KINDS = [("registries", "0004_credentials_fernet_and_delivery_targets")]
AUTH_KINDS = [("registries", "0005_auth_kinds_and_expiry")]


@pytest.fixture
def schema_before_auth_kinds(transactional_db):
    apps = migrate(BEFORE_AUTH_KINDS)
    yield apps
    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_basicauth_and_token_registries_log_in_as_before_after_the_auth_kinds_migration(
    schema_before_auth_kinds,
):
    Organization = schema_before_auth_kinds.get_model("orgsettings", "Organization")
    Old = schema_before_auth_kinds.get_model("registries", "ContainerRegistry")
    acme = Organization.objects.create(slug="acme", name="Acme", namespace="org-acme")
    basic = Old.objects.create(
        organization=acme,
        display_name="GitHub",
        address="ghcr.io",
        auth_type="BasicAuth",
        username="octocat",
        password="ghp-old-secret",
        version=4,
    )
    token = Old.objects.create(
        organization=acme, display_name="Hub", address="docker.io", auth_type="Token", token="t0k"
    )
    named = Old.objects.create(
        organization=acme,
        display_name="Quay",
        address="quay.io",
        auth_type="Token",
        username="org+robot",
        token="quay-token",
    )

    migrated = migrate(AUTH_KINDS)
    New = migrated.get_model("registries", "ContainerRegistry")
    rows = {row.pk: row for row in New.objects.all()}
    assert (rows[basic.pk].auth_type, rows[basic.pk].username, rows[basic.pk].password) == (
        "BasicAuth",
        "octocat",
        "ghp-old-secret",
    )
    assert (rows[basic.pk].version, rows[basic.pk].expires_on) == (4, None)
    assert (rows[token.pk].auth_type, rows[token.pk].token, rows[token.pk].password) == (
        "Token",
        "t0k",
        "",
    )
    assert rows[named.pk].options == {}
    assert rows[named.pk].kind_state == {}

    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())
    from registries.models import ContainerRegistry

    logins = {r.pk: r.login() for r in ContainerRegistry.objects.all()}
    assert (logins[basic.pk].username, logins[basic.pk].secret) == ("octocat", "ghp-old-secret")
    assert (logins[token.pk].username, logins[token.pk].secret) == ("token", "t0k")
    assert (logins[named.pk].username, logins[named.pk].secret) == ("org+robot", "quay-token")
    assert all(login.expires_at is None for login in logins.values())
    assert not any(r.credentials_unreadable for r in ContainerRegistry.objects.all())
