"""The words the Settings page uses for delivery: per registry, per cluster, and what to do.

Everything here is pure: it reads the stored state of the delivery targets (status.py) and
turns it into sentences. A target's `error_kind` is the stable code of the ClusterError that
stopped it; its `error` is the gateway's short message, which never carries a secret. The
advice names who can act (the user, or the platform operator) and what they should do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

from .models import DeliveryTarget, TargetStatus
from .status import OrganizationDelivery, RegistryDelivery

# error_kind -> the short reason, lower-case so it reads after "eu-west: ".
_REASONS = {
    "unreachable": "the cluster is unreachable",
    "timeout": "the cluster did not answer in time",
    "namespace-missing": "namespace {namespace} does not exist",
    "forbidden": "forbidden by RBAC",
    "unauthorized": "the cluster refused the platform's credentials",
    "service-account-missing": "waiting for the default ServiceAccount",
    "not-ours": "a Secret of that name is not managed by the platform",
    "config": "the cluster's configuration is unreadable",
    "conflict": "other writers kept changing it",
    "already-exists": "other writers kept changing it",
    "server-error": "the cluster answered with an error",
    "invalid": "the cluster rejected the Secret",
}

# error_kind -> what to do about it, as a sentence for the status line.
_ADVICE = {
    "namespace-missing": (
        "Ask your platform operator to create namespace {namespace} on cluster {cluster}. "
        "Delivery continues by itself once it exists."
    ),
    "forbidden": (
        "The platform's service account lacks a permission (RBAC) on cluster {cluster}. Ask "
        "your platform operator to apply the platform's RBAC role there."
    ),
    "unauthorized": (
        "Cluster {cluster} no longer accepts the platform's credentials. Ask your platform "
        "operator to renew the cluster's connection."
    ),
    "unreachable": (
        "The platform cannot reach cluster {cluster}. It keeps retrying by itself; if this "
        "lasts, tell your platform operator."
    ),
    "timeout": (
        "Cluster {cluster} is slow to answer. The platform keeps retrying by itself; if this "
        "lasts, tell your platform operator."
    ),
    "service-account-missing": (
        "Kubernetes creates the default ServiceAccount of {namespace} a few seconds after the "
        "namespace. The platform retries by itself; if this lasts for minutes, ask your "
        "platform operator why namespace {namespace} has no default ServiceAccount."
    ),
    "not-ours": (
        "A Secret named {secret} already exists in {namespace} and the platform never "
        "overwrites what it did not create. Ask whoever created it to rename or delete it, "
        "then press Sync now."
    ),
    "config": (
        "The platform cannot read its connection settings for cluster {cluster}. Ask your "
        "platform operator to fix the cluster's connection in the admin."
    ),
    "conflict": (
        "Something else kept changing the Secret or ServiceAccount in {namespace} at the same "
        "time. The platform retries by itself; if this lasts, ask your platform operator which "
        "other tool manages image-pull Secrets there."
    ),
    "server-error": (
        "Cluster {cluster} answered with a server error. The platform retries by itself; if "
        "this lasts, tell your platform operator."
    ),
    "invalid": (
        "Cluster {cluster} refused the Secret. Tell your platform operator, with the message above."
    ),
}
_ADVICE["already-exists"] = _ADVICE["conflict"]
_DEFAULT_ADVICE = "Tell your platform operator, with the message above."

NOT_DELIVERED = "Not delivered: no cluster configured"


def secret_name() -> str:
    return settings.REGISTRY_SECRET_NAME


def reason(target: DeliveryTarget) -> str:
    """Why a target is failing, in a few words."""
    template = _REASONS.get(target.error_kind)
    if template is None:
        return target.error.rstrip(".") or "delivery failed"
    return template.format(namespace=target.namespace, cluster=target.cluster.name)


def advice(target: DeliveryTarget) -> str:
    """What the user can do about a failing target."""
    template = _ADVICE.get(target.error_kind, _DEFAULT_ADVICE)
    return template.format(
        namespace=target.namespace, cluster=target.cluster.name, secret=secret_name()
    )


@dataclass(frozen=True)
class ClusterState:
    """One cluster's state as the status line or a registry's details show it."""

    cluster: str
    tone: str  # "ok", "pending" or "error": the CSS class and the icon
    words: str


@dataclass(frozen=True)
class RegistryWords:
    """The Status cell of one registry: a summary, and the state on each cluster."""

    tone: str  # "ok", "pending", "error" or "none"
    summary: str
    clusters: tuple[ClusterState, ...]

    @property
    def settled(self) -> bool:
        """Nothing left to watch: synced everywhere, or not delivered anywhere."""
        return self.tone in ("ok", "none")

    @property
    def signature(self) -> str:
        """A short digest of what the cell shows: equal signatures, equal cells."""
        text = repr((self.tone, self.summary, self.clusters))
        return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def registry_words(state: RegistryDelivery) -> RegistryWords:
    """The cell's summary ("Synced", "Pending", "Synced on 1 of 2 clusters · eu-west: the
    cluster is unreachable") and each cluster's state for its details."""
    clusters = tuple(
        sorted(
            [ClusterState(t.cluster.name, "ok", "holds it") for t in state.holding]
            + [ClusterState(t.cluster.name, "error", reason(t)) for t in state.failing]
            + [ClusterState(t.cluster.name, "pending", "pending") for t in state.waiting],
            key=lambda c: c.cluster,
        )
    )
    total = state.total
    if state.status == "not_delivered" or total == 0:
        return RegistryWords("none", "Not delivered", ())
    if state.status == "synced":
        return RegistryWords("ok", "Synced", clusters)
    held = len(state.holding)
    if state.status == "pending" and held == 0:
        return RegistryWords("pending", "Pending", clusters)
    if state.failing:
        first = min(state.failing, key=lambda t: t.cluster.name)
        why = f"{first.cluster.name}: {reason(first)}"
        if len(state.failing) > 1:
            why += f" (and {len(state.failing) - 1} more)"
        if total == 1:
            return RegistryWords("error", f"Not synced · {reason(first)}", clusters)
        if held == 0:
            return RegistryWords("error", f"Not synced · {why}", clusters)
        return RegistryWords("error", f"Synced on {held} of {total} clusters · {why}", clusters)
    waiting = ", ".join(t.cluster.name for t in state.waiting)
    return RegistryWords(
        "pending", f"Synced on {held} of {total} clusters · pending on {waiting}", clusters
    )


