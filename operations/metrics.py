"""/metrics in Prometheus' text format (names start with `orgsettings_`).

Two kinds of figures:
- counted by the process that serves the request: requests, and the connection tests
  (counted in registries/connection_test). Under gunicorn, every worker process writes them to
  PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py sets it) and a scrape adds them up;
- read from the database at scrape time (`DatabaseCollector`): delivery targets, pending
  removals, the task queue and the reconciler's last pass. Every web replica answers the same, whichever one a
  scrape reaches, and the worker and reconciler need no HTTP server of their own.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from delivery.models import DeliveryTarget, PendingRemoval, TargetStatus

logger = logging.getLogger(__name__)

REQUESTS = Counter(
    "orgsettings_http_requests_total",
    "HTTP requests served, by method, view and status code.",
    ["method", "view", "status"],
)
REQUEST_DURATION = Histogram(
    "orgsettings_http_request_duration_seconds",
    "Time to answer an HTTP request, by view.",
    ["view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def observe_request(method: str, view: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, view, str(status)).inc()
    REQUEST_DURATION.labels(view).observe(seconds)


# Delivery targets: what must be in which cluster, and how that stands.


def delivery_targets() -> tuple[dict[tuple[str, str], int], datetime | None]:
    """Delivery targets counted by (cluster, status), and since when the longest-failing one
    fails (None when none does). Two queries, whatever the number of targets."""
    counts = {
        (row["cluster__name"], row["status"]): row["count"]
        for row in DeliveryTarget.objects.order_by()
        .values("cluster__name", "status")
        .annotate(count=Count("id"))
    }
    oldest = DeliveryTarget.objects.filter(status=TargetStatus.ERROR).aggregate(
        since=Min("failing_since")
    )["since"]
    if oldest is None and any(status == TargetStatus.ERROR for _, status in counts):
        oldest = timezone.now()
    return counts, oldest


def pending_removals() -> dict[str, int]:
    """Removals the clusters have not confirmed yet, by cluster name. One query."""
    return {
        row["cluster__name"]: row["count"]
        for row in PendingRemoval.objects.order_by()
        .values("cluster__name")
        .annotate(count=Count("id"))
    }


def queue_state() -> list[tuple[str, int, float]]:
    """(queue, tasks waiting, seconds the longest-waiting task has been due) per queue."""
    from django_tasks_db.models import DBTaskResult

    now = timezone.now()
    rows = (
        DBTaskResult.objects.ready()
        .values("queue_name")
        .annotate(depth=Count("id"), oldest=Min("enqueued_at"), due=Min("run_after"))
    )
    result = []
    for row in rows:
        # A retry deferred on purpose is not late until its time has come.
        waiting_since = max(row["oldest"], min(row["due"], now))
        result.append(
            (row["queue_name"], row["depth"], max(0.0, (now - waiting_since).total_seconds()))
        )
    return result


class DatabaseCollector(Collector):
    """Figures read from the database on every scrape."""

    def collect(self) -> Iterator:
        up = GaugeMetricFamily(
            "orgsettings_database_up", "1 when the database answered this scrape's queries."
        )
        try:
            families = list(self._families())
        except DatabaseError as error:
            logger.warning("Metrics: the database did not answer (%s).", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator:
        targets = GaugeMetricFamily(
            "orgsettings_delivery_targets",
            "Delivery targets (an organization's Secret in one cluster) by cluster and status.",
            labels=["cluster", "status"],
        )
        counts, oldest_failure = delivery_targets()
        for (cluster, status), count in sorted(counts.items()):
            targets.add_metric([cluster, status], count)
        yield targets
        age = GaugeMetricFamily(
            "orgsettings_delivery_oldest_failing_target_age_seconds",
            "How long the target failing the longest has been failing (0: none fails).",
        )
        now = timezone.now()
        age.add_metric([], (now - oldest_failure).total_seconds() if oldest_failure else 0.0)
        yield age

        removals = GaugeMetricFamily(
            "orgsettings_delivery_pending_removals",
            "Secrets still to be removed from a namespace the cluster has not confirmed, by"
            " cluster (a deleted organization, or one moved away in the namespaced scope).",
            labels=["cluster"],
        )
        for cluster, count in sorted(pending_removals().items()):
            removals.add_metric([cluster], count)
        yield removals

        depth = GaugeMetricFamily(
            "orgsettings_delivery_queue_depth",
            "Deliveries and other tasks waiting for a worker, by queue.",
            labels=["queue"],
        )
        waiting = GaugeMetricFamily(
            "orgsettings_delivery_queue_oldest_age_seconds",
            "How long the longest-waiting due task has waited for a worker, by queue.",
            labels=["queue"],
        )
        queues = queue_state() or [("default", 0, 0.0)]
        for queue, count, seconds in queues:
            depth.add_metric([queue], count)
            waiting.add_metric([queue], seconds)
        yield depth
        yield waiting
        yield from _reconcile_families()


def _reconcile_families() -> Iterator:
    from .models import ReconcilePass

    row = ReconcilePass.objects.filter(name="reconciler").first()
    if row is None:
        return
    figures = [
        (
            "orgsettings_reconcile_last_success_timestamp_seconds",
            "When the last complete reconcile pass ended (Unix time).",
            row.last_complete_at.timestamp() if row.last_complete_at else 0.0,
        ),
        (
            "orgsettings_reconcile_last_pass_timestamp_seconds",
            "When the last reconcile pass ended, complete or not (Unix time).",
            row.last_finished_at.timestamp() if row.last_finished_at else 0.0,
        ),
        (
            "orgsettings_reconcile_last_pass_duration_seconds",
            "How long the last reconcile pass took.",
            row.duration_seconds,
        ),
        (
            "orgsettings_reconcile_last_pass_api_calls",
            "Kubernetes API requests the last reconcile pass made.",
            row.api_calls,
        ),
        (
            "orgsettings_reconcile_last_pass_failed_targets",
            "Delivery targets the last reconcile pass could not bring in sync.",
            row.failed_targets,
        ),
        (
            "orgsettings_reconcile_interval_seconds",
            "Seconds the reconciler waits between passes (--interval).",
            row.interval_seconds,
        ),
    ]
    for name, documentation, value in figures:
        family = GaugeMetricFamily(name, documentation)
        family.add_metric([], value)
        yield family


class _ProcessCollector(Collector):
    """This process's own counters, when there are no worker processes to add up."""

    def collect(self) -> Iterator:
        yield from REGISTRY.collect()


