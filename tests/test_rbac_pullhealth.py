"""deploy/rbac.yaml grants every request pull health makes, and nothing it does not need."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import config
from pullhealth.cluster_calls import PullHealthCalls

from pullhealth.pods import DAEMON_SET, DEPLOYMENT, STATEFUL_SET

pytestmark = pytest.mark.django_db

RBAC = Path(__file__).resolve().parent.parent / "deploy" / "rbac.yaml"
VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def cluster_role_rules() -> list[dict]:
    documents = list(yaml.safe_load_all(RBAC.read_text()))
    return next(d for d in documents if d["kind"] == "ClusterRole")["rules"]


def verb_resource_name(method: str, path: str) -> tuple[str, str, str | None, str]:
    """The RBAC verb, resource, name and API group a request is authorized as."""
    group = ""
    if path.startswith("/apis/"):
        group, _, rest = path.removeprefix("/apis/").partition("/")
        path = "/" + rest.partition("/")[2]  # drop the version
    parts = path.removeprefix("/api/v1/").strip("/").split("/")
    if parts[0] == "namespaces" and len(parts) >= 3:
        parts = parts[2:]
    resource = parts[0]
    name = parts[1] if len(parts) > 1 else None
    verb = VERBS.get(method) or ("get" if name else "list")
    return verb, resource, name, group


def allowed(verb: str, resource: str, name: str | None, group: str = "") -> bool:
    for rule in cluster_role_rules():
        if group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]:
            names = rule.get("resourceNames")
            if not names or name in names:
                return True
    return False


def test_every_request_of_pull_health_is_granted(cluster, kubeconfig_path):
    cluster.add_deployment("org-acme", "api", waiting=("ErrImagePull", "denied"))
    cluster.add_statefulset("org-acme", "db")
    cluster.add_daemonset("org-acme", "agent")
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "nightly", "uid": "u"}}
    pod = cluster.add_pod("org-acme", "nightly-x7k2p", owner=job)
    api_client = config.new_client_from_config(config_file=str(kubeconfig_path))
    calls = PullHealthCalls(api_client, page_size=1)
    cluster.clear_requests()

    for namespace in (None, "org-acme"):
        list(calls.list_pods(namespace, field_selector="status.phase=Pending"))
        replicasets = calls.list_replicasets(namespace)
    calls.read_replicaset("org-acme", next(iter(replicasets))[1])
    for kind, name in ((DEPLOYMENT, "api"), (STATEFUL_SET, "db"), (DAEMON_SET, "agent")):
        calls.restart_workload(calls.read_workload(kind, "org-acme", name))
    calls.delete_pod("org-acme", "nightly-x7k2p", pod["metadata"]["uid"])
    api_client.close()

    made = {verb_resource_name(r.method, r.path) for r in cluster.requests}
    assert {(v, r, g) for v, r, _, g in made} == {
        ("list", "pods", ""),
        ("list", "replicasets", "apps"),
        ("get", "replicasets", "apps"),
        ("delete", "pods", ""),
        *(
            (verb, plural, "apps")
            for verb in ("get", "patch")
            for plural in ("deployments", "statefulsets", "daemonsets")
        ),
    }
    refused = sorted(str(m) for m in made if not allowed(*m))
    assert refused == []


def test_pull_health_is_granted_only_what_it_needs():
    assert not allowed("update", "deployments", "api", "apps")
    assert not allowed("delete", "deployments", "api", "apps")
    assert not allowed("create", "pods", None)
    assert not allowed("patch", "pods", "p")
    assert not allowed("patch", "replicasets", "r", "apps")
    # Rules name their group: the core group's pods grant nothing in apps, and back.
    assert not allowed("list", "pods", None, "apps")
    assert not allowed("get", "deployments", "api", "")
