"""What the registries section's delivery poll costs: bytes and SQL queries of the page and of
each poll, and the poll's time, at 10, 100 and 1,000 registries on 1 and 3 clusters, with one
registry Pending (just saved) and then delivered.

    .venv/bin/python benchmarks/delivery_poll.py [COUNTS...]
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
workdir = tempfile.mkdtemp(prefix="delivery-poll-bench-")
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "orgsettings.settings",
        "DEBUG": "true",
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3"),
    }
)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

from delivery.models import Cluster, DeliveryTarget, TargetStatus  # noqa: E402
from orgsettings.models import Membership, Organization, Role  # noqa: E402
from registries.models import ContainerRegistry  # noqa: E402

POLLS = 50


def poll_url(html: str) -> str | None:
    element = re.search(r'<div id="delivery-poll".*?</div>', html, re.S)[0]
    url = re.search(r'hx-get="([^"]+)"', element)
    params = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', element))
    return f"{url[1]}?{urlencode(params)}" if url else None


def measure(client: Client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, HTTP_HX_REQUEST="true")
    return len(response.content), len(queries)


def scenario(client: Client, user, count: int, clusters: int) -> None:
    organization = Organization.objects.create(
        slug=f"bench-{count}-{clusters}", name="Bench", namespace=f"bench-{count}-{clusters}"
    )
    Membership.objects.create(user=user, organization=organization, role=Role.OWNER)
    ContainerRegistry.objects.bulk_create(
        ContainerRegistry(
            organization=organization,
            display_name=f"Registry {n:05}",
            address=f"r{n}.example.com",
            auth_type="BasicAuth",
            username="robot",
            password=f"pw-{n}",
        )
        for n in range(count)
    )
    registries = list(organization.registries.values_list("pk", "version"))
    held = {str(pk): version for pk, version in registries}
    saved = str(registries[count // 2][0])
    targets = [
        DeliveryTarget.objects.create(
            organization=organization,
            cluster=Cluster.objects.get_or_create(name=f"c{n}", connection="in-cluster")[0],
            namespace=organization.namespace,
            status=TargetStatus.PENDING,
            delivered_versions={**held, saved: 0},
        )
        for n in range(clusters)
    ]
    page = f"/orgs/{organization.slug}/settings/registries/"
    client.get(page)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(page).text
    page_queries = len(queries)  # now: the query log is a bounded deque
    url = poll_url(html)
    quiet_bytes, quiet_queries = measure(client, url)
    times = []
    for _ in range(POLLS):
        started = time.perf_counter()
        client.get(url, HTTP_HX_REQUEST="true")
        times.append(time.perf_counter() - started)
    for target in targets:
        target.status, target.synced_at, target.delivered_versions = "synced", timezone.now(), held
        target.save()
    changed_bytes, changed_queries = measure(client, url)
    print(
        f"  {count:>5} registries x {clusters} clusters: page {len(html.encode()):>8} B "
        f"{page_queries} queries; poll nothing changed {quiet_bytes:>4} B {quiet_queries} queries, "
        f"p50 {statistics.median(times) * 1000:5.1f} ms; poll one row delivered "
        f"{changed_bytes:>5} B {changed_queries} queries"
    )


def main(counts: list[int]) -> None:
    setup_test_environment()
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    client = Client()
    client.force_login(user)
    print(f"Delivery poll ({connection.vendor}):")
    for count in counts:
        for clusters in (1, 3):
            scenario(client, user, count, clusters)


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [10, 100, 1000])