def render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessCollector())
    registry.register(DatabaseCollector())
    started = time.perf_counter()
    output = generate_latest(registry)
    logger.debug("Metrics rendered in %.3f s", time.perf_counter() - started)
    return output


# Who may scrape.


def scrape_refusal(remote_addr: str, authorization: str) -> int | None:
    """None when the scraper may read /metrics; otherwise the status to answer with."""
    token = settings.METRICS_TOKEN
    if token and _token_matches(authorization, token):
        return None
    if _in_allowed_networks(remote_addr):
        return None
    if not token and not settings.METRICS_ALLOWED_NETWORKS:
        return 404  # Metrics are off until an operator says who may read them.
    return 401 if token else 403


def _token_matches(authorization: str, token: str) -> bool:
    import hmac

    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def _in_allowed_networks(remote_addr: str) -> bool:
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(address in network for network in allowed_networks())


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """METRICS_ALLOWED_NETWORKS parsed; ValueError names an entry that is not a CIDR."""
    networks = settings.METRICS_ALLOWED_NETWORKS
    if isinstance(networks, str):
        networks = networks.split(",")
    parsed = []
    for entry in networks:
        entry = entry.strip()
        if not entry:
            continue
        try:
            parsed.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not a network like 10.0.0.0/8") from None
    return parsed
