"""Bringing the cluster to the database's truth, for one organization or all of them.

Each organization owns one aggregated image-pull Secret (`REGISTRY_SECRET_NAME`) in its
namespace, referenced from the ServiceAccounts in `REGISTRY_SERVICE_ACCOUNTS`. Every step reads
what is there and writes only what differs, so running it again is harmless; that makes the
same code serve the fast path after a save and the periodic reconcile pass.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from orgsettings.audit import audit_sync_status_changed
from orgsettings.models import Organization

from . import kube
from .dockerconfig import SECRET_TYPE, build_config, encode_config
from .kube import Cluster, ClusterError, SecretState, ServiceAccountState
from .models import ContainerRegistry, SyncStatus

logger = logging.getLogger(__name__)

NO_CLUSTER_MESSAGE = "no cluster configured"
_CONFLICT_RETRIES = 5


@dataclass
class Snapshot:
    """What the cluster holds that a pass needs, read with a fixed number of LIST calls."""

    namespaces: set[str] | None
    secrets: list[SecretState]
    service_accounts: dict[tuple[str, str], ServiceAccountState]

    def secret(self, namespace: str, name: str) -> SecretState | None:
        return next((s for s in self.secrets if (s.namespace, s.name) == (namespace, name)), None)


@dataclass
class PassReport:
    organizations: int = 0
    writes: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    # The pass read the cluster and went through every organization it was given.
    complete: bool = False


class _Counter:
    def __init__(self) -> None:
        self.writes = 0


def secret_name() -> str:
    return settings.REGISTRY_SECRET_NAME


# Entry points


def sync_organization(organization_id: int) -> ClusterError | None:
    """Converge one organization now. Returns what went wrong, or None when it is in sync."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return None
    cluster = _connect_or_mark(Organization.objects.filter(pk=organization_id))
    if cluster is None:
        return ClusterError("no-cluster", NO_CLUSTER_MESSAGE, retriable=False)
    try:
        rows = _registry_versions(organization)
        try:
            snapshot = _organization_snapshot(cluster, organization)
            counter = _Counter()
            _remove_strays(
                cluster,
                snapshot,
                {organization.slug: organization.namespace},
                counter,
                only_slug=organization.slug,
            )
            _converge(cluster, organization, snapshot, counter)
        except ClusterError as error:
            _record(organization, rows, error=error.message)
            return error
        _record(organization, rows, error=None)
        return None
    finally:
        cluster.close()


def remove_organization(slug: str, namespace: str) -> None:
    """Take away what an organization had in the cluster, after it was deleted."""
    cluster = kube.connect()
    if cluster is None:
        return
    try:
        snapshot = _organization_snapshot(cluster, Organization(slug=slug, namespace=namespace))
        _remove_strays(cluster, snapshot, {}, _Counter(), only_slug=slug)
    except ClusterError as error:
        logger.warning("Removing organization %s from the cluster failed: %s", slug, error.message)
    finally:
        cluster.close()


def reconcile(organization_slug: str | None = None) -> PassReport:
    """One level-triggered pass over every organization (or one): O(1) LIST calls, then
    writes only for what differs, and every registry's sync state brought up to date."""
    organizations = list(Organization.objects.order_by("pk").prefetch_related("registries"))
    if organization_slug is not None:
        organizations = [o for o in organizations if o.slug == organization_slug]
    report = PassReport(organizations=len(organizations))
    organization_ids = [o.pk for o in organizations]
    cluster = _connect_or_mark(Organization.objects.filter(pk__in=organization_ids))
    if cluster is None:
        report.errors = dict.fromkeys((o.slug for o in organizations), NO_CLUSTER_MESSAGE)
        return report
    try:
        rows_by_org = _registry_versions_by_org(organization_ids)
        counter = _Counter()
        try:
            snapshot = _full_snapshot(cluster, organization_slug)
        except ClusterError as error:
            for organization in organizations:
                _record(organization, rows_by_org.get(organization.pk, {}), error=error.message)
                report.errors[organization.slug] = error.message
            return report
        wanted = {o.slug: o.namespace for o in organizations}
        if organization_slug is None:
            wanted = dict(Organization.objects.values_list("slug", "namespace"))
        try:
            report.removed = _remove_strays(
                cluster, snapshot, wanted, counter, only_slug=organization_slug
            )
        except ClusterError as error:
            logger.warning("Removing stray Secrets failed: %s", error.message)
        for organization in organizations:
            rows = rows_by_org.get(organization.pk, {})
            try:
                _converge(cluster, organization, snapshot, counter)
            except ClusterError as error:
                report.errors[organization.slug] = error.message
                _record(organization, rows, error=error.message)
            else:
                _record(organization, rows, error=None)
        report.writes = counter.writes
        report.complete = True
        return report
    finally:
        cluster.close()


