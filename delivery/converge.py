"""Bringing one delivery target (an organization on one cluster, in one namespace) to what the
database says it must hold, against a snapshot of what the cluster holds.

Every step reads what is there and writes only what differs, so running it again is harmless:
the same code serves the task after a save and the reconciler's pass. Only our Secret's name is
added to or removed from a ServiceAccount's `imagePullSecrets`, with the resourceVersion it read
(409 Conflict: re-read, retry), so entries of others are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from . import kube
from .dockerconfig import SECRET_TYPE, decode_config
from .kube import Cluster, ClusterError, SecretState, ServiceAccountState

_CONFLICT_RETRIES = 5
# Errors that no other namespace of the cluster would answer differently.
_CLUSTER_WIDE_TROUBLE = {"unreachable", "timeout", "unauthorized", "server-error"}


def secret_name() -> str:
    return settings.REGISTRY_SECRET_NAME


def namespaced() -> bool:
    """The namespaced RBAC scope: no cluster-wide request for Secrets or ServiceAccounts."""
    return settings.REGISTRY_RBAC_SCOPE == "namespaced"


@dataclass
class Snapshot:
    """What a cluster holds that delivery needs: our Secrets and the ServiceAccounts named in
    REGISTRY_SERVICE_ACCOUNTS, by namespace. `namespaces` is None when not listed;
    `unreadable` holds the namespaces (namespaced scope) whose reads failed, with the error."""

    namespaces: set[str] | None = None
    secrets: dict[tuple[str, str], SecretState] = field(default_factory=dict)
    service_accounts: dict[tuple[str, str], ServiceAccountState] = field(default_factory=dict)
    unreadable: dict[str, ClusterError] = field(default_factory=dict)
    writes: int = 0

    def secret(self, namespace: str) -> SecretState | None:
        return self.secrets.get((namespace, secret_name()))


def cluster_snapshot(cluster: Cluster, namespaces: set[str]) -> Snapshot:
    """A whole cluster, with a fixed number of paged LIST calls whatever its size; in the
    namespaced scope, `namespaces` one by one (a LIST and a GET per ServiceAccount name each),
    where a namespace that cannot be read fails only its own targets."""
    if namespaced():
        snapshot = Snapshot()
        for namespace in sorted(namespaces):
            try:
                _read_namespace(cluster, snapshot, namespace, slug=None)
            except ClusterError as error:
                if error.kind in _CLUSTER_WIDE_TROUBLE:
                    raise  # the next namespace would only wait for the same answer
                snapshot.unreadable[namespace] = error
        return snapshot
    snapshot = Snapshot(namespaces=cluster.list_namespaces())
    for secret in cluster.list_managed_secrets():
        snapshot.secrets[(secret.namespace, secret.name)] = secret
    for name in settings.REGISTRY_SERVICE_ACCOUNTS:
        for account in cluster.list_service_accounts(name):
            snapshot.service_accounts[(account.namespace, account.name)] = account
    return snapshot


def organization_snapshot(cluster: Cluster, slug: str, namespaces: set[str]) -> Snapshot:
    """One organization: its Secrets by label, cluster-wide (which also finds the ones left in
    a namespace it moved away from), and the ServiceAccounts of those namespaces. In the
    namespaced scope only `namespaces` are read."""
    snapshot = Snapshot()
    if namespaced():
        for namespace in sorted(namespaces):
            _read_namespace(cluster, snapshot, namespace, slug=slug)
        return snapshot
    for secret in cluster.list_managed_secrets(slug):
        snapshot.secrets[(secret.namespace, secret.name)] = secret
    for namespace in namespaces | {ns for ns, _ in snapshot.secrets}:
        _read_service_accounts(cluster, snapshot, namespace)
    return snapshot


def _read_namespace(cluster: Cluster, snapshot: Snapshot, namespace: str, *, slug) -> None:
    try:
        secrets = list(cluster.list_managed_secrets(slug, namespace=namespace))
    except ClusterError as error:
        if error.kind != "namespace-missing":
            raise
        return  # converge answers for the missing namespace
    for secret in secrets:
        snapshot.secrets[(secret.namespace, secret.name)] = secret
    _read_service_accounts(cluster, snapshot, namespace)


def _read_service_accounts(cluster: Cluster, snapshot: Snapshot, namespace: str) -> None:
    for name in settings.REGISTRY_SERVICE_ACCOUNTS:
        account = cluster.read_service_account(namespace, name)
        if account is not None:
            snapshot.service_accounts[(namespace, name)] = account


def in_sync(snapshot: Snapshot, slug: str, namespace: str, digest: str) -> bool:
    """Whether the target holds a Secret with this digest and every reference to it, from the
    snapshot alone: no decryption, no request."""
    secret = snapshot.secret(namespace)
    if (
        secret is None
        or not digest
        or secret.digest != digest
        or secret.type != SECRET_TYPE
        or secret.labels.get(kube.ORGANIZATION_LABEL) != slug
        or not secret.is_managed
    ):
        return False
    for account_name in settings.REGISTRY_SERVICE_ACCOUNTS:
        account = snapshot.service_accounts.get((namespace, account_name))
        if account is None or secret_name() not in account.pull_secrets:
            return False
    return True


def converge(
    cluster: Cluster, snapshot: Snapshot, *, slug: str, namespace: str, data_value: str
) -> str:
    """Make the target hold `data_value` and our references; returns the delivered digest."""
    if snapshot.namespaces is not None and namespace not in snapshot.namespaces:
        _ensure_namespace(cluster, snapshot, slug, namespace)
    try:
        delivered = _ensure_secret(cluster, snapshot, slug, namespace, data_value)
    except ClusterError as error:
        if error.kind != "namespace-missing" or snapshot.namespaces is not None:
            raise
        _ensure_namespace(cluster, snapshot, slug, namespace)
        snapshot.secrets.pop((namespace, secret_name()), None)
        delivered = _ensure_secret(cluster, snapshot, slug, namespace, data_value)
    missing = []
    for account_name in settings.REGISTRY_SERVICE_ACCOUNTS:
        account = snapshot.service_accounts.get((namespace, account_name))
        if not _ensure_reference(cluster, snapshot, namespace, account_name, account):
            missing.append(account_name)
    if missing:
        # The namespace's `default` ServiceAccount appears shortly after the namespace.
        names = ", ".join(f"“{m}”" for m in missing)
        raise ClusterError(
            "service-account-missing", f"Waiting for ServiceAccount {names} in “{namespace}”."
        )
    return delivered


def remove(cluster: Cluster, snapshot: Snapshot, namespace: str, name: str) -> None:
    """Take our Secret out of the namespace's ServiceAccounts, then delete it."""
    for (account_namespace, _), account in list(snapshot.service_accounts.items()):
        if account_namespace == namespace:
            _remove_reference(cluster, snapshot, account, name)
    cluster.delete_secret(namespace, name)
    snapshot.secrets.pop((namespace, name), None)
    snapshot.writes += 1