def words_by_registry(
    delivery: OrganizationDelivery, rows: Iterable[tuple[int, int]]
) -> dict[int, RegistryWords]:
    """Each registry's words, from (id, version) pairs. A registry's state depends only on
    which targets hold it, so registries held by the same targets share one computation:
    1,000 Synced rows cost one."""
    cache: dict[tuple[bool, ...], RegistryWords] = {}
    words = {}
    for pk, version in rows:
        key = tuple(target.holds(pk, version) for target in delivery.targets)
        if key not in cache:
            cache[key] = registry_words(delivery.for_registry(pk, version))
        words[pk] = cache[key]
    return words


@dataclass(frozen=True)
class TargetLine:
    """One target in the status line: where the Secret goes and how that went."""

    target: DeliveryTarget
    tone: str
    label: str
    reason: str = ""
    advice: str = ""

    @property
    def command(self) -> str:
        return f"kubectl get secret {secret_name()} -n {self.target.namespace}"


def target_line(target: DeliveryTarget) -> TargetLine:
    if target.status == TargetStatus.SYNCED:
        return TargetLine(target, "ok", "Synced")
    if target.status == TargetStatus.ERROR:
        return TargetLine(target, "error", "Error", reason(target), advice(target))
    if target.status == TargetStatus.REMOVING:
        return TargetLine(target, "pending", "Removing")
    return TargetLine(target, "pending", "Pending")


@dataclass(frozen=True)
class StatusLine:
    """The organization's delivery, once, above the registries table."""

    tone: str
    headline: str
    targets: tuple[TargetLine, ...]
    namespaces: tuple[str, ...]

    @property
    def configured(self) -> bool:
        return bool(self.targets)

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(f"kubectl get secret {secret_name()} -n {ns}" for ns in self.namespaces)


def status_line(delivery: OrganizationDelivery) -> StatusLine:
    lines = tuple(target_line(t) for t in delivery.targets)
    namespaces = tuple(sorted({t.namespace for t in delivery.targets}))
    if not lines:
        return StatusLine("none", NOT_DELIVERED, (), ())
    names = _and([line.target.cluster.name for line in lines])
    noun = "cluster" if len(lines) == 1 else "clusters"
    failing = [line for line in lines if line.tone == "error"]
    if failing:
        failed = _and([line.target.cluster.name for line in failing])
        return StatusLine("error", f"Delivery to {failed} failed", lines, namespaces)
    if any(line.tone == "pending" for line in lines):
        return StatusLine("pending", f"Delivering to {noun} {names}…", lines, namespaces)
    return StatusLine("ok", f"Delivered to {noun} {names}", lines, namespaces)


def status_signature(line: StatusLine, *, can_sync: bool) -> str:
    """A short digest of what the status line shows, so a poll can skip an unchanged one."""
    parts = [line.tone, line.headline, can_sync]
    for item in line.targets:
        t = item.target
        parts += [t.pk, t.cluster.name, t.namespace, item.label, item.reason, t.error]
        parts += [t.synced_at, t.failing_since]
    return hashlib.blake2b(repr(parts).encode(), digest_size=4).hexdigest()


def _and(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
