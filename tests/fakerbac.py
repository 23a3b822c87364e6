"""RBAC authorization as the API server's RBAC authorizer decides it, from our manifests, for the
fake API server (`FakeKubeServer.enforce_rbac`).

Reads ClusterRoles, Roles and their bindings to one ServiceAccount, the way they would be applied:
deploy/rbac.yaml (optionally with a kustomize component's `$patch: delete` patches), and the
namespace manifest applied in each provisioned namespace. A rule matches a request when its API
group, resource and verb match (a rule names its groups: the core group's pods grant nothing in
apps) and, if it lists `resourceNames`, the request names one of them; so a named rule never
grants `list` or `create`, which carry no name.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .fakekube import Access

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SUBJECT = ("platform", "orgsettings")  # the ServiceAccount the platform's pods run as
# The namespaced scope's manifests, as `load(**NAMESPACED)` reads them.
NAMESPACED = {
    "manifest": "rbac.yaml",
    "component": "components/namespaced-rbac",
    "namespace_manifest": "namespace-rbac.yaml",
}


@dataclass(frozen=True)
class Grant:
    """One rule of a role, as bound: `namespace` None is a cluster-wide binding."""

    verbs: frozenset[str]
    resources: frozenset[str]
    names: frozenset[str]
    namespace: str | None
    groups: frozenset[str] = frozenset({""})

    def allows(self, access: Access) -> bool:
        if self.namespace is not None and access.namespace != self.namespace:
            return False
        return (
            (access.group in self.groups or "*" in self.groups)
            and (access.verb in self.verbs or "*" in self.verbs)
            and (access.resource in self.resources or "*" in self.resources)
            and (not self.names or access.name in self.names)
        )


@dataclass
class Policy:
    documents: list[dict] = field(default_factory=list)  # applied once, cluster-wide
    namespace_documents: list[dict] = field(default_factory=list)  # applied per namespace
    grants: list[Grant] = field(default_factory=list)

    def __call__(self, access: Access) -> bool:
        return any(grant.allows(access) for grant in self.grants)

    def provision(self, namespace: str) -> None:
        """Apply the namespace manifest in `namespace`, as namespace provisioning does."""
        documents = copy.deepcopy(self.namespace_documents)
        for document in documents:
            document["metadata"]["namespace"] = namespace
        self.grants += _grants(documents)


def load(manifest: str = "rbac.yaml", *, component: str | None = None, namespace_manifest=None):
    """The platform's policy from `manifest` under deploy/, with `component`'s delete patches
    applied; `namespace_manifest` is what `Policy.provision` applies per namespace."""
    documents = _read(DEPLOY / manifest)
    if component is not None:
        kustomization = yaml.safe_load((DEPLOY / component / "kustomization.yaml").read_text())
        for entry in kustomization.get("patches") or []:
            patch = yaml.safe_load(entry["patch"])
            assert patch.pop("$patch") == "delete", "only delete patches are understood"
            documents = [d for d in documents if not _same_object(d, patch)]
    namespace_documents = _read(DEPLOY / namespace_manifest) if namespace_manifest else []
    return Policy(documents, namespace_documents, _grants(documents))


def enforce_scope(cluster, settings, scope: str, *, namespace: str = "org-acme") -> Policy:
    """Put the platform in RBAC `scope` ("cluster" or "namespaced") and have the fake API
    server enforce that scope's manifests, applied in `namespace` for the namespaced one."""
    settings.REGISTRY_RBAC_SCOPE = scope
    if scope == "cluster":
        policy = load("rbac.yaml")
    else:
        policy = load(**NAMESPACED)
        policy.provision(namespace)
    cluster.enforce_rbac(policy)
    return policy


def all_rules(policy: Policy) -> list[tuple[str, dict]]:
    """(scope, rule) of every rule bound to the platform: scope "cluster" for the cluster-wide
    manifest's bindings, "namespace" for the per-namespace manifest's."""
    rules = [
        ("cluster" if namespace is None else "namespace", rule)
        for namespace, rule in _bound_rules(policy.documents)
    ]
    provisioned = copy.deepcopy(policy.namespace_documents)
    for document in provisioned:
        document["metadata"]["namespace"] = "provisioned"
    rules += [("namespace", rule) for _, rule in _bound_rules(provisioned)]
    return rules


def _read(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _same_object(document: dict, patch: dict) -> bool:
    return (
        document.get("kind") == patch.get("kind")
        and document["metadata"].get("name") == patch["metadata"].get("name")
        and document.get("apiVersion") == patch.get("apiVersion")
    )


def _bound_rules(documents: list[dict]) -> list[tuple[str | None, dict]]:
    """(binding namespace or None, rule) of every role bound to SUBJECT in `documents`."""
    roles = {
        (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d.get("rules") or []
        for d in documents
        if d["kind"] in ("ClusterRole", "Role")
    }
    bound = []
    for binding in documents:
        if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        subjects = {
            (s.get("namespace"), s["name"])
            for s in binding.get("subjects") or []
            if s["kind"] == "ServiceAccount"
        }
        if SUBJECT not in subjects:
            continue
        namespace = binding["metadata"].get("namespace")
        if binding["kind"] == "RoleBinding" and namespace is None:
            raise AssertionError(f"RoleBinding {binding['metadata']['name']} has no namespace")
        ref = binding["roleRef"]
        role_namespace = namespace if ref["kind"] == "Role" else None
        for rule in roles.get((ref["kind"], role_namespace, ref["name"]), []):
            bound.append((namespace, rule))
    return bound


def _grants(documents: list[dict]) -> list[Grant]:
    grants = []
    for namespace, rule in _bound_rules(documents):
        grants.append(
            Grant(
                verbs=frozenset(rule["verbs"]),
                resources=frozenset(rule["resources"]),
                names=frozenset(rule.get("resourceNames") or []),
                namespace=namespace,
                groups=frozenset(rule.get("apiGroups") or []),
            )
        )
    return grants