def remove_strays(
    cluster: Cluster, snapshot: Snapshot, wanted: set[tuple[str, str]], *, slug: str | None = None
) -> list[str]:
    """Delete our Secrets (of `slug`, or all) that no target accounts for: `wanted` holds the
    (organization slug, namespace) pairs placed on this cluster."""
    removed = []
    for (namespace, name), secret in list(snapshot.secrets.items()):
        owner = secret.labels.get(kube.ORGANIZATION_LABEL, "")
        if slug is not None and owner != slug:
            continue
        if name == secret_name() and (owner, namespace) in wanted:
            continue
        remove(cluster, snapshot, namespace, name)
        removed.append(f"{namespace}/{name}")
    return removed


def _ensure_namespace(cluster: Cluster, snapshot: Snapshot, slug: str, namespace: str) -> None:
    if not settings.REGISTRY_CREATE_NAMESPACES:
        raise ClusterError("namespace-missing", f"Namespace “{namespace}” does not exist.")
    cluster.create_namespace(namespace, kube.managed_labels(slug))
    snapshot.writes += 1
    if snapshot.namespaces is not None:
        snapshot.namespaces.add(namespace)


def _ensure_secret(
    cluster: Cluster, snapshot: Snapshot, slug: str, namespace: str, data_value: str
) -> str:
    name = secret_name()
    labels = kube.managed_labels(slug)
    current = snapshot.secret(namespace)
    wanted_config = None
    for _ in range(_CONFLICT_RETRIES):
        if current is None:
            try:
                cluster.create_secret(namespace, name, labels, data_value)
                snapshot.writes += 1
                return kube.secret_digest(data_value)
            except ClusterError as error:
                if error.kind != "already-exists":
                    raise
                current = cluster.read_secret(namespace, name)
                continue
        if not current.is_managed:
            raise ClusterError(
                "not-ours",
                f"A Secret named “{name}” that the platform does not manage already exists in “{namespace}”.",
                retriable=False,
            )
        labelled = all(current.labels.get(k) == v for k, v in labels.items())
        if current.type == SECRET_TYPE and labelled:
            if current.data_value == data_value:
                return current.digest
            # The same entries written another way (key order, spacing) are not a drift.
            if wanted_config is None:
                wanted_config = decode_config(data_value)
            if current.config == wanted_config:
                return current.digest
        if current.type != SECRET_TYPE:
            # A Secret's type cannot change: replace it whole.
            cluster.delete_secret(namespace, name)
            snapshot.writes += 1
            current = None
            continue
        try:
            cluster.replace_secret(current, {**current.labels, **labels}, data_value)
            snapshot.writes += 1
            return kube.secret_digest(data_value)
        except ClusterError as error:
            if error.kind not in ("conflict", "not-found"):
                raise
            current = cluster.read_secret(namespace, name)
    raise ClusterError(
        "conflict", f"The Secret in “{namespace}” kept changing; it will be retried."
    )


def _ensure_reference(
    cluster: Cluster,
    snapshot: Snapshot,
    namespace: str,
    account_name: str,
    account: ServiceAccountState | None,
) -> bool:
    """Add our Secret to the account's imagePullSecrets, keeping every other entry. False when
    the ServiceAccount does not exist (yet)."""
    secret = secret_name()
    for attempt in range(_CONFLICT_RETRIES):
        if account is None or attempt:
            account = cluster.read_service_account(namespace, account_name)
            if account is None:
                return False
        if secret in account.pull_secrets:
            return True
        try:
            cluster.set_pull_secrets(account, [*account.pull_secrets, secret])
            snapshot.writes += 1
            return True
        except ClusterError as error:
            if error.kind not in ("conflict", "not-found"):
                raise
    raise ClusterError(
        "conflict",
        f"ServiceAccount “{account_name}” in “{namespace}” kept changing; it will be retried.",
    )


def _remove_reference(
    cluster: Cluster, snapshot: Snapshot, account: ServiceAccountState, secret: str
) -> None:
    for attempt in range(_CONFLICT_RETRIES):
        if attempt:
            account = cluster.read_service_account(account.namespace, account.name)
            if account is None:
                return
        if secret not in account.pull_secrets:
            return
        try:
            cluster.set_pull_secrets(account, [n for n in account.pull_secrets if n != secret])
            snapshot.writes += 1
            return
        except ClusterError as error:
            if error.kind not in ("conflict", "not-found"):
                raise
    raise ClusterError(
        "conflict", f"ServiceAccount “{account.name}” in “{account.namespace}” kept changing."
    )
