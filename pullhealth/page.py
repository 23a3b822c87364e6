"""What the Registries section shows of pull health: read-only, from the stored state.

The page never asks a cluster: the worker and the reconciler store what they read (models.py),
and this reads it back in two queries whatever the number of rows (the targets' PullHealth, and
every stored failure of the organization with its registry's name), decrypting nothing. An
organization placed on no cluster costs no query at all.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.humanize.templatetags.humanize import naturaltime

from delivery.models import DeliveryTarget

from .causes import NO_REGISTRY_MATCHES, Cause
from .models import PullFailure, PullHealth, WorkloadKind
from .restarts import MANUAL_CAUSES, Skip

NOT_PERMITTED = "not permitted"
# Why the pods could not be read (ClusterError kinds), in the words after "not available: ".
_UNAVAILABLE = {
    "forbidden": NOT_PERMITTED,
    "unauthorized": "the cluster refused the platform's credentials",
    "unreachable": "the cluster is unreachable",
    "timeout": "the cluster did not answer in time",
    "namespace-missing": "the namespace does not exist",
}
_CAUSE_ORDER = {cause.value: index for index, cause in enumerate(Cause)}


@dataclass(frozen=True)
class FailureLine:
    """One workload that cannot pull one image, as the list shows it."""

    cluster: str
    namespace: str
    kind: str
    name: str
    container: str
    init: bool
    image: str
    cause: str
    message: str
    since: datetime
    registry_id: int | None
    registry_name: str
    controller_owned: bool
    references_secret: bool
    pods: int

    @property
    def workload_key(self) -> tuple[str, str, str, str]:
        return (self.cluster, self.kind, self.namespace, self.name)

    @property
    def cause_words(self) -> str:
        return Cause(self.cause).label

    @property
    def bare_pod(self) -> bool:
        """A pod no controller owns: deleting it would lose it, so its owner recreates it."""
        return self.kind == WorkloadKind.POD and not self.controller_owned


# What the page says of a workload a restart leaves alone: the restart rules' reason, and what
# to do about it where there is something to do.
_LEFT_ALONE_WORDS = {
    Skip.NO_REGISTRY: f"{NO_REGISTRY_MATCHES}: add the registry first",
    Skip.IMAGE_NOT_FOUND: "image not found: a restart cannot fix it",
    Skip.BARE_POD: "recreate it yourself",
}
_LEFT_ALONE_ORDER = [*_LEFT_ALONE_WORDS.values(), Skip.NOT_FIXABLE]


@dataclass(frozen=True)
class RestartEstimate:
    """What a restart would do with what is stored: the workloads it restarts, and those it
    leaves alone by reason. The worker reads the cluster again and decides for good
    (restarts.plan_restarts); the one thing only it can see is a paused Deployment."""

    restart: tuple[FailureLine, ...] = ()
    left: tuple[tuple[str, tuple[FailureLine, ...]], ...] = ()

    @property
    def count(self) -> int:
        return len(self.restart)

    @property
    def left_count(self) -> int:
        return sum(len(lines) for _, lines in self.left)

    @property
    def total(self) -> int:
        return self.count + self.left_count

    @property
    def may_be_paused(self) -> bool:
        """Whether a Deployment to restart may turn out paused, which the stored state does
        not say: then the page's words are an estimate."""
        return any(line.kind == WorkloadKind.DEPLOYMENT for line in self.restart)

    @property
    def left_words(self) -> str:
        """ "recreate it yourself (1); no registry matches: add the registry first (2)"."""
        return "; ".join(f"{why} ({len(lines)})" for why, lines in self.left)


def restart_estimate(
    failures: Sequence[FailureLine], *, registry_id: int | None = None
) -> RestartEstimate:
    """Which of the failing workloads a restart of one registry (None: every registry) restarts
    and which it leaves alone, by the rules the worker applies (restarts.plan_restarts): one
    line per workload. `failures` are every failure of the organization: an image not found
    from another registry keeps a workload's new pods failing too."""
    by_workload: dict[tuple, list[FailureLine]] = {}
    for failure in failures:
        by_workload.setdefault(failure.workload_key, []).append(failure)
    restart: list[FailureLine] = []
    left: dict[str, list[FailureLine]] = {}
    for lines in by_workload.values():
        chosen = [
            f for f in lines if f.registry_id is not None and registry_id in (None, f.registry_id)
        ]
        if not chosen:
            if registry_id is None:
                left.setdefault(_LEFT_ALONE_WORDS[Skip.NO_REGISTRY], []).append(lines[0])
            continue
        why = _left_alone(lines, chosen)
        if why:
            left.setdefault(why, []).append(chosen[0])
        else:
            restart.append(chosen[0])
    reasons = sorted(left, key=_LEFT_ALONE_ORDER.index)
    return RestartEstimate(
        restart=tuple(restart), left=tuple((why, tuple(left[why])) for why in reasons)
    )


