"""Registries reach every cluster an organization is placed on: the Secret, the ServiceAccount
references, each target's state, and healing by the reconciler. Deliveries run through the real
task queue (the worker run inline), and everything goes over HTTP to the fake API server through
the official client."""

from __future__ import annotations

import pytest
from django.db import transaction

from delivery.dockerconfig import decode_config
from delivery.models import DeliveryTarget, TargetStatus
from delivery.reconcile import reconcile
from orgsettings.models import Organization
from registries.models import AuthType, ContainerRegistry
from registries.services import registry_create, registry_delete, registry_update

from .deliveries import queued, run_tasks
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


def saved(organization, **overrides):
    registry = create(organization, **overrides)
    run_tasks()
    return registry


def target(organization="acme") -> DeliveryTarget:
    return DeliveryTarget.objects.get(organization__slug=organization)


# After a save


def test_create_reaches_the_cluster_with_an_entry_the_kubelet_matches(cluster, organization):
    saved(organization)
    entry = credentials_for(secret_config(cluster), "ghcr.io/acme/api:1.4")[0]
    assert (entry["username"], entry["password"]) == ("octocat", "ghp_secret_1")


def test_secret_is_a_dockerconfigjson_labelled_as_ours(cluster, organization):
    saved(organization)
    secret = cluster.get_object("secrets", "org-acme", SECRET)
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "orgsettings",
        "orgsettings.io/organization": "acme",
    }


def test_all_registries_of_the_organization_share_one_secret(cluster, organization):
    saved(organization)
    saved(
        organization, display_name="Hub", address="docker.io", username="acme", password="dckr_pat"
    )
    config = secret_config(cluster)
    assert sorted(config["auths"]) == ["docker.io", "ghcr.io"]
    assert credentials_for(config, "acme/private")[0]["password"] == "dckr_pat"


def test_token_registry_is_pushed_with_the_placeholder_username(cluster, organization):
    saved(
        organization,
        address="registry.gitlab.com",
        auth_type=AuthType.TOKEN,
        username="",
        password=None,
        token="glpat-1",
    )
    entry = secret_config(cluster)["auths"]["registry.gitlab.com"]
    assert (entry["username"], entry["password"]) == ("token", "glpat-1")


def test_default_service_account_references_the_secret(cluster, organization):
    saved(organization)
    assert pull_secrets(cluster) == [SECRET]


def test_target_holds_the_registry_version_with_time_after_the_push(cluster, organization):
    registry = saved(organization)
    state = target()
    assert state.status == TargetStatus.SYNCED
    assert state.synced_at is not None
    assert state.error == ""
    assert state.holds(registry.pk, registry.version)
    assert len(state.delivered_digest) == 64


def test_save_marks_the_target_pending_until_the_worker_ran(cluster, organization):
    run_tasks()
    create(organization)
    assert target().status == TargetStatus.PENDING
    run_tasks()
    assert target().status == TargetStatus.SYNCED


def test_edit_rewrites_the_secret(cluster, organization):
    registry = saved(organization)
    registry_update(registry, actor=None, expected_version=registry.version, password="ghp_rotated")
    run_tasks()
    assert secret_config(cluster)["auths"]["ghcr.io"]["password"] == "ghp_rotated"


def test_changing_the_address_replaces_the_entry(cluster, organization):
    registry = saved(organization)
    registry_update(registry, actor=None, expected_version=registry.version, address="ghcr.io/acme")
    run_tasks()
    assert list(secret_config(cluster)["auths"]) == ["ghcr.io/acme"]


def test_deleting_the_last_registry_leaves_the_secret_with_no_entries(cluster, organization):
    registry = saved(organization)
    registry_delete(registry, actor=None)
    run_tasks()
    assert secret_config(cluster) == {"auths": {}}
    assert pull_secrets(cluster) == [SECRET]


