"""Registries reach the cluster: the Secret, the ServiceAccount references, sync states, and
healing by the reconciler. Everything goes over HTTP to the fake API server through the
official client."""

from __future__ import annotations

import time

import pytest
from django.db import transaction
from django.urls import reverse

from orgsettings.models import Organization
from registries import dispatch, kube, sync
from registries.dockerconfig import decode_config
from registries.models import AuthType, ContainerRegistry, SyncStatus
from registries.services import registry_create, registry_delete, registry_update

from .factories import OrganizationFactory, RegistryFactory
from .fakekube import FakeKubeServer
from .keyring import credentials_for

pytestmark = pytest.mark.django_db

SECRET = "org-registry-credentials"


def secret_config(fake: FakeKubeServer, namespace: str = "org-acme") -> dict | None:
    secret = fake.get_object("secrets", namespace, SECRET)
    return None if secret is None else decode_config(secret["data"][".dockerconfigjson"])


def pull_secrets(
    fake: FakeKubeServer, namespace: str = "org-acme", account: str = "default"
) -> list[str]:
    sa = fake.get_object("serviceaccounts", namespace, account)
    return [ref["name"] for ref in (sa or {}).get("imagePullSecrets", [])]


def add_foreign_pull_secret(
    fake: FakeKubeServer, namespace: str = "org-acme", name: str = "added-by-cluster-admin"
) -> None:
    sa = fake.get_object("serviceaccounts", namespace, "default")
    sa.setdefault("imagePullSecrets", []).append({"name": name})
    fake.put_object(sa)


def create(organization, actor=None, **overrides):
    fields = {
        "display_name": "GitHub",
        "address": "ghcr.io",
        "auth_type": AuthType.BASIC,
        "username": "octocat",
        "password": "ghp_secret_1",
    }
    return registry_create(organization, actor=actor, **{**fields, **overrides})


def saved(captured, organization, **overrides):
    with captured(execute=True):
        return create(organization, **overrides)


# After a save


def test_create_reaches_the_cluster_with_an_entry_the_kubelet_matches(
    cluster, organization, django_capture_on_commit_callbacks
):
    saved(django_capture_on_commit_callbacks, organization)
    entry = credentials_for(secret_config(cluster), "ghcr.io/acme/api:1.4")[0]
    assert (entry["username"], entry["password"]) == ("octocat", "ghp_secret_1")


def test_secret_is_a_dockerconfigjson_labelled_as_ours(
    cluster, organization, django_capture_on_commit_callbacks
):
    saved(django_capture_on_commit_callbacks, organization)
    secret = cluster.get_object("secrets", "org-acme", SECRET)
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "orgsettings",
        "orgsettings.io/organization": "acme",
    }


def test_all_registries_of_the_organization_share_one_secret(
    cluster, organization, django_capture_on_commit_callbacks
):
    saved(django_capture_on_commit_callbacks, organization)
    saved(
        django_capture_on_commit_callbacks,
        organization,
        display_name="Hub",
        address="docker.io",
        username="acme",
        password="dckr_pat",
    )
    config = secret_config(cluster)
    assert sorted(config["auths"]) == ["docker.io", "ghcr.io"]
    assert credentials_for(config, "acme/private")[0]["password"] == "dckr_pat"


def test_token_registry_is_pushed_with_the_placeholder_username(
    cluster, organization, django_capture_on_commit_callbacks
):
    saved(
        django_capture_on_commit_callbacks,
        organization,
        address="registry.gitlab.com",
        auth_type=AuthType.TOKEN,
        username="",
        password=None,
        token="glpat-1",
    )
    entry = secret_config(cluster)["auths"]["registry.gitlab.com"]
    assert (entry["username"], entry["password"]) == ("token", "glpat-1")


def test_default_service_account_references_the_secret(
    cluster, organization, django_capture_on_commit_callbacks
):
    saved(django_capture_on_commit_callbacks, organization)
    assert pull_secrets(cluster) == [SECRET]


def test_row_shows_synced_with_time_after_the_push(
    cluster, organization, django_capture_on_commit_callbacks
):
    registry = saved(django_capture_on_commit_callbacks, organization)
    registry.refresh_from_db()
    assert registry.sync_status == SyncStatus.SYNCED
    assert registry.synced_at is not None
    assert registry.sync_error == ""


