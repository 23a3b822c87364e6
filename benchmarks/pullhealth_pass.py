"""One pull-health pass over a cluster, for 1, 100 and 1,000 organizations (pass counts as
arguments): the API requests, SQL queries and time of the first pass (every failure is new) and
of the next one (nothing changed). Each organization runs two Deployments on the test suite's
fake API server; one in ten cannot pull.

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
    }
)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from kubernetes import config  # noqa: E402

from delivery.models import Cluster, DeliveryTarget  # noqa: E402
from orgsettings.models import Organization  # noqa: E402
from pullhealth.cluster_calls import PullHealthCalls  # noqa: E402
from pullhealth.refresh import pull_health_refresh  # noqa: E402
from registries.models import AuthType, ContainerRegistry  # noqa: E402
from tests.fakekube import FakeKubeServer  # noqa: E402

REFUSED = (
    'rpc error: code = Unknown desc = failed to pull and unpack image "ghcr.io/acme/api:1":'
    ' failed to resolve reference "ghcr.io/acme/api:1": failed to authorize: failed to fetch'
    " oauth token: unexpected status from GET request to https://ghcr.io/token: 401 Unauthorized"
)


def measure(server: FakeKubeServer, calls: PullHealthCalls, targets, label: str) -> None:
    server.clear_requests()
    connection.queries_log.clear()
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        report = pull_health_refresh(calls, targets)
    elapsed = time.perf_counter() - started
    kinds = Counter(r.path for r in server.requests)
    detail = ", ".join(f"{path} {count}" for path, count in sorted(kinds.items()))
    print(
        f"  {label:<12} {len(server.requests):>3} requests ({detail}); {len(queries):>5} SQL"
        f" queries; {report.failures} failures, {report.changed} targets written; {elapsed:6.2f} s"
    )


def main(counts: list[int]) -> None:
    call_command("migrate", verbosity=0)
    server = FakeKubeServer(default_sa_delay=None).start()
    kubeconfig = server.write_kubeconfig(Path(workdir) / "kubeconfig")
    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    calls = PullHealthCalls(api_client)
    cluster = Cluster.objects.create(name="bench", connection=Cluster.Connection.IN_CLUSTER)
    try:
        for count in counts:
            server.reset()
            Organization.objects.all().delete()
            targets = []
            for index in range(count):
                organization = Organization.objects.create(
                    slug=f"bench{index}", name=f"Bench {index}"
                )
                ContainerRegistry.objects.create(
                    organization=organization,
                    display_name="GitHub",
                    address="ghcr.io",
                    auth_type=AuthType.BASIC,
                    username="u",
                    password="p",
                )
                namespace = organization.namespace
                server.add_namespace(namespace)
                waiting = ("ErrImagePull", REFUSED) if index % 10 == 0 else None
                server.add_deployment(namespace, "api", "ghcr.io/acme/api:1", waiting=waiting)
                server.add_deployment(namespace, "web", "ghcr.io/acme/web:1")
                targets.append(
                    DeliveryTarget(organization=organization, cluster=cluster, namespace=namespace)
                )
            targets = DeliveryTarget.objects.bulk_create(targets)
            print(f"{count} organization(s):")
            measure(server, calls, targets, "first pass")
            measure(server, calls, targets, "unchanged")
    finally:
        api_client.close()
        server.stop()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1, 100, 1000])
