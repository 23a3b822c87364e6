"""Delivery at scale: the reconciler at 1,000 and 10,000 organizations x 3 registries (empty
cluster, all drifted, in sync), a save with and without a cluster, and the time from a save to
the Secret being in the cluster with a worker running. The fake API server runs in a process of
its own, and each reconcile pass in a fresh process, so the time and peak memory printed are the
reconciler's alone.

    .venv/bin/python benchmarks/delivery.py [COUNTS...]      (default: 1000 10000)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.managers import BaseManager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Before this change, from the measurements at 10,000 organizations x 3 registries.
BEFORE = {
    "in sync": "15 s, 263 MiB, 3 API calls, 10,004 SQL queries, 30,000 decryptions",
    "empty cluster": "119 s, 100,004 SQL queries",
    "drift growth": "15.5x from 1,000 to 10,000",
    "save ratio": "1.6-1.8x",
}


def _environment(database: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "orgsettings.settings",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{database}",
        "KUBECONFIG": "",
        "PYTHONPATH": str(ROOT),
    }


def _setup_django(database: Path) -> None:
    os.environ.update(_environment(database))
    import django

    django.setup()


# -- the fake API server, in a process of its own ----------------------------------------------


class _Fake:
    """Proxied to the fake server's process: bulk set-up and the request log in summary."""

    def __init__(self) -> None:
        from tests.fakekube import FakeKubeServer

        self.server = FakeKubeServer(default_sa_delay=None).start()

    def kubeconfig(self, path: str) -> str:
        return self.server.write_kubeconfig(path).read_text()

    def reset(self) -> None:
        self.server.reset()

    def add_namespaces(self, names: list[str]) -> None:
        for name in names:
            self.server.add_namespace(name)

    def drift_all(self) -> None:
        """Every Secret edited by someone, every reference removed."""
        server = self.server
        with server._lock:
            for secret in server._store["secrets"].values():
                secret["data"][".dockerconfigjson"] = "eyJhdXRocyI6e319"
            for account in server._store["serviceaccounts"].values():
                account.pop("imagePullSecrets", None)

    def clear_requests(self) -> None:
        self.server.clear_requests()

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for request in self.server.requests:
            counts[request.method] = counts.get(request.method, 0) + 1
        return counts

    def has_entry(self, namespace: str, address: str) -> bool:
        from delivery.dockerconfig import decode_config

        secret = self.server.get_object("secrets", namespace, "org-registry-credentials")
        if secret is None:
            return False
        return address in (decode_config(secret["data"][".dockerconfigjson"]) or {}).get(
            "auths", {}
        )


class _Manager(BaseManager):
    pass


_Manager.register("Fake", _Fake)


# -- one reconcile pass, measured in a fresh process -------------------------------------------


def _measure_pass(database: Path) -> dict:
    """Child: one reconcile pass; prints its time, SQL queries, decryptions and peak memory."""
    _setup_django(database)
    import resource

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from delivery.reconcile import reconcile
    from registries.models import ContainerRegistry

    field = ContainerRegistry._meta.get_field("password")
    original = type(field).from_db_value
    decrypted = [0]

    def counting(self, value, *args):
        if self.model is ContainerRegistry:
            decrypted[0] += 1
        return original(self, value, *args)

    type(field).from_db_value = counting
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        report = reconcile()
    elapsed = time.perf_counter() - started
    # A --loop reconciler pays the client's first-call set-up once: the next pass shows it.
    again = time.perf_counter()
    reconcile()
    warm = time.perf_counter() - again
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": elapsed,
        "warm_seconds": warm,
        "queries": len(queries),
        "decryptions": decrypted[0],
        "peak_mib": peak,
        "errors": len(report.errors),
        "targets": report.targets,
    }