def test_new_organization_is_placed_on_the_default_cluster_and_gets_an_empty_secret(cluster):
    cluster.add_namespace("org-newco")
    organization = OrganizationFactory(slug="newco")
    assert organization.delivery_targets.get().cluster == cluster.row
    run_tasks()
    assert secret_config(cluster, "org-newco") == {"auths": {}}
    assert pull_secrets(cluster, "org-newco") == [SECRET]


# The queue


def test_rolled_back_transaction_queues_and_pushes_nothing(cluster, organization):
    run_tasks()
    cluster.clear_requests()

    def create_then_fail():
        with transaction.atomic():
            create(organization)
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert queued() == []
    assert run_tasks() == 0
    assert cluster.requests == []
    assert not ContainerRegistry.objects.exists()


def test_many_saves_while_a_delivery_waits_make_one_delivery(cluster, organization):
    run_tasks()
    for index in range(5):
        create(organization, display_name=f"R{index}", address=f"r{index}.example.com")
    assert len(queued()) == 1
    assert run_tasks() == 1
    assert sorted(secret_config(cluster)["auths"]) == [f"r{i}.example.com" for i in range(5)]


def test_retriable_trouble_is_retried_later_by_a_new_task_not_by_sleeping(
    cluster, organization, settings
):
    run_tasks()
    cluster.delete_object("serviceaccounts", "org-acme", "default")
    create(organization)
    assert run_tasks() == 1
    assert target().error == "Waiting for ServiceAccount “default” in “org-acme”."
    (retry,) = queued()
    assert retry.args_kwargs["kwargs"] == {"organization_id": organization.pk, "attempt": 1}
    assert retry.run_after > retry.enqueued_at
    # Not due yet: a worker passing by now leaves it queued.
    assert run_tasks() == 0


def test_a_save_brings_a_waiting_retry_forward(cluster, organization):
    run_tasks()
    cluster.delete_object("serviceaccounts", "org-acme", "default")
    create(organization)
    run_tasks()
    cluster.put_object(
        {
            "kind": "ServiceAccount",
            "apiVersion": "v1",
            "metadata": {"name": "default", "namespace": "org-acme"},
        }
    )
    create(organization, display_name="Hub", address="docker.io")
    assert len(queued()) == 1
    assert run_tasks() == 1
    assert pull_secrets(cluster) == [SECRET]
    assert target().status == TargetStatus.SYNCED


def test_permanent_trouble_is_not_retried(cluster, organization):
    run_tasks()
    cluster.fail_all(403, path_contains="/secrets")
    create(organization)
    run_tasks()
    cluster.fail_all(None)
    assert target().error == "Forbidden by RBAC: the platform may not list secrets."
    assert queued() == []


def test_existing_pull_secrets_survive_every_operation(cluster, organization):
    add_foreign_pull_secret(cluster)
    registry = saved(organization)
    assert pull_secrets(cluster) == ["added-by-cluster-admin", SECRET]
    registry_update(registry, actor=None, expected_version=registry.version, username="other")
    run_tasks()
    registry_delete(registry, actor=None)
    run_tasks()
    reconcile()
    assert pull_secrets(cluster) == ["added-by-cluster-admin", SECRET]
    organization.delete()
    run_tasks()
    assert pull_secrets(cluster) == ["added-by-cluster-admin"]


def test_concurrent_service_account_edit_is_resolved_by_retrying(cluster, organization):
    cluster.conflict_next(
        1,
        kind="serviceaccounts",
        mutate=lambda sa: sa.setdefault("imagePullSecrets", []).append(
            {"name": "written-meanwhile"}
        ),
    )
    saved(organization)
    assert pull_secrets(cluster) == ["written-meanwhile", SECRET]
    assert target().status == TargetStatus.SYNCED


def test_concurrent_secret_edit_is_resolved_by_retrying(cluster, organization):
    registry = saved(organization)
    cluster.conflict_next(1, kind="secrets")
    registry_update(
        registry, actor=None, expected_version=registry.version, password="after-conflict"
    )
    run_tasks()
    assert secret_config(cluster)["auths"]["ghcr.io"]["password"] == "after-conflict"


