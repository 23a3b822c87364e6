"""Each RBAC scope's manifests grant exactly the requests pull health makes in that scope.

The fake API server enforces the policy read from deploy/ (tests/fakerbac.py), API groups
included. Reading what cannot pull (the reconciler) and restarting it (the worker) must be
refused nothing, and every pull-health rule of the manifests must be used by them.
"""

from __future__ import annotations

import pytest

from delivery.reconcile import reconcile
from orgsettings.models import AuditSource
from pullhealth.models import PullHealth, WorkloadRestart
from pullhealth.services import request_restart

from . import fakerbac
from .deliveries import add_delivered_registry, run_tasks
from .test_kube_workloads import REFUSED

pytestmark = pytest.mark.django_db

NS = "org-acme"
PULL_HEALTH = {"pods", "replicasets", "deployments", "statefulsets", "daemonsets"}
NAMESPACED = fakerbac.NAMESPACED
FAILING = ("ErrImagePull", REFUSED)


@pytest.fixture(params=["cluster", "namespaced"])
def scope(request, settings, cluster):
    return fakerbac.enforce_scope(cluster, settings, request.param, namespace=NS)


def everything_pull_health_does(cluster, organization, owner) -> None:
    add_delivered_registry(organization, "GitHub", "ghcr.io")
    cluster.add_deployment(NS, "api", "ghcr.io/acme/api:1", waiting=FAILING)
    cluster.add_statefulset(NS, "db", "ghcr.io/acme/db:1", waiting=FAILING)
    cluster.add_daemonset(NS, "agent", "ghcr.io/acme/agent:1", waiting=FAILING)
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "nightly", "uid": "j"}}
    cluster.add_pod(NS, "nightly-x7k2p", "ghcr.io/acme/job:1", waiting=FAILING, owner=job)
    # A pod whose pod-template-hash label was edited away: its ReplicaSet is read by name.
    cluster.add_deployment(NS, "legacy", "ghcr.io/acme/legacy:1", waiting=FAILING)
    (pod,) = cluster.pods_of("deployments", NS, "legacy")
    del pod["metadata"]["labels"]["pod-template-hash"]
    cluster.put_object(pod | {"kind": "Pod"})
    cluster.clear_requests()

    reconcile()
    request_restart(organization, actor=owner, source=AuditSource.SETTINGS)
    run_tasks()

    assert PullHealth.objects.get(target__organization=organization).available
    restarted = set(WorkloadRestart.objects.values_list("workload_kind", "workload_name"))
    assert restarted == {
        ("Deployment", "api"),
        ("Deployment", "legacy"),
        ("StatefulSet", "db"),
        ("DaemonSet", "agent"),
        ("Pod", "nightly-x7k2p"),
    }


def unused_grants(policy, accesses) -> list[str]:
    unused = []
    for where, rule in fakerbac.all_rules(policy):
        for resource in PULL_HEALTH & set(rule["resources"]):
            for verb in rule["verbs"]:
                if not any(
                    a.verb == verb
                    and a.resource == resource
                    and a.group in rule["apiGroups"]
                    and (where == "cluster" or a.namespace is not None)
                    for a in accesses
                ):
                    unused.append(f"{where}: {verb} {resource}")
    return unused


def test_every_request_of_pull_health_is_granted_and_every_grant_is_used(
    cluster, organization, owner, scope
):
    everything_pull_health_does(cluster, organization, owner)

    accesses = [a for a in cluster.accesses if a.resource in PULL_HEALTH]
    assert sorted(str(a) for a in set(accesses) if not scope(a)) == []
    assert unused_grants(scope, accesses) == []


def test_namespaced_scope_reads_pods_only_in_provisioned_namespaces(
    cluster, organization, owner, settings
):
    policy = fakerbac.enforce_scope(cluster, settings, "namespaced", namespace=NS)
    everything_pull_health_does(cluster, organization, owner)

    assert [a for a in cluster.accesses if a.resource in PULL_HEALTH and a.namespace is None] == []
    assert not policy(fakerbac.Access("list", "pods", None, None))
    assert not policy(fakerbac.Access("list", "pods", "kube-system", None))


@pytest.mark.parametrize("manifest", [{"manifest": "rbac.yaml"}, NAMESPACED])
def test_pull_health_is_granted_only_what_it_needs(manifest):
    policy = fakerbac.load(**manifest)
    policy.provision(NS)

    def allowed(verb, resource, group="", name="x"):
        return policy(fakerbac.Access(verb, resource, NS, name, group))

    assert allowed("patch", "deployments", "apps")
    assert not allowed("update", "deployments", "apps")
    assert not allowed("delete", "deployments", "apps")
    assert not allowed("create", "pods", name=None)
    assert not allowed("patch", "pods")
    assert not allowed("patch", "replicasets", "apps")
    assert not allowed("delete", "replicasets", "apps")
    # Rules name their group: the core group's pods grant nothing in apps, and back.
    assert not allowed("list", "pods", "apps", None)
    assert not allowed("get", "deployments", "")
