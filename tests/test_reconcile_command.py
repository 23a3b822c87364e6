"""`manage.py reconcile_registries` as operators and their schedulers run it."""

from __future__ import annotations

import io
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from delivery.management.commands.reconcile_registries import ADVISORY_LOCK_KEY
from delivery.models import Cluster, DeliveryTarget, TargetStatus

from .factories import OrganizationFactory, RegistryFactory

pytestmark = pytest.mark.django_db


def reconcile(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("reconcile_registries", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_one_pass_reports_how_many_targets_are_in_sync(cluster, organization):
    RegistryFactory(organization=organization)
    out, _ = reconcile()
    assert "1/1 targets in sync, 2 write(s)." in out
    assert DeliveryTarget.objects.get().status == TargetStatus.SYNCED


def test_failing_targets_are_named_and_the_exit_is_non_zero(cluster, organization):
    OrganizationFactory(slug="ghost")
    with pytest.raises(CommandError, match="1 target"):
        _, err = reconcile()
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("reconcile_registries", stdout=io.StringIO(), stderr=err)
    assert "ghost on main: Namespace “org-ghost” does not exist." in err.getvalue()


def test_org_option_limits_the_pass_to_one_organization(cluster, organization):
    OrganizationFactory(slug="ghost")
    out, _ = reconcile("--org", "acme")
    assert "1/1 targets in sync" in out


def test_unknown_org_is_refused(cluster):
    with pytest.raises(CommandError, match="No organization with slug “nope”"):
        reconcile("--org", "nope")


def test_without_a_cluster_it_says_so(settings, organization):
    settings.KUBECONFIG = ""
    _, err = reconcile()
    assert "No cluster configured" in err


def test_kubeconfig_with_no_cluster_defined_becomes_the_default_cluster(
    fake_kube, kubeconfig_path, settings, organization
):
    settings.KUBECONFIG = str(kubeconfig_path)
    fake_kube.add_namespace("org-acme")
    out, _ = reconcile()
    cluster = Cluster.objects.get()
    assert (cluster.name, cluster.connection, cluster.is_default) == (
        "default",
        "environment",
        True,
    )
    assert "1/1 targets in sync" in out
    assert fake_kube.get_object("secrets", "org-acme", "org-registry-credentials") is not None


def test_unreadable_cluster_configuration_prints_the_real_cause(
    fake_kube, tmp_path, settings, organization
):
    settings.KUBECONFIG = str(tmp_path / "missing.yaml")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("reconcile_registries", stdout=io.StringIO(), stderr=err)
    assert f"KUBECONFIG={tmp_path / 'missing.yaml'}: no such file" in err.getvalue()


def test_broken_stored_kubeconfig_prints_the_real_cause_without_its_content(cluster, organization):
    Cluster.objects.filter(pk=cluster.row.pk).update(
        kubeconfig="clusters: [{name: x, cluster: {server: 'https://x'}}]\nusers: [token-leak-7781",
        config_version=99,
    )
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("reconcile_registries", stdout=io.StringIO(), stderr=err)
    assert (
        "Cluster main: The cluster configuration could not be read (ValueError)" in err.getvalue()
    )
    assert "not valid YAML at line" in err.getvalue()
    assert "token-leak-7781" not in err.getvalue()


def test_loop_runs_the_requested_number_of_passes(cluster, organization):
    out, _ = reconcile("--loop", "--interval", "0.01", "--passes", "2")
    assert out.count("targets in sync") == 2


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="advisory locks are a PostgreSQL feature"
)
def test_loop_stands_by_while_another_replica_holds_the_lock_then_takes_over(cluster, organization):
    import psycopg

    db = connection.settings_dict
    other_replica = psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=db["NAME"],
        autocommit=True,
    )
    other_replica.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
    threading.Timer(0.3, other_replica.close).start()  # the other replica stops: its lock goes
    out, _ = reconcile("--loop", "--interval", "0.05", "--passes", "1")
    assert "Another reconciler is active; standing by." in out
    assert out.index("standing by") < out.index("targets in sync")


def test_a_kubeconfig_no_key_reads_says_so_and_how_to_fix_it(cluster, organization, settings):
    stored = Cluster.objects.get(pk=cluster.row.pk)
    suite_key, settings.CRYPTOGRAPHY_KEY_FALLBACKS = settings.CREDENTIALS_KEY, []
    settings.CREDENTIALS_KEY = "a-key-that-was-later-removed-" + "k" * 30
    stored.config_version += 1
    stored.save()  # the kubeconfig written again, under the key that is then lost
    settings.CREDENTIALS_KEY = suite_key

    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("reconcile_registries", stdout=io.StringIO(), stderr=err)

    assert (
        "Cluster main: The cluster's stored kubeconfig cannot be decrypted: the encryption key "
        "changed." in err.getvalue()
    )
    assert "CRYPTOGRAPHY_KEY_FALLBACKS" in err.getvalue()
