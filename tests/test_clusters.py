"""Clusters as data: adding them, placing organizations on one or more, removing a placement,
and delivery to two clusters at once (two fake API servers)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from delivery import kube
from delivery.dockerconfig import decode_config
from delivery.models import Cluster, DeliveryTarget, TargetStatus
from delivery.reconcile import reconcile
from delivery.status import organization_delivery
from registries.services import registry_create

from .deliveries import add_fake_cluster, queued, run_tasks
from .factories import OrganizationFactory
from .fakekube import FakeKubeServer

pytestmark = pytest.mark.django_db

SECRET = "org-registry-credentials"


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def second_fake():
    server = FakeKubeServer(default_sa_delay=None).start()
    yield server
    server.stop()


@pytest.fixture
def two_clusters(cluster, second_fake, tmp_path, organization):
    """The organization on "main" (the fake_kube fixture) and "eu-west" (a second server)."""
    second_fake.add_namespace("org-acme")
    eu = add_fake_cluster(second_fake, tmp_path, "eu-west", default=False)
    return cluster, second_fake, eu


def harbor(organization):
    return registry_create(
        organization,
        actor=None,
        display_name="Harbor",
        address="harbor.example.com",
        auth_type="BasicAuth",
        username="robot",
        password="harbor-pw-1",
    )


def pull_secrets(fake, namespace="org-acme"):
    sa = fake.get_object("serviceaccounts", namespace, "default") or {}
    return [ref["name"] for ref in sa.get("imagePullSecrets", [])]


# The commands


def test_add_cluster_stores_the_kubeconfig_encrypted_and_can_make_it_the_default(
    fake_kube, kubeconfig_path
):
    output = run("add_cluster", "eu-west", "--kubeconfig", str(kubeconfig_path), "--default")
    cluster = Cluster.objects.get()
    assert (cluster.name, cluster.connection, cluster.is_default) == ("eu-west", "kubeconfig", True)
    assert cluster.kubeconfig == kubeconfig_path.read_text()
    assert "the default for new organizations" in output
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT kubeconfig FROM delivery_cluster")
        stored = cursor.fetchone()[0]
    assert "fake-token" not in (
        stored if isinstance(stored, str) else bytes(stored).decode("latin-1")
    )


def test_a_new_default_cluster_takes_over_from_the_old_one(fake_kube, kubeconfig_path):
    run("add_cluster", "one", "--kubeconfig", str(kubeconfig_path), "--default")
    run("add_cluster", "two", "--in-cluster", "--default")
    assert list(Cluster.objects.filter(is_default=True).values_list("name", flat=True)) == ["two"]


def test_add_cluster_names_a_missing_kubeconfig_file(tmp_path):
    with pytest.raises(CommandError, match=f"No kubeconfig file at {tmp_path}/nope.yaml"):
        run("add_cluster", "eu", "--kubeconfig", str(tmp_path / "nope.yaml"))
    assert not Cluster.objects.exists()


def test_add_cluster_names_an_unreadable_kubeconfig_file(tmp_path):
    with pytest.raises(
        CommandError, match=f"Cannot read the kubeconfig {tmp_path}: Is a directory"
    ):
        run("add_cluster", "eu", "--kubeconfig", str(tmp_path))
    binary = tmp_path / "kubeconfig.gz"
    binary.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe")
    with pytest.raises(CommandError, match=r"kubeconfig\.gz: not a text file"):
        run("add_cluster", "eu", "--kubeconfig", str(binary))


def test_add_cluster_refuses_a_file_that_is_not_a_kubeconfig(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("password: hunter2-secret\n")
    with pytest.raises(CommandError, match="not usable: not a kubeconfig") as refused:
        run("add_cluster", "eu", "--kubeconfig", str(path))
    assert "hunter2" not in str(refused.value)


def test_add_cluster_needs_a_way_to_connect():
    with pytest.raises(CommandError, match="one of the arguments --kubeconfig --in-cluster"):
        run("add_cluster", "eu")


def test_add_cluster_refuses_a_bad_or_taken_name(kubeconfig_path):
    with pytest.raises(CommandError, match="name"):
        run("add_cluster", "EU West", "--in-cluster")
    run("add_cluster", "eu", "--in-cluster")
    with pytest.raises(CommandError, match="A cluster named “eu” already exists"):
        run("add_cluster", "eu", "--in-cluster")


def test_create_org_places_the_organization_on_the_default_cluster(cluster):
    cluster.add_namespace("org-newco")
    run("create_org", "newco", "--name", "NewCo")
    target = DeliveryTarget.objects.get(organization__slug="newco")
    assert (target.cluster.name, target.namespace) == ("main", "org-newco")
    run_tasks()
    assert cluster.get_object("secrets", "org-newco", SECRET) is not None


def test_create_org_without_any_cluster_places_it_nowhere(organization):
    run("create_org", "newco", "--name", "NewCo")
    assert not DeliveryTarget.objects.exists()
    assert queued() == []


def test_create_org_with_kubeconfig_and_no_cluster_places_it_on_the_environment_cluster(
    fake_kube, kubeconfig_path, settings
):
    settings.KUBECONFIG = str(kubeconfig_path)
    fake_kube.add_namespace("org-newco")
    run("create_org", "newco", "--name", "NewCo")
    target = DeliveryTarget.objects.get()
    assert (target.cluster.name, target.cluster.connection) == ("default", "environment")
    run_tasks()
    assert fake_kube.get_object("secrets", "org-newco", SECRET) is not None


def test_place_org_delivers_to_another_namespace_there(
    cluster, organization, second_fake, tmp_path
):
    eu = add_fake_cluster(second_fake, tmp_path, "eu-west", default=False, place_existing=False)
    second_fake.add_namespace("acme-prod")
    output = run("place_org", "acme", "eu-west", "--namespace", "acme-prod")
    assert "Placed acme on eu-west, namespace acme-prod." in output
    assert DeliveryTarget.objects.get(cluster=eu).namespace == "acme-prod"
    run_tasks()
    assert second_fake.get_object("secrets", "acme-prod", SECRET) is not None


def test_place_org_names_an_unknown_cluster_or_organization(cluster, organization):
    with pytest.raises(CommandError, match="No cluster named “mars” \\(clusters: main\\)"):
        run("place_org", "acme", "mars")
    with pytest.raises(CommandError, match="No organization with slug “nope”"):
        run("place_org", "nope", "main")


def test_place_org_refuses_a_bad_namespace(cluster, organization, second_fake, tmp_path):
    add_fake_cluster(second_fake, tmp_path, "eu-west", default=False, place_existing=False)
    with pytest.raises(CommandError, match="namespace"):
        run("place_org", "acme", "eu-west", "--namespace", "Not_A_Namespace")
    assert DeliveryTarget.objects.count() == 1


def test_unplace_org_of_an_organization_not_placed_there_fails(
    cluster, organization, second_fake, tmp_path
):
    add_fake_cluster(second_fake, tmp_path, "eu-west", default=False, place_existing=False)
    with pytest.raises(CommandError, match="acme is not placed on eu-west"):
        run("unplace_org", "acme", "eu-west")


# Two clusters


def test_an_organization_on_two_clusters_gets_identical_secrets(two_clusters, organization):
    main, eu_fake, _ = two_clusters
    harbor(organization)
    run_tasks()
    first = main.get_object("secrets", "org-acme", SECRET)["data"]
    second = eu_fake.get_object("secrets", "org-acme", SECRET)["data"]
    assert first == second
    assert (
        decode_config(first[".dockerconfigjson"])["auths"]["harbor.example.com"]["password"]
        == "harbor-pw-1"
    )
    assert pull_secrets(main) == pull_secrets(eu_fake) == [SECRET]


def test_with_one_cluster_down_the_other_is_synced_and_the_row_names_the_failing_one(
    two_clusters, organization
):
    main, eu_fake, _ = two_clusters
    with eu_fake.unreachable():
        registry = harbor(organization)
        run_tasks()
    assert main.get_object("secrets", "org-acme", SECRET) is not None
    state = organization_delivery(organization).for_registry(registry.pk, registry.version)
    assert state.status == "error"
    assert [t.cluster.name for t in state.holding] == ["main"]
    assert state.error == "eu-west: The cluster is unreachable."
    # Once it is back, one reconcile pass heals it.
    report = reconcile()
    assert report.errors == {}
    state = organization_delivery(organization).for_registry(registry.pk, registry.version)
    assert state.status == "synced"
    assert eu_fake.get_object("secrets", "org-acme", SECRET) is not None


def test_one_cluster_down_does_not_stop_the_reconciler_on_the_other(two_clusters, organization):
    main, eu_fake, _ = two_clusters
    main.delete_object("secrets", "org-acme", SECRET)
    with eu_fake.unreachable():
        report = reconcile()
    assert list(report.errors) == ["acme on eu-west"]
    assert main.get_object("secrets", "org-acme", SECRET) is not None


def test_unplacing_leaves_nothing_of_ours_and_everything_of_others(two_clusters, organization):
    main, eu_fake, eu = two_clusters
    harbor(organization)
    run_tasks()
    account = eu_fake.get_object("serviceaccounts", "org-acme", "default")
    account["imagePullSecrets"].insert(0, {"name": "theirs"})
    eu_fake.put_object(account)
    eu_fake.put_object(
        {
            "kind": "Secret",
            "apiVersion": "v1",
            "type": "Opaque",
            "metadata": {"name": "theirs", "namespace": "org-acme"},
            "data": {},
        }
    )

    output = run("unplace_org", "acme", "eu-west")
    assert "Removing acme from eu-west" in output
    assert DeliveryTarget.objects.get(cluster=eu).status == TargetStatus.REMOVING
    run_tasks()

    assert eu_fake.get_object("secrets", "org-acme", SECRET) is None
    assert eu_fake.get_object("secrets", "org-acme", "theirs") is not None
    assert pull_secrets(eu_fake) == ["theirs"]
    assert not DeliveryTarget.objects.filter(cluster=eu).exists()
    # The other cluster keeps its delivery.
    assert main.get_object("secrets", "org-acme", SECRET) is not None


def test_unplacing_while_the_cluster_is_down_is_finished_by_the_reconciler(
    two_clusters, organization
):
    _, eu_fake, eu = two_clusters
    run_tasks()
    with eu_fake.unreachable():
        run("unplace_org", "acme", "eu-west")
        run_tasks()
    assert DeliveryTarget.objects.get(cluster=eu).status == TargetStatus.REMOVING
    reconcile()
    assert eu_fake.get_object("secrets", "org-acme", SECRET) is None
    assert not DeliveryTarget.objects.filter(cluster=eu).exists()


def test_each_cluster_gets_its_own_client_rebuilt_when_its_configuration_changes(
    two_clusters, tmp_path
):
    from delivery.services import cluster_update

    main, _, eu = two_clusters
    first = kube.connect(main.row)
    assert kube.connect(main.row) is first
    assert kube.connect(eu) is not first
    other = main.write_kubeconfig(tmp_path / "rotated").read_text()
    updated = cluster_update(main.row, kubeconfig=other + "\n")
    assert updated.config_version == main.row.config_version + 1
    assert kube.connect(updated) is not first


def test_the_reconciler_makes_four_list_calls_per_cluster(two_clusters, organization):
    main, eu_fake, _ = two_clusters
    for _ in range(3):
        extra = OrganizationFactory()
        main.add_namespace(extra.namespace)
        eu_fake.add_namespace(extra.namespace)
    reconcile()
    main.clear_requests()
    eu_fake.clear_requests()
    reconcile()
    # Namespaces, Secrets, ServiceAccounts, and pull health's pending pods.
    assert (len(main.requests), len(eu_fake.requests)) == (4, 4)
