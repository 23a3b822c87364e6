"""How many Kubernetes API requests one reconcile pass makes, for 1, 100 and 1,000
organizations: when the cluster is empty, when every organization has drifted, and when
everything is already in sync. Runs against the test suite's fake API server over HTTP.

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
        "REGISTRY_SYNC_IN_BACKGROUND": "false",
        "REGISTRY_SYNC_ENABLED": "false",  # no syncs while the data is created
    }
)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from orgsettings.models import Organization  # noqa: E402
from registries import sync  # noqa: E402
from registries.models import AuthType, ContainerRegistry  # noqa: E402
from tests.fakekube import FakeKubeServer  # noqa: E402


def measure(server: FakeKubeServer, label: str) -> None:
    server.clear_requests()
    started = time.perf_counter()
    report = sync.reconcile()
    elapsed = time.perf_counter() - started
    kinds = Counter(r.method for r in server.requests)
    detail = ", ".join(f"{method} {count}" for method, count in sorted(kinds.items()))
    print(
        f"  {label:<14} {len(server.requests):>6} requests ({detail}); {report.writes} writes; {elapsed:6.2f} s; errors {len(report.errors)}"
    )


def main(counts: list[int]) -> None:
    call_command("migrate", verbosity=0)
    server = FakeKubeServer(default_sa_delay=None).start()
    settings.KUBECONFIG = str(server.write_kubeconfig(Path(workdir) / "kubeconfig"))
    try:
        for count in counts:
            server.reset()
            Organization.objects.all().delete()
            settings.REGISTRY_SYNC_ENABLED = False
            for index in range(count):
                organization = Organization.objects.create(
                    slug=f"bench{index}", name=f"Bench {index}"
                )
                server.add_namespace(organization.namespace)
                ContainerRegistry.objects.create(
                    organization=organization,
                    display_name="Registry",
                    address=f"r{index}.example.com",
                    auth_type=AuthType.BASIC,
                    username="u",
                    password="p",
                )
            settings.REGISTRY_SYNC_ENABLED = True
            print(f"{count} organization(s):")
            measure(server, "empty cluster")
            for secret in server.objects("secrets"):
                secret["data"][".dockerconfigjson"] = "eyJhdXRocyI6e319"
                server.put_object(secret)
            for account in server.objects("serviceaccounts"):
                account["imagePullSecrets"] = []
                server.put_object(account)
            measure(server, "all drifted")
            measure(server, "in sync")
    finally:
        server.stop()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1, 100, 1000])