# When the cluster misbehaves


def test_cluster_down_keeps_the_save_and_the_target_names_the_error(cluster, organization):
    with cluster.unreachable():
        registry = saved(organization)
    registry.refresh_from_db()
    assert registry.password == "ghp_secret_1"
    state = target()
    assert (state.status, state.error, state.error_kind) == (
        TargetStatus.ERROR,
        "The cluster is unreachable.",
        "unreachable",
    )
    assert not state.holds(registry.pk, registry.version)


def test_reconcile_heals_what_a_dead_cluster_missed(cluster, organization):
    with cluster.unreachable():
        registry = saved(organization)
    report = reconcile()
    assert report.errors == {}
    assert credentials_for(secret_config(cluster), "ghcr.io/acme/api")
    assert target().holds(registry.pk, registry.version)


def test_slow_cluster_times_out(cluster, organization, settings):
    settings.REGISTRY_KUBE_READ_TIMEOUT = 0.3
    run_tasks()
    cluster.slow(1)
    try:
        saved(organization)
    finally:
        cluster.slow(0)
    assert target().error == "The cluster did not answer in time."


def test_server_errors_are_reported_and_healed_later(cluster, organization):
    run_tasks()
    cluster.fail_next(1, status=500)
    saved(organization)
    assert "(500)" in target().error
    reconcile()
    assert target().status == TargetStatus.SYNCED


def test_missing_namespace_is_reported(cluster):
    organization = OrganizationFactory(slug="ghost")
    saved(organization)
    assert target("ghost").error == "Namespace “org-ghost” does not exist."
    assert cluster.get_object("namespaces", None, "org-ghost") is None


