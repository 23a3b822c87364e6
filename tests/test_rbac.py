"""Each RBAC scope's manifests grant exactly the requests delivery makes in that scope.

The fake API server enforces the policy read from deploy/ (tests/fakerbac.py) and records what
RBAC checks of every request; a full lifecycle (create, edit, reconcile, drift, a namespace move,
delete) must be refused nothing, and every rule of the manifests must be used by it.
"""

from __future__ import annotations

import pytest

from delivery.models import TargetStatus
from delivery.reconcile import reconcile
from registries.services import registry_delete, registry_update

from . import fakerbac
from .deliveries import add_delivered_registry, run_tasks
from .factories import OrganizationFactory

pytestmark = pytest.mark.django_db

SECRET = "org-registry-credentials"
# What delivery reads and writes; rules for other features' resources are theirs to prove.
DELIVERY_RESOURCES = {"secrets", "serviceaccounts", "namespaces"}
NAMESPACED = fakerbac.NAMESPACED


@pytest.fixture(params=["cluster", "namespaced"])
def scope(request, settings, cluster):
    """The RBAC scope in force, with the fake API server enforcing its manifests."""
    return fakerbac.enforce_scope(cluster, settings, request.param)


def full_lifecycle(cluster, organization, policy) -> None:
    registry = add_delivered_registry(organization, "Hub", "docker.io")
    assert cluster.get_object("secrets", "org-acme", SECRET) is not None
    # Someone else writes the Secret between our read and our replace: re-read, retry.
    cluster.conflict_next(kind="secrets")
    registry = registry_update(
        registry, actor=None, expected_version=registry.version, password="q"
    )
    run_tasks()
    reconcile()
    cluster.delete_object("secrets", "org-acme", SECRET)
    reconcile()
    assert organization.delivery_targets.get().status == TargetStatus.SYNCED
    cluster.add_namespace("team-acme")
    if policy.namespace_documents:
        policy.provision("team-acme")
    organization.namespace = "team-acme"
    organization.save()
    run_tasks()
    assert cluster.get_object("secrets", "team-acme", SECRET) is not None
    assert cluster.get_object("secrets", "org-acme", SECRET) is None
    default = cluster.get_object("serviceaccounts", "org-acme", "default")
    assert SECRET not in [ref["name"] for ref in default.get("imagePullSecrets") or []]
    registry_delete(registry, actor=None)
    run_tasks()
    organization.delete()
    run_tasks()
    assert cluster.get_object("secrets", "team-acme", SECRET) is None


def used(rule: dict, scope: str, accesses) -> list[str]:
    """Each verb, resource and name of `rule` that no access used (empty: all used)."""
    unused = []
    for verb in rule["verbs"]:
        for resource in DELIVERY_RESOURCES & set(rule["resources"]):
            for name in rule.get("resourceNames") or [None]:
                if not any(
                    a.verb == verb
                    and a.resource == resource
                    and (name is None or a.name == name)
                    and (scope == "cluster" or a.namespace is not None)
                    for a in accesses
                ):
                    unused.append(f"{scope}: {verb} {resource} {name or '*'}")
    return unused


def test_every_request_of_delivery_is_granted_and_every_grant_is_used(cluster, organization, scope):
    cluster.clear_requests()
    full_lifecycle(cluster, organization, scope)
    accesses = cluster.accesses
    assert {a.verb for a in accesses} >= {"list", "get", "create", "update", "patch", "delete"}
    assert sorted(str(a) for a in set(accesses) if not scope(a)) == []
    unused = [u for where, rule in fakerbac.all_rules(scope) for u in used(rule, where, accesses)]
    assert unused == []


def test_namespaced_scope_makes_no_cluster_wide_request_for_secrets_or_service_accounts(
    cluster, organization, settings
):
    policy = fakerbac.enforce_scope(cluster, settings, "namespaced")
    cluster.clear_requests()
    full_lifecycle(cluster, organization, policy)
    wide = [
        a
        for a in cluster.accesses
        if a.resource in ("secrets", "serviceaccounts") and a.namespace is None
    ]
    assert wide == []
    assert not any(
        r.path in ("/api/v1/secrets", "/api/v1/serviceaccounts") for r in cluster.requests
    )


def test_namespaced_manifests_grant_nothing_cluster_wide_on_secrets():
    policy = fakerbac.load(**NAMESPACED)
    policy.provision("org-acme")
    cluster_wide = [g for g in policy.grants if g.namespace is None]
    assert not [g for g in cluster_wide if {"secrets", "serviceaccounts", "*"} & g.resources]
    assert not policy(fakerbac.Access("get", "secrets", "kube-system", SECRET))
    assert not policy(fakerbac.Access("list", "secrets", None, None))
    assert not policy(fakerbac.Access("create", "secrets", "kube-system", None))
    assert policy(fakerbac.Access("create", "secrets", "org-acme", None))


@pytest.mark.parametrize("manifest", [{"manifest": "rbac.yaml"}, NAMESPACED])
def test_the_platform_cannot_grant_itself_more(manifest):
    policy = fakerbac.load(**manifest)
    for _, rule in fakerbac.all_rules(policy):
        assert not {"bind", "escalate", "impersonate", "*"} & set(rule["verbs"])
        assert "rbac.authorization.k8s.io" not in rule.get("apiGroups", [])
        assert "*" not in rule["resources"]


def test_a_secret_of_another_name_is_not_granted():
    policy = fakerbac.load("rbac.yaml")
    assert not policy(fakerbac.Access("get", "secrets", "org-acme", "someone-elses-secret"))
    assert not policy(fakerbac.Access("delete", "secrets", "org-acme", "someone-elses-secret"))
    assert not policy(fakerbac.Access("patch", "serviceaccounts", "org-acme", "builder"))


def test_namespaced_scope_an_unprovisioned_namespace_fails_only_its_own_target(
    cluster, organization, settings
):
    policy = fakerbac.enforce_scope(cluster, settings, "namespaced")
    cluster.add_namespace("org-beta")
    beta = OrganizationFactory(slug="beta", namespace="org-beta")
    run_tasks()
    report = reconcile()
    assert organization.delivery_targets.get().status == TargetStatus.SYNCED
    target = beta.delivery_targets.get()
    assert target.status == TargetStatus.ERROR
    assert "Forbidden by RBAC" in target.error
    assert "org-beta" in target.error
    assert "beta on main" in report.errors
    assert "acme on main" not in report.errors
    assert cluster.get_object("secrets", "org-beta", SECRET) is None
    policy.provision("org-beta")
    reconcile()
    assert beta.delivery_targets.get().status == TargetStatus.SYNCED


def test_namespaced_scope_an_unreachable_cluster_is_one_error_not_one_wait_per_namespace(
    cluster, organization, settings
):
    settings.REGISTRY_RBAC_SCOPE = "namespaced"
    cluster.add_namespace("org-beta")
    OrganizationFactory(slug="beta", namespace="org-beta")
    with cluster.unreachable():
        report = reconcile()
    assert report.cluster_errors["main"].kind == "unreachable"
    assert set(report.errors) == {"acme on main", "beta on main"}