def _left_alone(lines: list[FailureLine], chosen: list[FailureLine]) -> str:
    if any(f.cause == Cause.IMAGE_NOT_FOUND for f in lines):
        return _LEFT_ALONE_WORDS[Skip.IMAGE_NOT_FOUND]
    if not all(f.cause in MANUAL_CAUSES for f in chosen):
        return Skip.NOT_FIXABLE
    if chosen[0].bare_pod:
        return _LEFT_ALONE_WORDS[Skip.BARE_POD]
    return ""


@dataclass(frozen=True)
class ClusterHealth:
    cluster: str
    namespace: str
    read_at: datetime | None
    # Why the pods could not be read, "" when they were: "not permitted" for RBAC.
    unavailable: str

    @property
    def words(self) -> str:
        if self.unavailable:
            return f"pull health not available: {self.unavailable}"
        if self.read_at is None:
            return "not checked yet"
        return f"checked {naturaltime(self.read_at)}"


def _workloads(failures: Iterable[FailureLine]) -> int:
    return len({failure.workload_key for failure in failures})


def failure_summary(failures: Sequence[FailureLine]) -> str:
    """ "2 workloads can't pull: credentials refused", with each cause's count when they differ:
    "3 workloads can't pull: credentials refused (2), image not found (1)"."""
    if not failures:
        return ""
    total = _workloads(failures)
    per_cause = Counter()
    for cause in {(f.cause, f.workload_key) for f in failures}:
        per_cause[cause[0]] += 1
    causes = sorted(per_cause, key=_CAUSE_ORDER.__getitem__)
    noun = "workload" if total == 1 else "workloads"
    if len(causes) == 1:
        words = Cause(causes[0]).label
    else:
        words = ", ".join(f"{Cause(cause).label} ({per_cause[cause]})" for cause in causes)
    return f"{total} {noun} can't pull: {words}"


@dataclass(frozen=True)
class RowHealth:
    """What one registry's row says: its failing workloads, and the clusters that could not
    be read (then what was read before still shows)."""

    pk: int
    failures: tuple[FailureLine, ...]
    unavailable: tuple[ClusterHealth, ...]
    checked: str
    several_clusters: bool
    # What its restart button would do, reckoned with every failure of the organization.
    estimate: RestartEstimate = RestartEstimate()

    @property
    def summary(self) -> str:
        return failure_summary(self.failures)

    @property
    def workloads(self) -> int:
        """Failing workloads, each counted once per cluster whatever its images."""
        return _workloads(self.failures)

    @property
    def unavailable_words(self) -> tuple[str, ...]:
        if not self.several_clusters:
            return tuple(c.words for c in self.unavailable)
        return tuple(
            f"pull health not available on {c.cluster}: {c.unavailable}" for c in self.unavailable
        )

    @property
    def restartable(self) -> int:
        """Workloads a restart may help (the worker decides for good, with what it reads)."""
        return self.estimate.count

    @property
    def shown(self) -> bool:
        return bool(self.failures or self.unavailable)

    @property
    def signature(self) -> str:
        if not self.shown:
            return "0"
        # Without the age: that changes every pass, and is refreshed on its own (`ages`).
        return _digest((self.summary, self.unavailable_words, self.failures, self.estimate))


