"""deploy/rbac.yaml grants every request delivery makes, and nothing needs more."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from delivery.reconcile import reconcile
from registries.models import AuthType
from registries.services import registry_create, registry_delete, registry_update

from .deliveries import run_tasks

pytestmark = pytest.mark.django_db

RBAC = Path(__file__).resolve().parent.parent / "deploy" / "rbac.yaml"
VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def cluster_role_rules() -> list[dict]:
    documents = list(yaml.safe_load_all(RBAC.read_text()))
    return next(d for d in documents if d["kind"] == "ClusterRole")["rules"]


def verb_resource_name(method: str, path: str) -> tuple[str, str, str | None]:
    parts = path.removeprefix("/api/v1/").strip("/").split("/")
    if parts[0] == "namespaces" and len(parts) >= 3:
        parts = parts[2:]
    resource = parts[0]
    name = parts[1] if len(parts) > 1 else None
    verb = VERBS.get(method) or ("get" if name else "list")
    return verb, resource, name


def allowed(verb: str, resource: str, name: str | None) -> bool:
    for rule in cluster_role_rules():
        if resource in rule["resources"] and verb in rule["verbs"]:
            names = rule.get("resourceNames")
            if not names or name in names:
                return True
    return False


def test_every_request_of_delivery_is_granted(cluster, organization):
    cluster.clear_requests()
    registry = registry_create(
        organization,
        actor=None,
        display_name="Hub",
        address="docker.io",
        auth_type=AuthType.BASIC,
        username="u",
        password="p",
    )
    run_tasks()
    registry = registry_update(
        registry, actor=None, expected_version=registry.version, password="q"
    )
    run_tasks()
    reconcile()
    cluster.delete_object("secrets", "org-acme", "org-registry-credentials")
    reconcile()
    cluster.add_namespace("team-acme")
    organization.namespace = "team-acme"
    organization.save()
    run_tasks()
    registry_delete(registry, actor=None)
    run_tasks()
    organization.delete()
    run_tasks()
    made = {verb_resource_name(r.method, r.path) for r in cluster.requests}
    assert {v for v, _, _ in made} >= {"list", "get", "create", "update", "patch", "delete"}
    refused = sorted(str(m) for m in made if not allowed(*m))
    assert refused == []


def test_a_secret_of_another_name_is_not_granted():
    assert not allowed("get", "secrets", "someone-elses-secret")
    assert not allowed("delete", "secrets", "someone-elses-secret")
    assert not allowed("patch", "serviceaccounts", "builder")