def test_missing_namespace_is_created_when_allowed(cluster, settings):
    settings.REGISTRY_CREATE_NAMESPACES = True
    organization = OrganizationFactory(slug="fresh")
    saved(organization)
    namespace = cluster.get_object("namespaces", None, "org-fresh")
    assert namespace["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "orgsettings"
    assert cluster.get_object("secrets", "org-fresh", SECRET) is not None


def test_default_account_that_appears_later_is_referenced_by_the_reconciler(cluster, organization):
    cluster.delete_object("serviceaccounts", "org-acme", "default")
    saved(organization)
    assert target().error == "Waiting for ServiceAccount “default” in “org-acme”."
    assert secret_config(cluster) is not None
    cluster.put_object(
        {
            "kind": "ServiceAccount",
            "apiVersion": "v1",
            "metadata": {"name": "default", "namespace": "org-acme"},
        }
    )
    reconcile()
    assert pull_secrets(cluster) == [SECRET]
    assert target().status == TargetStatus.SYNCED


def test_secret_of_the_same_name_not_managed_by_us_is_left_alone(cluster, organization):
    cluster.put_object(
        {
            "kind": "Secret",
            "apiVersion": "v1",
            "type": "Opaque",
            "metadata": {"name": SECRET, "namespace": "org-acme"},
            "data": {"x": "eQ=="},
        }
    )
    saved(organization)
    assert "does not manage already exists" in target().error
    assert cluster.get_object("secrets", "org-acme", SECRET)["data"] == {"x": "eQ=="}


def test_delivery_errors_never_contain_credentials(cluster, organization):
    errors = []
    for index, switch in enumerate(
        (
            lambda: cluster.fail_next(1, status=422),
            lambda: cluster.fail_next(1, status=500),
            lambda: cluster.fail_all(403),
        )
    ):
        run_tasks()
        switch()
        saved(
            organization,
            display_name=f"R{index}",
            address=f"r{index}.example.com",
            password="leak-canary-8842",
        )
        cluster.fail_all(None)
        errors.append(target().error)
    assert all(errors)
    assert not any("leak-canary-8842" in error for error in errors)


def test_without_a_cluster_nothing_is_queued_and_nothing_connects(
    settings, fake_kube, organization
):
    saved(organization)
    assert not DeliveryTarget.objects.exists()
    assert queued() == []
    assert fake_kube.requests == []


# Organizations moving and leaving


def test_namespace_move_moves_the_secret_and_cleans_the_old_namespace(cluster, organization):
    add_foreign_pull_secret(cluster)
    saved(organization)
    cluster.add_namespace("team-acme")
    organization.namespace = "team-acme"
    organization.save()
    run_tasks()
    assert target().namespace == "team-acme"
    assert credentials_for(secret_config(cluster, "team-acme"), "ghcr.io/acme/app")
    assert pull_secrets(cluster, "team-acme") == [SECRET]
    assert cluster.get_object("secrets", "org-acme", SECRET) is None
    assert pull_secrets(cluster, "org-acme") == ["added-by-cluster-admin"]


def test_organization_delete_removes_the_secret_and_only_our_reference(cluster, organization):
    add_foreign_pull_secret(cluster)
    saved(organization)
    cluster.put_object(
        {
            "kind": "Secret",
            "apiVersion": "v1",
            "type": "Opaque",
            "metadata": {"name": "app-config", "namespace": "org-acme"},
            "data": {},
        }
    )
    organization.delete()
    run_tasks()
    assert cluster.get_object("secrets", "org-acme", SECRET) is None
    assert cluster.get_object("secrets", "org-acme", "app-config") is not None
    assert pull_secrets(cluster) == ["added-by-cluster-admin"]


def test_reconcile_removes_secrets_of_organizations_deleted_while_the_cluster_was_down(
    cluster, organization
):
    saved(organization)
    with cluster.unreachable():
        organization.delete()
        run_tasks()
    report = reconcile()
    assert report.removed == [f"org-acme/{SECRET}"]
    assert cluster.get_object("secrets", "org-acme", SECRET) is None
    assert pull_secrets(cluster) == []


# The reconciler


def test_reconcile_recreates_a_deleted_secret(cluster, organization):
    saved(organization)
    cluster.delete_object("secrets", "org-acme", SECRET)
    reconcile()
    assert credentials_for(secret_config(cluster), "ghcr.io/x/y")


def test_reconcile_restores_a_removed_service_account_reference(cluster, organization):
    saved(organization)
    sa = cluster.get_object("serviceaccounts", "org-acme", "default")
    sa["imagePullSecrets"] = [{"name": "someone-elses"}]
    cluster.put_object(sa)
    reconcile()
    assert pull_secrets(cluster) == ["someone-elses", SECRET]


def test_reconcile_rewrites_an_edited_secret(cluster, organization):
    saved(organization)
    secret = cluster.get_object("secrets", "org-acme", SECRET)
    secret["data"][".dockerconfigjson"] = "eyJhdXRocyI6IHt9fQ=="
    cluster.put_object(secret)
    reconcile()
    assert secret_config(cluster)["auths"]["ghcr.io"]["password"] == "ghp_secret_1"


def test_unchanged_second_pass_writes_nothing(cluster, organization):
    saved(organization)
    reconcile()
    cluster.clear_requests()
    report = reconcile()
    assert report.writes == 0
    assert cluster.writes() == []


def test_in_sync_pass_decrypts_nothing(cluster, organization, monkeypatch):
    saved(organization)
    reconcile()
    decrypted = []
    field = ContainerRegistry._meta.get_field("password")
    original = type(field).from_db_value
    monkeypatch.setattr(
        type(field),
        "from_db_value",
        lambda self, value, *args: (
            (decrypted.append(self.name) if self.model is ContainerRegistry else None)
            or original(self, value, *args)
        ),
    )
    report = reconcile()
    assert report.in_sync == 1
    assert decrypted == []


def test_reconcile_makes_the_same_number_of_list_calls_for_any_number_of_organizations(cluster):
    def requests_for_a_pass_over(count: int) -> list[str]:
        for index in range(count):
            organization = OrganizationFactory()
            cluster.add_namespace(organization.namespace)
            RegistryFactory(organization=organization, address=f"r{index}.example.com")
        reconcile()
        cluster.clear_requests()
        reconcile()
        return sorted(r.path for r in cluster.requests)

    # Namespaces, our Secrets, the ServiceAccounts; then pull health's pending pods (their
    # ReplicaSets only when some pod cannot pull).
    assert (
        requests_for_a_pass_over(1)
        == requests_for_a_pass_over(20)
        == ["/api/v1/namespaces", "/api/v1/pods", "/api/v1/secrets", "/api/v1/serviceaccounts"]
    )


def test_reconcile_lists_in_pages(cluster, settings):
    settings.DELIVERY_LIST_PAGE_SIZE = 2
    for _ in range(5):
        organization = OrganizationFactory()
        cluster.add_namespace(organization.namespace)
    reconcile()
    cluster.clear_requests()
    report = reconcile()
    assert report.in_sync == 5
    assert cluster.count("GET", "/secrets") == 3


def test_reconcile_of_one_organization_leaves_the_others_alone(cluster, organization):
    other = OrganizationFactory(slug="other")
    cluster.add_namespace("org-other")
    RegistryFactory(organization=organization)
    RegistryFactory(organization=other)
    reconcile("acme")
    assert secret_config(cluster) is not None
    assert secret_config(cluster, "org-other") is None


def test_reconcile_with_a_target_saved_meanwhile_keeps_it_pending(cluster, organization):
    saved(organization)
    registry = create(organization, display_name="Hub", address="docker.io")
    assert target().status == TargetStatus.PENDING
    # The pass read the target before this save; a save during the pass bumps changed_at.
    DeliveryTarget.objects.filter(pk=target().pk).update(changed_at=target().changed_at)
    reconcile()
    assert target().holds(registry.pk, registry.version)


def test_organizations_without_registries_count_as_in_sync(cluster):
    organization = Organization.objects.create(slug="empty", name="Empty")
    cluster.add_namespace(organization.namespace)
    run_tasks()
    assert target("empty").status == TargetStatus.SYNCED


# Runs left RUNNING by a killed worker


def _claimed_by_a_dead_worker(organization, *, minutes_ago: float, worker: str):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    run_tasks()
    create(organization)
    run = DBTaskResult.objects.get(status="READY")
    DBTaskResult.objects.filter(pk=run.pk).update(
        status="RUNNING",
        started_at=timezone.now() - timedelta(minutes=minutes_ago),
        worker_ids=[worker],
    )
    return run


def test_a_run_older_than_the_bound_is_put_back_and_delivered(cluster, organization):
    from delivery.tasks import recover_stale_runs

    _claimed_by_a_dead_worker(organization, minutes_ago=5, worker="elsewhere:1")
    assert target().status == TargetStatus.PENDING
    assert recover_stale_runs() == 1
    assert run_tasks() == 1
    assert target().status == TargetStatus.SYNCED


def test_a_recent_run_of_another_host_is_left_to_its_worker(cluster, organization):
    from delivery.tasks import recover_stale_runs

    _claimed_by_a_dead_worker(organization, minutes_ago=0, worker="elsewhere:1")
    assert recover_stale_runs(host="here") == 0


def test_a_worker_starting_on_a_host_recovers_that_hosts_runs_at_once(cluster, organization):
    from delivery.tasks import recover_stale_runs

    _claimed_by_a_dead_worker(organization, minutes_ago=0, worker="here:previous")
    assert recover_stale_runs(host="here") == 1
    run_tasks()
    assert target().status == TargetStatus.SYNCED


def test_the_reconciler_loop_recovers_lost_runs(cluster, organization):
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    run = _claimed_by_a_dead_worker(organization, minutes_ago=5, worker="elsewhere:1")
    call_command(
        "reconcile_registries",
        "--loop",
        "--interval",
        "0.01",
        "--passes",
        "1",
        stdout=__import__("io").StringIO(),
    )
    assert DBTaskResult.objects.get(pk=run.pk).status in ("READY", "SUCCESSFUL")
