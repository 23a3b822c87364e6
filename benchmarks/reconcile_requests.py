"""How many Kubernetes API requests one reconcile pass makes, for 1 and 2 clusters x 1, 100
and 1,000 organizations (one registry each): when the clusters are empty, when every
organization has drifted, and when everything is already in sync; then, on lines "ns:", with
REGISTRY_RBAC_SCOPE=namespaced, which reads each namespace on its own. Runs against the test
suite's fake API server over HTTP, one server per cluster.

    .venv/bin/python benchmarks/reconcile_requests.py [COUNTS...]
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
workdir = tempfile.mkdtemp(prefix="reconcile-bench-")
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "orgsettings.settings",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
        "KUBECONFIG": "",
    }
)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from delivery import kube  # noqa: E402
from delivery.models import Cluster, DeliveryTarget  # noqa: E402
from delivery.reconcile import reconcile  # noqa: E402
from orgsettings.models import Organization  # noqa: E402
from registries.models import AuthType, ContainerRegistry  # noqa: E402
from tests.fakekube import FakeKubeServer  # noqa: E402


def measure(servers: list[FakeKubeServer], label: str) -> None:
    for server in servers:
        server.clear_requests()
    started = time.perf_counter()
    report = reconcile()
    elapsed = time.perf_counter() - started
    kinds = Counter(r.method for server in servers for r in server.requests)
    total = sum(kinds.values())
    detail = ", ".join(f"{method} {count}" for method, count in sorted(kinds.items()))
    print(
        f"    {label:<14} {total:>6} requests ({detail}); {report.writes} writes; "
        f"{elapsed:6.2f} s; errors {len(report.errors)}"
    )


def drift(servers: list[FakeKubeServer]) -> None:
    for server in servers:
        for secret in server.objects("secrets"):
            secret["data"][".dockerconfigjson"] = "eyJhdXRocyI6e319"
            server.put_object(secret)
        for account in server.objects("serviceaccounts"):
            account["imagePullSecrets"] = []
            server.put_object(account)


def main(counts: list[int]) -> None:
    call_command("migrate", verbosity=0)
    servers = [FakeKubeServer(default_sa_delay=None).start() for _ in range(2)]
    try:
        for cluster_count in (1, 2):
            for count in counts:
                DeliveryTarget.objects.all().delete()
                Organization.objects.all().delete()
                Cluster.objects.all().delete()
                kube.forget_clients()
                clusters = []
                for index, server in enumerate(servers[:cluster_count]):
                    server.reset()
                    text = server.write_kubeconfig(Path(workdir) / f"k{index}").read_text()
                    clusters.append(
                        Cluster.objects.create(
                            name=f"c{index}", connection="kubeconfig", kubeconfig=text
                        )
                    )
                organizations = Organization.objects.bulk_create(
                    Organization(slug=f"bench{i}", name=f"Bench {i}", namespace=f"org-bench{i}")
                    for i in range(count)
                )
                ContainerRegistry.objects.bulk_create(
                    ContainerRegistry(
                        organization=o,
                        display_name="Registry",
                        address=f"r{o.pk}.example.com",
                        auth_type=AuthType.BASIC,
                        username="u",
                        password="p",
                    )
                    for o in organizations
                )
                for cluster, server in zip(clusters, servers, strict=False):
                    DeliveryTarget.objects.bulk_create(
                        DeliveryTarget(organization=o, cluster=cluster, namespace=o.namespace)
                        for o in organizations
                    )
                    for o in organizations:
                        server.add_namespace(o.namespace)
                used = servers[:cluster_count]
                print(f"{cluster_count} cluster(s), {count} organization(s):")
                measure(used, "empty cluster")
                drift(used)
                measure(used, "all drifted")
                measure(used, "in sync")
                # REGISTRY_RBAC_SCOPE=namespaced: a LIST and a GET per namespace instead.
                settings.REGISTRY_RBAC_SCOPE = "namespaced"
                drift(used)
                measure(used, "ns: drifted")
                measure(used, "ns: in sync")
                settings.REGISTRY_RBAC_SCOPE = "cluster"
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1, 100, 1000])