# Reading the cluster


def _full_snapshot(cluster: Cluster, organization_slug: str | None) -> Snapshot:
    namespaces = cluster.list_namespaces()
    secrets = cluster.list_managed_secrets(organization_slug)
    accounts: dict[tuple[str, str], ServiceAccountState] = {}
    for name in settings.REGISTRY_SERVICE_ACCOUNTS:
        for account in cluster.list_service_accounts(name):
            accounts[(account.namespace, account.name)] = account
    return Snapshot(namespaces=namespaces, secrets=secrets, service_accounts=accounts)


def _organization_snapshot(cluster: Cluster, organization: Organization) -> Snapshot:
    # Secrets by label, cluster-wide: also finds the ones left in a namespace it moved away from.
    secrets = cluster.list_managed_secrets(organization.slug)
    namespaces = {s.namespace for s in secrets} | {organization.namespace}
    accounts: dict[tuple[str, str], ServiceAccountState] = {}
    for namespace in namespaces:
        for name in settings.REGISTRY_SERVICE_ACCOUNTS:
            account = cluster.read_service_account(namespace, name)
            if account is not None:
                accounts[(namespace, name)] = account
    return Snapshot(namespaces=None, secrets=secrets, service_accounts=accounts)


# Writing the cluster


def _converge(
    cluster: Cluster, organization: Organization, snapshot: Snapshot, counter: _Counter
) -> None:
    namespace, name = organization.namespace, secret_name()
    if snapshot.namespaces is not None and namespace not in snapshot.namespaces:
        _ensure_namespace(cluster, organization, counter)
    registries = sorted(organization.registries.all(), key=lambda registry: registry.pk)
    config = build_config(registries)
    try:
        _ensure_secret(cluster, organization, snapshot.secret(namespace, name), config, counter)
    except ClusterError as error:
        if error.kind != "namespace-missing" or snapshot.namespaces is not None:
            raise
        _ensure_namespace(cluster, organization, counter)
        _ensure_secret(cluster, organization, None, config, counter)
    missing = []
    for account_name in settings.REGISTRY_SERVICE_ACCOUNTS:
        account = snapshot.service_accounts.get((namespace, account_name))
        if not _ensure_reference(cluster, namespace, account_name, account, name, counter):
            missing.append(account_name)
    if missing:
        # The namespace's `default` ServiceAccount appears shortly after the namespace.
        names = ", ".join(f"“{m}”" for m in missing)
        raise ClusterError(
            "service-account-missing", f"Waiting for ServiceAccount {names} in “{namespace}”."
        )


def _ensure_namespace(cluster: Cluster, organization: Organization, counter: _Counter) -> None:
    if not settings.REGISTRY_CREATE_NAMESPACES:
        raise ClusterError(
            "namespace-missing", f"Namespace “{organization.namespace}” does not exist."
        )
    cluster.create_namespace(organization.namespace, kube.managed_labels(organization.slug))
    counter.writes += 1


def _ensure_secret(
    cluster: Cluster,
    organization: Organization,
    current: SecretState | None,
    config: dict,
    counter: _Counter,
) -> None:
    namespace, name = organization.namespace, secret_name()
    labels = kube.managed_labels(organization.slug)
    data_value = encode_config(config)
    for _ in range(_CONFLICT_RETRIES):
        if current is None:
            try:
                cluster.create_secret(namespace, name, labels, data_value)
                counter.writes += 1
                return
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
        if (
            current.config == config
            and current.type == SECRET_TYPE
            and all(current.labels.get(k) == v for k, v in labels.items())
        ):
            return
        if current.type != SECRET_TYPE:
            # A Secret's type cannot change: replace it whole.
            cluster.delete_secret(namespace, name)
            counter.writes += 1
            current = None
            continue
        try:
            cluster.replace_secret(current, {**current.labels, **labels}, data_value)
            counter.writes += 1
            return
        except ClusterError as error:
            if error.kind not in ("conflict", "not-found"):
                raise
            current = cluster.read_secret(namespace, name)
    raise ClusterError(
        "conflict", f"The Secret in “{namespace}” kept changing; it will be retried."
    )


def _ensure_reference(
    cluster: Cluster,
    namespace: str,
    account_name: str,
    account: ServiceAccountState | None,
    secret: str,
    counter: _Counter,
) -> bool:
    """Add `secret` to the account's imagePullSecrets, keeping every other entry. False when
    the ServiceAccount does not exist (yet)."""
    for attempt in range(_CONFLICT_RETRIES):
        if account is None or attempt:
            account = cluster.read_service_account(namespace, account_name)
            if account is None:
                return False
        if secret in account.pull_secrets:
            return True
        try:
            cluster.set_pull_secrets(account, [*account.pull_secrets, secret])
            counter.writes += 1
            return True
        except ClusterError as error:
            if error.kind not in ("conflict", "not-found"):
                raise
    raise ClusterError(
        "conflict",
        f"ServiceAccount “{account_name}” in “{namespace}” kept changing; it will be retried.",
    )