def test_edit_rewrites_the_secret(cluster, organization, django_capture_on_commit_callbacks):
    registry = saved(django_capture_on_commit_callbacks, organization)
    with django_capture_on_commit_callbacks(execute=True):
        registry_update(
            registry, actor=None, expected_version=registry.version, password="ghp_rotated"
        )
    assert secret_config(cluster)["auths"]["ghcr.io"]["password"] == "ghp_rotated"


def test_changing_the_address_replaces_the_entry(
    cluster, organization, django_capture_on_commit_callbacks
):
    registry = saved(django_capture_on_commit_callbacks, organization)
    with django_capture_on_commit_callbacks(execute=True):
        registry_update(
            registry, actor=None, expected_version=registry.version, address="ghcr.io/acme"
        )
    assert list(secret_config(cluster)["auths"]) == ["ghcr.io/acme"]


def test_deleting_the_last_registry_leaves_the_secret_with_no_entries(
    cluster, organization, django_capture_on_commit_callbacks
):
    registry = saved(django_capture_on_commit_callbacks, organization)
    with django_capture_on_commit_callbacks(execute=True):
        registry_delete(registry, actor=None)
    assert secret_config(cluster) == {"auths": {}}
    assert pull_secrets(cluster) == [SECRET]


def test_new_organization_gets_an_empty_secret_and_its_reference(
    cluster, django_capture_on_commit_callbacks
):
    cluster.add_namespace("org-newco")
    with django_capture_on_commit_callbacks(execute=True):
        OrganizationFactory(slug="newco")
    assert secret_config(cluster, "org-newco") == {"auths": {}}
    assert pull_secrets(cluster, "org-newco") == [SECRET]


def test_rolled_back_transaction_pushes_nothing(
    cluster, organization, django_capture_on_commit_callbacks
):
    cluster.clear_requests()

    def create_then_fail():
        with transaction.atomic():
            create(organization)
            raise RuntimeError("abort")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        create_then_fail()
    assert callbacks == []
    assert cluster.requests == []
    assert not ContainerRegistry.objects.exists()


def test_existing_pull_secrets_survive_every_operation(
    cluster, organization, django_capture_on_commit_callbacks
):
    add_foreign_pull_secret(cluster)
    registry = saved(django_capture_on_commit_callbacks, organization)
    assert pull_secrets(cluster) == ["added-by-cluster-admin", SECRET]
    with django_capture_on_commit_callbacks(execute=True):
        registry_update(registry, actor=None, expected_version=registry.version, username="other")
    with django_capture_on_commit_callbacks(execute=True):
        registry_delete(registry, actor=None)
    sync.reconcile()
    assert pull_secrets(cluster) == ["added-by-cluster-admin", SECRET]
    with django_capture_on_commit_callbacks(execute=True):
        organization.delete()
    assert pull_secrets(cluster) == ["added-by-cluster-admin"]


def test_concurrent_service_account_edit_is_resolved_by_retrying(
    cluster, organization, django_capture_on_commit_callbacks
):
    cluster.conflict_next(
        1,
        kind="serviceaccounts",
        mutate=lambda sa: sa.setdefault("imagePullSecrets", []).append(
            {"name": "written-meanwhile"}
        ),
    )
    registry = saved(django_capture_on_commit_callbacks, organization)
    assert pull_secrets(cluster) == ["written-meanwhile", SECRET]
    registry.refresh_from_db()
    assert registry.sync_status == SyncStatus.SYNCED


def test_concurrent_secret_edit_is_resolved_by_retrying(
    cluster, organization, django_capture_on_commit_callbacks
):
    registry = saved(django_capture_on_commit_callbacks, organization)
    cluster.conflict_next(1, kind="secrets")
    with django_capture_on_commit_callbacks(execute=True):
        registry_update(
            registry, actor=None, expected_version=registry.version, password="after-conflict"
        )
    assert secret_config(cluster)["auths"]["ghcr.io"]["password"] == "after-conflict"


# When the cluster misbehaves