@dataclass(frozen=True)
class OrganizationPullHealth:
    clusters: tuple[ClusterHealth, ...] = ()
    failures: tuple[FailureLine, ...] = ()
    by_registry: dict[int, tuple[FailureLine, ...]] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        """Whether the organization is on a cluster, where pull health is read."""
        return bool(self.clusters)

    @property
    def unmatched(self) -> tuple[FailureLine, ...]:
        return tuple(f for f in self.failures if f.registry_id is None)

    @property
    def unmatched_summary(self) -> str:
        count = _workloads(self.unmatched)
        if not count:
            return ""
        return f"{count} workload{'' if count == 1 else 's'} can't pull: {NO_REGISTRY_MATCHES}"

    @property
    def matched_summary(self) -> str:
        return failure_summary([f for f in self.failures if f.registry_id is not None])

    @property
    def unavailable(self) -> tuple[ClusterHealth, ...]:
        return tuple(c for c in self.clusters if c.unavailable)

    @property
    def read_at(self) -> datetime | None:
        """The oldest of the clusters' last reads: what is shown is at most this old."""
        reads = [c.read_at for c in self.clusters if c.read_at and not c.unavailable]
        return min(reads, default=None)

    @property
    def checked(self) -> str:
        return f"checked {naturaltime(self.read_at)}" if self.read_at else ""

    @property
    def workloads(self) -> int:
        return _workloads(self.failures)

    @property
    def estimate(self) -> RestartEstimate:
        """What the organization's restart button would do, every failing workload counted."""
        return restart_estimate(self.failures)

    @property
    def restartable(self) -> int:
        return self.estimate.count

    @property
    def tone(self) -> str:
        if self.failures:
            return "error"
        if self.unavailable or self.read_at is None:
            return "none"
        return "ok"

    def for_registry(self, pk: int) -> RowHealth:
        return RowHealth(
            pk=pk,
            failures=self.by_registry.get(pk, ()),
            unavailable=self.unavailable,
            checked=self.checked,
            several_clusters=len(self.clusters) > 1,
            estimate=restart_estimate(self.failures, registry_id=pk),
        )

    @property
    def signature(self) -> str:
        """What the panel shows but its ages, which change on every pass (see `ages`)."""
        clusters = tuple((c.cluster, c.unavailable, c.read_at is None) for c in self.clusters)
        return _digest((clusters, self.failures))

    @property
    def ages(self) -> str:
        """The ages shown ("checked 2 minutes ago"), which a poll refreshes by themselves."""
        return _digest((self.checked, tuple(c.words for c in self.clusters)))


def _digest(value) -> str:
    return hashlib.blake2b(repr(value).encode(), digest_size=4).hexdigest()


def pull_health_read(
    organization, *, targets: Sequence[DeliveryTarget] | None = None
) -> OrganizationPullHealth:
    """The stored pull health of `organization`. `targets` (with their clusters) saves the
    query when the page has already read them for the delivery status line."""
    if targets is None:
        targets = list(
            DeliveryTarget.objects.filter(organization=organization)
            .select_related("cluster")
            .defer("cluster__kubeconfig")
        )
    if not targets:
        return OrganizationPullHealth()
    by_target = {target.pk: target for target in targets}
    healths = {
        health.target_id: health for health in PullHealth.objects.filter(target__in=list(by_target))
    }
    clusters = tuple(
        ClusterHealth(
            cluster=target.cluster.name,
            namespace=target.namespace,
            read_at=healths[target.pk].read_at if target.pk in healths else None,
            unavailable=_unavailable(healths.get(target.pk)),
        )
        for target in sorted(targets, key=lambda t: t.cluster.name)
    )
    rows = (
        PullFailure.objects.filter(health__in=list(healths.values()))
        # The registry's name only: its credentials stay encrypted in the database.
        .select_related("registry")
        .only(*_FAILURE_FIELDS, "registry__display_name")
        .order_by()
    )
    cluster_of = {
        health.pk: by_target[target_id].cluster.name for target_id, health in healths.items()
    }
    failures = sorted(
        (_line(row, cluster_of[row.health_id]) for row in rows),
        key=lambda f: (f.registry_name.lower(), f.cluster, f.namespace, f.kind, f.name, f.image),
    )
    by_registry: dict[int, list[FailureLine]] = {}
    for failure in failures:
        if failure.registry_id is not None:
            by_registry.setdefault(failure.registry_id, []).append(failure)
    return OrganizationPullHealth(
        clusters=clusters,
        failures=tuple(failures),
        by_registry={pk: tuple(lines) for pk, lines in by_registry.items()},
    )


_FAILURE_FIELDS = (
    "health",
    "registry",
    "namespace",
    "workload_kind",
    "workload_name",
    "controller_owned",
    "container",
    "init_container",
    "image",
    "cause",
    "message",
    "references_secret",
    "pods",
    "since",
)


def _unavailable(health: PullHealth | None) -> str:
    if health is None or not health.error_kind:
        return ""
    return _UNAVAILABLE.get(health.error_kind, "the cluster's pods could not be read")


def _line(row: PullFailure, cluster: str) -> FailureLine:
    return FailureLine(
        cluster=cluster,
        namespace=row.namespace,
        kind=row.workload_kind,
        name=row.workload_name,
        container=row.container,
        init=row.init_container,
        image=row.image,
        cause=row.cause,
        message=row.message,
        since=row.since,
        registry_id=row.registry_id,
        registry_name=row.registry.display_name if row.registry_id else "",
        controller_owned=row.controller_owned,
        references_secret=row.references_secret,
        pods=row.pods,
    )
