"""`manage.py reconcile_registries` as operators and their schedulers run it."""

from __future__ import annotations

import io
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from registries.management.commands.reconcile_registries import ADVISORY_LOCK_KEY
from registries.models import SyncStatus

from .factories import OrganizationFactory, RegistryFactory

pytestmark = pytest.mark.django_db


def reconcile(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("reconcile_registries", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_one_pass_reports_how_many_organizations_are_in_sync(cluster, organization):
    registry = RegistryFactory(organization=organization)
    out, _ = reconcile()
    assert "1/1 organizations in sync, 2 write(s)." in out
    registry.refresh_from_db()
    assert registry.sync_status == SyncStatus.SYNCED


def test_failing_organizations_are_named_and_the_exit_is_non_zero(cluster, organization):
    OrganizationFactory(slug="ghost")
    with pytest.raises(CommandError, match="1 organization"):
        reconcile()


def test_org_option_limits_the_pass_to_one_organization(cluster, organization):
    OrganizationFactory(slug="ghost")
    out, _ = reconcile("--org", "acme")
    assert "1/1 organizations in sync" in out


def test_unknown_org_is_refused(cluster):
    with pytest.raises(CommandError, match="No organization with slug “nope”"):
        reconcile("--org", "nope")


def test_without_a_cluster_it_says_so_and_fails(settings, organization):
    settings.KUBECONFIG = ""
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("reconcile_registries", stdout=io.StringIO(), stderr=err)
    assert "No cluster configured" in err.getvalue()
    assert "acme: no cluster configured" in err.getvalue()


def test_loop_runs_the_requested_number_of_passes(cluster, organization):
    out, _ = reconcile("--loop", "--interval", "0.01", "--passes", "2")
    assert out.count("organizations in sync") == 2


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
    assert out.index("standing by") < out.index("organizations in sync")