def test_cluster_down_at_save_keeps_the_save_and_shows_an_error(
    cluster, organization, django_capture_on_commit_callbacks
):
    with cluster.unreachable():
        registry = saved(django_capture_on_commit_callbacks, organization)
    registry.refresh_from_db()
    assert registry.password == "ghp_secret_1"
    assert (registry.sync_status, registry.sync_error) == (
        SyncStatus.ERROR,
        "The cluster is unreachable.",
    )


def test_reconcile_heals_what_a_dead_cluster_missed(
    cluster, organization, django_capture_on_commit_callbacks
):
    with cluster.unreachable():
        registry = saved(django_capture_on_commit_callbacks, organization)
    report = sync.reconcile()
    assert report.errors == {}
    assert credentials_for(secret_config(cluster), "ghcr.io/acme/api")
    registry.refresh_from_db()
    assert registry.sync_status == SyncStatus.SYNCED


def test_slow_cluster_times_out_instead_of_holding_the_request(
    cluster, organization, settings, django_capture_on_commit_callbacks
):
    settings.REGISTRY_KUBE_READ_TIMEOUT = 0.3
    settings.REGISTRY_SYNC_RETRY_DELAYS = []
    cluster.slow(3)
    started = time.monotonic()
    registry = saved(django_capture_on_commit_callbacks, organization)
    elapsed = time.monotonic() - started
    cluster.slow(0)
    registry.refresh_from_db()
    assert registry.sync_error == "The cluster did not answer in time."
    assert elapsed < 2


def test_forbidden_by_rbac_is_reported_in_plain_words(
    cluster, organization, django_capture_on_commit_callbacks
):
    cluster.fail_all(403, path_contains="/secrets")
    registry = saved(django_capture_on_commit_callbacks, organization)
    registry.refresh_from_db()
    assert registry.sync_status == SyncStatus.ERROR
    assert registry.sync_error == "Forbidden by RBAC: the platform may not list secrets."


def test_server_errors_are_reported_and_healed_later(
    cluster, organization, settings, django_capture_on_commit_callbacks
):
    settings.REGISTRY_SYNC_RETRY_DELAYS = []
    cluster.fail_next(1, status=500)
    registry = saved(django_capture_on_commit_callbacks, organization)
    registry.refresh_from_db()
    assert "(500)" in registry.sync_error
    sync.reconcile()
    registry.refresh_from_db()
    assert registry.sync_status == SyncStatus.SYNCED


def test_missing_namespace_is_reported(cluster, django_capture_on_commit_callbacks):
    organization = OrganizationFactory(slug="ghost")
    registry = saved(django_capture_on_commit_callbacks, organization)
    registry.refresh_from_db()
    assert registry.sync_error == "Namespace “org-ghost” does not exist."
    assert cluster.get_object("namespaces", None, "org-ghost") is None


