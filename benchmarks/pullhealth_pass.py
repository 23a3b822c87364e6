"""Pull health in the reconciler's pass over one cluster, for 10, 100 and 1,000 organizations
(pass counts as arguments): the LIST calls per cluster (all of them, and pull health's: pods and
ReplicaSets), with the SQL queries and time, of the first pass that finds the failures and of
the next one (nothing changed); then, on lines "ns:", REGISTRY_RBAC_SCOPE=namespaced, which reads
each namespace on its own. Pages are of DELIVERY_LIST_PAGE_SIZE (500) objects. Each organization runs two Deployments on the test suite's fake API
server, `api` (one pod) and `web` (ten healthy Running pods); one organization in ten has an
`api` that cannot pull.

    .venv/bin/python benchmarks/pullhealth_pass.py [COUNTS...]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
workdir = tempfile.mkdtemp(prefix="pullhealth-bench-")
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "orgsettings.settings",
        "DEBUG": "true",
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3"),
        "REGISTRY_SYNC_ENABLED": "false",
        "KUBECONFIG": "",
    }
)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from delivery import kube  # noqa: E402
from delivery.models import Cluster, DeliveryTarget  # noqa: E402
from delivery.reconcile import reconcile  # noqa: E402
from orgsettings.models import Organization  # noqa: E402
from pullhealth.models import PullFailure  # noqa: E402
from registries.models import AuthType, ContainerRegistry  # noqa: E402
from tests.fakekube import FakeKubeServer  # noqa: E402

REFUSED = (
    'rpc error: code = Unknown desc = failed to pull and unpack image "ghcr.io/acme/api:1":'
    ' failed to resolve reference "ghcr.io/acme/api:1": failed to authorize: failed to fetch'
    " oauth token: unexpected status from GET request to https://ghcr.io/token: 401 Unauthorized"
)
PULL_HEALTH_PATHS = ("/pods", "/replicasets")
# Healthy Running pods per organization: the pods LIST reads them too (only Succeeded and
# Failed pods are left out), so their cost shows in the pages and the time.
HEALTHY_PODS = 10


def measure(server: FakeKubeServer, label: str) -> None:
    server.clear_requests()
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        reconcile()
    elapsed = time.perf_counter() - started
    pages = [r for r in server.requests if r.method == "GET" and not _named(r.path)]
    # A LIST is its first page; the next pages (`continue`) come with many objects.
    lists = [r for r in pages if "continue" not in r.query]
    ours = Counter(
        ("per namespace " if "/namespaces/" in r.path else "cluster-wide ") + r.path.split("/")[-1]
        for r in lists
        if r.path.endswith(PULL_HEALTH_PATHS)
    )
    ours_pages = sum(1 for r in pages if r.path.endswith(PULL_HEALTH_PATHS))
    detail = ", ".join(f"{what} {count}" for what, count in sorted(ours.items()))
    print(
        f"  {label:<14} {len(lists):>4} LIST calls ({len(pages)} pages), pull health"
        f" {sum(ours.values()):>4} ({detail}; {ours_pages} pages); {len(server.requests):>4}"
        f" requests in all; {len(queries):>3} SQL queries; {PullFailure.objects.count()} failures"
        f" stored; {elapsed:5.2f} s"
    )


def _named(path: str) -> bool:
    """A GET of one object (…/<plural>/<name>) rather than a LIST."""
    parts = path.strip("/").split("/")
    return parts[-2] in {"pods", "replicasets", "deployments", "secrets", "serviceaccounts"}


def main(counts: list[int]) -> None:
    call_command("migrate", verbosity=0)
    server = FakeKubeServer(default_sa_delay=None).start()
    text = server.write_kubeconfig(Path(workdir) / "kubeconfig").read_text()
    try:
        for count in counts:
            server.reset()
            kube.forget_clients()
            DeliveryTarget.objects.all().delete()
            Organization.objects.all().delete()
            Cluster.objects.all().delete()
            cluster = Cluster.objects.create(name="bench", connection="kubeconfig", kubeconfig=text)
            organizations = Organization.objects.bulk_create(
                Organization(slug=f"bench{i}", name=f"Bench {i}", namespace=f"org-bench{i}")
                for i in range(count)
            )
            ContainerRegistry.objects.bulk_create(
                ContainerRegistry(
                    organization=o,
                    display_name="GitHub",
                    address="ghcr.io",
                    auth_type=AuthType.BASIC,
                    username="u",
                    password="p",
                )
                for o in organizations
            )
            DeliveryTarget.objects.bulk_create(
                DeliveryTarget(organization=o, cluster=cluster, namespace=o.namespace)
                for o in organizations
            )
            for index, organization in enumerate(organizations):
                server.add_namespace(organization.namespace)
                waiting = ("ErrImagePull", REFUSED) if index % 10 == 0 else None
                namespace = organization.namespace
                server.add_deployment(namespace, "api", "ghcr.io/acme/api:1", waiting=waiting)
                server.add_deployment(namespace, "web", "ghcr.io/acme/web:1", replicas=HEALTHY_PODS)
            print(f"{count} organization(s) on one cluster:")
            measure(server, "first pass")
            measure(server, "unchanged")
            settings.REGISTRY_RBAC_SCOPE = "namespaced"
            measure(server, "ns: unchanged")
            settings.REGISTRY_RBAC_SCOPE = "cluster"
    finally:
        server.stop()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10, 100, 1000])