def _run_pass(database: Path) -> dict:
    result = subprocess.run(  # noqa: S603 (our own script)
        [sys.executable, __file__, "--measure-pass", str(database)],
        env=_environment(database),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- the scenarios -------------------------------------------------------------------------------


def _populate(count: int, fake, clusters) -> None:
    from django.db import transaction

    from delivery.models import DeliveryTarget
    from orgsettings.models import Organization
    from registries.models import AuthType, ContainerRegistry

    DeliveryTarget.objects.all().delete()
    Organization.objects.all().delete()
    with transaction.atomic():
        organizations = Organization.objects.bulk_create(
            Organization(slug=f"bench{i}", name=f"Bench {i}", namespace=f"org-bench{i}")
            for i in range(count)
        )
        ContainerRegistry.objects.bulk_create(
            ContainerRegistry(
                organization=organization,
                display_name=f"Registry {n}",
                address=f"r{n}.org{organization.pk}.example.com",
                auth_type=AuthType.BASIC,
                username="robot",
                password=f"password-{organization.pk}-{n}",
            )
            for organization in organizations
            for n in range(3)
        )
        for cluster in clusters:
            DeliveryTarget.objects.bulk_create(
                DeliveryTarget(organization=o, cluster=cluster, namespace=o.namespace)
                for o in organizations
            )
    fake.reset()
    fake.add_namespaces([o.namespace for o in organizations])


def reconciler_at(count: int, database: Path, fake, cluster) -> dict:
    _populate(count, fake, [cluster])
    results = {}
    for label, prepare in (
        ("empty cluster", None),
        ("all drifted", fake.drift_all),
        ("in sync", None),
    ):
        if prepare:
            prepare()
        fake.clear_requests()
        measured = _run_pass(database)
        measured["requests"] = fake.summary()
        results[label] = measured
        requests = ", ".join(f"{m} {n}" for m, n in sorted(measured["requests"].items()))
        warm = f" (next pass {measured['warm_seconds']:.2f} s)" if label == "in sync" else ""
        print(
            f"  {label:<14} {measured['seconds']:7.2f} s{warm}  {measured['peak_mib']:6.0f} MiB  "
            f"{measured['queries']:>6} SQL  {measured['decryptions']:>6} decryptions  "
            f"requests: {requests}  errors: {measured['errors']}",
            flush=True,
        )
    return results


def save_ratio(fake, cluster_row) -> tuple[float, float]:
    """Median seconds of a registry save without any cluster, and with the organization placed
    on one (the save queues a delivery; no sync runs in the saving process)."""
    from delivery.models import DeliveryTarget
    from orgsettings.models import Organization
    from registries.services import registry_create, registry_update

    def timed(organization) -> float:
        registry = registry_create(
            organization,
            actor=None,
            display_name="Saved",
            address="saved.example.com",
            auth_type="BasicAuth",
            username="u",
            password="p0",
        )
        samples = []
        for n in range(150):
            started = time.perf_counter()
            registry = registry_update(
                registry, actor=None, expected_version=registry.version, password=f"p{n + 1}"
            )
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    DeliveryTarget.objects.all().delete()
    without = Organization.objects.create(slug="save-without", name="Without")
    with_cluster = Organization.objects.create(slug="save-with", name="With")
    DeliveryTarget.objects.create(
        organization=with_cluster, cluster=cluster_row, namespace="org-save-with"
    )
    return timed(without), timed(with_cluster)


def save_to_secret(database: Path, fake, cluster_row) -> list[float]:
    """Seconds from a committed save to its entry in the cluster, with a db_worker running."""
    from django_tasks_db.models import DBTaskResult

    from delivery.models import DeliveryTarget
    from orgsettings.models import Organization
    from registries.services import registry_create

    DBTaskResult.objects.all().delete()
    DeliveryTarget.objects.all().delete()
    Organization.objects.filter(slug="latency").delete()
    organization = Organization.objects.create(slug="latency", name="Latency")
    fake.add_namespaces([organization.namespace])
    worker = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "db_worker",
            "--no-startup-delay",
            "--no-reload",
            "--interval",
            "0.1",
        ],
        cwd=ROOT,
        env=_environment(database),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        DeliveryTarget.objects.create(
            organization=organization, cluster=cluster_row, namespace=organization.namespace
        )
        samples = []
        for n in range(10):
            address = f"latency{n}.example.com"
            started = time.perf_counter()
            registry_create(
                organization,
                actor=None,
                display_name=f"L{n}",
                address=address,
                auth_type="BasicAuth",
                username="u",
                password="p",
            )
            while not fake.has_entry(organization.namespace, address):
                if time.perf_counter() - started > 30:
                    raise RuntimeError("the worker did not deliver within 30 s")
                time.sleep(0.01)
            samples.append(time.perf_counter() - started)
        return samples
    finally:
        worker.kill()
        worker.wait()


def main(counts: list[int]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="delivery-bench-"))
    database = workdir / "bench.sqlite3"
    _setup_django(database)
    from django.core.management import call_command

    from delivery.models import Cluster

    call_command("migrate", verbosity=0)
    manager = _Manager()
    manager.start()
    fake = manager.Fake()
    cluster = Cluster.objects.create(
        name="bench",
        connection="kubeconfig",
        kubeconfig=fake.kubeconfig(str(workdir / "kubeconfig")),
    )
    print(
        "Reconciler, one cluster, 3 registries per organization (before: in sync at 10,000 "
        f"{BEFORE['in sync']}; empty cluster {BEFORE['empty cluster']}):"
    )
    empty_times = {}
    for count in counts:
        print(f"{count} organizations:", flush=True)
        results = reconciler_at(count, database, fake, cluster)
        empty_times[count] = (
            results["empty cluster"]["seconds"],
            results["all drifted"]["seconds"],
        )
    if len(counts) >= 2:
        low, high = counts[0], counts[-1]
        print(
            f"Growth {low:,} -> {high:,}: empty cluster {empty_times[high][0] / empty_times[low][0]:.1f}x, "
            f"all drifted {empty_times[high][1] / empty_times[low][1]:.1f}x "
            f"(target <= {high / low * 1.1:.0f}x; before: {BEFORE['drift growth']})"
        )
    without, with_cluster = save_ratio(fake, cluster)
    print(
        f"A registry save: {without * 1000:.1f} ms without a cluster, {with_cluster * 1000:.1f} ms "
        f"with one: {with_cluster / without:.2f}x (target <= 1.15x; before: {BEFORE['save ratio']})"
    )
    samples = save_to_secret(database, fake, cluster)
    print(
        f"Save to Secret in the cluster, db_worker --interval 0.1 running: median "
        f"{statistics.median(samples) * 1000:.0f} ms, max {max(samples) * 1000:.0f} ms (10 saves)"
    )
    manager.shutdown()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure-pass"]:
        print(json.dumps(_measure_pass(Path(sys.argv[2]))))
    else:
        main([int(a) for a in sys.argv[1:]] or [1000, 10000])