def test_missing_namespace_is_created_when_allowed_and_default_account_waited_for(
    cluster, settings, django_capture_on_commit_callbacks
):
    settings.REGISTRY_CREATE_NAMESPACES = True
    cluster.default_sa_delay = 0.2
    organization = OrganizationFactory(slug="fresh")
    registry = saved(django_capture_on_commit_callbacks, organization)
    namespace = cluster.get_object("namespaces", None, "org-fresh")
    assert namespace["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "orgsettings"
    assert pull_secrets(cluster, "org-fresh") == [SECRET]
    registry.refresh_from_db()
    assert registry.sync_status == SyncStatus.SYNCED


def test_default_account_that_never_appears_is_an_error_the_reconciler_retries(
    cluster, organization, settings, django_capture_on_commit_callbacks
):
    settings.REGISTRY_SYNC_RETRY_DELAYS = [0.05]
    cluster.delete_object("serviceaccounts", "org-acme", "default")
    registry = saved(django_capture_on_commit_callbacks, organization)
    registry.refresh_from_db()
    assert registry.sync_error == "Waiting for ServiceAccount “default” in “org-acme”."
    assert secret_config(cluster) is not None
    cluster.put_object(
        {
            "kind": "ServiceAccount",
            "apiVersion": "v1",
            "metadata": {"name": "default", "namespace": "org-acme"},
        }
    )
    sync.reconcile()
    assert pull_secrets(cluster) == [SECRET]


def test_secret_of_the_same_name_not_managed_by_us_is_left_alone(
    cluster, organization, django_capture_on_commit_callbacks
):
    cluster.put_object(
        {
            "kind": "Secret",
            "apiVersion": "v1",
            "type": "Opaque",
            "metadata": {"name": SECRET, "namespace": "org-acme"},
            "data": {"x": "eQ=="},
        }
    )
    registry = saved(django_capture_on_commit_callbacks, organization)
    registry.refresh_from_db()
    assert "does not manage already exists" in registry.sync_error
    assert cluster.get_object("secrets", "org-acme", SECRET)["data"] == {"x": "eQ=="}


def test_sync_errors_never_contain_credentials(
    cluster, organization, settings, django_capture_on_commit_callbacks
):
    settings.REGISTRY_SYNC_RETRY_DELAYS = []
    errors = []
    for switch in (
        lambda: cluster.fail_next(1, status=422),
        lambda: cluster.fail_next(1, status=500),
        lambda: cluster.fail_all(403),
    ):
        switch()
        registry = saved(
            django_capture_on_commit_callbacks,
            organization,
            display_name=f"R{len(errors)}",
            address=f"r{len(errors)}.example.com",
            password="leak-canary-8842",
        )
        cluster.fail_all(None)
        registry.refresh_from_db()
        errors.append(registry.sync_error)
    assert all(errors)
    assert not any("leak-canary-8842" in error for error in errors)


def test_no_cluster_configured_marks_rows_and_never_connects(
    settings, fake_kube, organization, django_capture_on_commit_callbacks
):
    settings.KUBECONFIG = ""
    registry = saved(django_capture_on_commit_callbacks, organization)
    report = sync.reconcile()
    registry.refresh_from_db()
    assert registry.sync_status == SyncStatus.NOT_SYNCED
    assert report.errors == {"acme": "no cluster configured"}
    assert fake_kube.requests == []


def test_no_cluster_configured_is_said_in_the_table(client, settings, organization, owner):
    settings.KUBECONFIG = ""
    RegistryFactory(organization=organization)
    client.force_login(owner)
    assert (
        "No cluster configured"
        in client.get(reverse("registries:list", kwargs={"slug": "acme"})).text
    )


# Organizations moving and leaving


def test_namespace_move_moves_the_secret_and_cleans_the_old_namespace(
    cluster, organization, django_capture_on_commit_callbacks
):
    add_foreign_pull_secret(cluster)
    saved(django_capture_on_commit_callbacks, organization)
    cluster.add_namespace("team-acme")
    with django_capture_on_commit_callbacks(execute=True):
        organization.namespace = "team-acme"
        organization.save()
    assert credentials_for(secret_config(cluster, "team-acme"), "ghcr.io/acme/app")
    assert pull_secrets(cluster, "team-acme") == [SECRET]
    assert cluster.get_object("secrets", "org-acme", SECRET) is None
    assert pull_secrets(cluster, "org-acme") == ["added-by-cluster-admin"]


def test_organization_delete_removes_the_secret_and_only_our_reference(
    cluster, organization, django_capture_on_commit_callbacks
):
    add_foreign_pull_secret(cluster)
    saved(django_capture_on_commit_callbacks, organization)
    cluster.put_object(
        {
            "kind": "Secret",
            "apiVersion": "v1",
            "type": "Opaque",
            "metadata": {"name": "app-config", "namespace": "org-acme"},
            "data": {},
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        organization.delete()
    assert cluster.get_object("secrets", "org-acme", SECRET) is None
    assert cluster.get_object("secrets", "org-acme", "app-config") is not None
    assert pull_secrets(cluster) == ["added-by-cluster-admin"]


def test_reconcile_removes_secrets_of_organizations_deleted_while_the_cluster_was_down(
    cluster, organization, django_capture_on_commit_callbacks
):
    saved(django_capture_on_commit_callbacks, organization)
    with cluster.unreachable(), django_capture_on_commit_callbacks(execute=True):
        organization.delete()
    report = sync.reconcile()
    assert report.removed == [f"org-acme/{SECRET}"]
    assert cluster.get_object("secrets", "org-acme", SECRET) is None
    assert pull_secrets(cluster) == []


# The reconciler


def test_reconcile_recreates_a_deleted_secret(
    cluster, organization, django_capture_on_commit_callbacks
):
    saved(django_capture_on_commit_callbacks, organization)
    cluster.delete_object("secrets", "org-acme", SECRET)
    sync.reconcile()
    assert credentials_for(secret_config(cluster), "ghcr.io/x/y")


def test_reconcile_restores_a_removed_service_account_reference(
    cluster, organization, django_capture_on_commit_callbacks
):
    saved(django_capture_on_commit_callbacks, organization)
    sa = cluster.get_object("serviceaccounts", "org-acme", "default")
    sa["imagePullSecrets"] = [{"name": "someone-elses"}]
    cluster.put_object(sa)
    sync.reconcile()
    assert pull_secrets(cluster) == ["someone-elses", SECRET]


def test_reconcile_rewrites_an_edited_secret(
    cluster, organization, django_capture_on_commit_callbacks
):
    saved(django_capture_on_commit_callbacks, organization)
    secret = cluster.get_object("secrets", "org-acme", SECRET)
    secret["data"][".dockerconfigjson"] = "eyJhdXRocyI6IHt9fQ=="
    cluster.put_object(secret)
    sync.reconcile()
    assert secret_config(cluster)["auths"]["ghcr.io"]["password"] == "ghp_secret_1"


def test_unchanged_second_pass_writes_nothing(
    cluster, organization, django_capture_on_commit_callbacks
):
    saved(django_capture_on_commit_callbacks, organization)
    sync.reconcile()
    cluster.clear_requests()
    report = sync.reconcile()
    assert report.writes == 0
    assert cluster.writes() == []


def test_reconcile_makes_the_same_number_of_list_calls_for_any_number_of_organizations(
    cluster, django_capture_on_commit_callbacks
):
    def requests_for_a_pass_over(count: int) -> int:
        for index in range(count):
            organization = OrganizationFactory()
            cluster.add_namespace(organization.namespace)
            RegistryFactory(organization=organization, address=f"r{index}.example.com")
        sync.reconcile()
        cluster.clear_requests()
        sync.reconcile()
        return len(cluster.requests)

    assert requests_for_a_pass_over(1) == requests_for_a_pass_over(20) == 3


def test_reconcile_of_one_organization_leaves_the_others_alone(
    cluster, organization, django_capture_on_commit_callbacks
):
    other = OrganizationFactory(slug="other")
    cluster.add_namespace("org-other")
    RegistryFactory(organization=organization)
    RegistryFactory(organization=other)
    sync.reconcile("acme")
    assert secret_config(cluster) is not None
    assert secret_config(cluster, "org-other") is None


# In the background


@pytest.mark.django_db(transaction=True)
def test_saves_are_pushed_in_the_background_and_rows_pending_meanwhile(
    settings, fake_kube, kubeconfig_path
):
    settings.KUBECONFIG = str(kubeconfig_path)
    settings.REGISTRY_SYNC_IN_BACKGROUND = True
    fake_kube.add_namespace("org-bg")
    fake_kube.slow(0.3)
    organization = Organization.objects.create(slug="bg", name="Background")
    registry = create(organization)
    assert ContainerRegistry.objects.get(pk=registry.pk).sync_status == SyncStatus.PENDING
    dispatch.wait_until_idle()
    fake_kube.slow(0)
    assert ContainerRegistry.objects.get(pk=registry.pk).sync_status == SyncStatus.SYNCED
    assert kube.configuration_source() == "kubeconfig"


def test_pending_rows_make_the_table_poll_until_settled(client, organization, owner):
    registry = RegistryFactory(organization=organization, sync_status=SyncStatus.PENDING)
    client.force_login(owner)
    url = reverse("registries:list", kwargs={"slug": "acme"})
    assert 'hx-trigger="every 2s"' in client.get(url, HTTP_HX_REQUEST="true").text
    ContainerRegistry.objects.filter(pk=registry.pk).update(sync_status=SyncStatus.SYNCED)
    assert 'hx-trigger="every 2s"' not in client.get(url, HTTP_HX_REQUEST="true").text