def _remove_reference(
    cluster: Cluster, account: ServiceAccountState, secret: str, counter: _Counter
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
            counter.writes += 1
            return
        except ClusterError as error:
            if error.kind not in ("conflict", "not-found"):
                raise
    raise ClusterError(
        "conflict", f"ServiceAccount “{account.name}” in “{account.namespace}” kept changing."
    )


def _remove_strays(
    cluster: Cluster,
    snapshot: Snapshot,
    wanted: dict[str, str],
    counter: _Counter,
    *,
    only_slug: str | None,
) -> list[str]:
    """Delete our Secrets that no organization accounts for (deleted, or moved to another
    namespace), after taking their names out of that namespace's ServiceAccounts."""
    removed = []
    for secret in snapshot.secrets:
        slug = secret.labels.get(kube.ORGANIZATION_LABEL, "")
        if only_slug is not None and slug != only_slug:
            continue
        if secret.name == secret_name() and wanted.get(slug) == secret.namespace:
            continue
        for (namespace, _), account in snapshot.service_accounts.items():
            if namespace == secret.namespace:
                _remove_reference(cluster, account, secret.name, counter)
        cluster.delete_secret(secret.namespace, secret.name)
        counter.writes += 1
        removed.append(f"{secret.namespace}/{secret.name}")
    return removed


# Recording the outcome on the registries


def _registry_versions(organization: Organization) -> dict[int, int]:
    return dict(organization.registries.values_list("pk", "version"))


def _registry_versions_by_org(organization_ids: list[int]) -> dict[int, dict[int, int]]:
    rows: dict[int, dict[int, int]] = {}
    for pk, organization_id, version in ContainerRegistry.objects.filter(
        organization_id__in=organization_ids
    ).values_list("pk", "organization_id", "version"):
        rows.setdefault(organization_id, {})[pk] = version
    return rows


def _record(organization: Organization, rows: dict[int, int], *, error: str | None) -> None:
    """Store the outcome on the registries that were read for it. A registry saved meanwhile
    (another version) keeps its Pending state for the sync its save scheduled."""
    if error is None:
        changes = {"sync_status": SyncStatus.SYNCED, "sync_error": ""}
        stale = ContainerRegistry.objects.exclude(sync_status=SyncStatus.SYNCED)
        changes["synced_at"] = timezone.now()
    else:
        changes = {"sync_status": SyncStatus.ERROR, "sync_error": error[:300]}
        stale = ContainerRegistry.objects.exclude(
            sync_status=SyncStatus.ERROR, sync_error=error[:300]
        )
    previous = dict(stale.filter(pk__in=rows).values_list("pk", "sync_status"))
    for pk, status in previous.items():
        if ContainerRegistry.objects.filter(pk=pk, version=rows[pk]).update(**changes):
            _audit_transition(organization, pk, status, changes["sync_status"], error)


def _audit_transition(
    organization: Organization, registry_id: int, old: str, new: str, error: str | None
) -> None:
    """Hook for the audit trail: a registry's sync failed or recovered."""
    registry = ContainerRegistry.objects.filter(pk=registry_id).first()
    if registry is not None:
        registry.organization = organization
        audit_sync_status_changed(registry, old_status=old, new_status=new, error=error or "")


def _connect_or_mark(organizations) -> Cluster | None:
    """Connect, or mark the organizations' registries as not synced when no cluster is set up."""
    try:
        cluster = kube.connect()
    except ClusterError as error:
        ContainerRegistry.objects.filter(organization__in=organizations).update(
            sync_status=SyncStatus.ERROR, sync_error=error.message
        )
        return None
    if cluster is None:
        ContainerRegistry.objects.filter(organization__in=organizations).exclude(
            sync_status=SyncStatus.NOT_SYNCED, sync_error=""
        ).update(sync_status=SyncStatus.NOT_SYNCED, sync_error="")
    return cluster


def sync_with_retries(organization_id: int) -> ClusterError | None:
    """The after-save path: sync, and retry a few times while only retriable trouble (such as
    the `default` ServiceAccount not created yet) stands in the way. The reconciler takes
    over from there."""
    error = sync_organization(organization_id)
    for delay in settings.REGISTRY_SYNC_RETRY_DELAYS:
        if error is None or not error.retriable:
            return error
        time.sleep(delay)
        error = sync_organization(organization_id)
    return error
