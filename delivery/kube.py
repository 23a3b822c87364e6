"""The gateway to Kubernetes: the only module that imports the official client.

One API client per cluster, built from the Cluster row (in-cluster, a stored kubeconfig, or the
environment's KUBECONFIG) and cached until the cluster's `config_version` changes. It speaks
in small plain objects (SecretState, ServiceAccountState) and raises ClusterError with a short
human message that never carries request or response bodies, so nothing a caller stores or
shows can contain a credential. Every call has connect and read timeouts and no client-side
retries: the task queue and the reconciler are the retry. LISTs are read in pages
(limit/continue) and parsed without building the client's model objects.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import urllib3
from django.conf import settings
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from prometheus_client import Counter

from registries.encryption import UNREADABLE_MESSAGE, is_unreadable

from .dockerconfig import DOCKERCONFIGJSON_KEY, SECRET_TYPE, decode_config
from .errors import ClusterError, parse_kubeconfig, secret_digest

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "orgsettings"
ORGANIZATION_LABEL = "orgsettings.io/organization"
_IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")

API_CALLS = Counter(
    "orgsettings_kube_api_calls_total", "Kubernetes API requests made.", ["verb", "resource"]
)


def api_calls_made() -> int:
    """Kubernetes API requests this process made so far (the reconciler counts its passes')."""
    return int(
        sum(s.value for m in API_CALLS.collect() for s in m.samples if s.name.endswith("_total"))
    )


@dataclass
class SecretState:
    namespace: str
    name: str
    resource_version: str
    type: str
    labels: dict[str, str] = field(default_factory=dict)
    data_value: str | None = None

    @property
    def is_managed(self) -> bool:
        return self.labels.get(MANAGED_BY_LABEL) == MANAGED_BY

    @property
    def digest(self) -> str:
        return secret_digest(self.data_value)

    @property
    def config(self) -> dict | None:
        return decode_config(self.data_value)


@dataclass
class ServiceAccountState:
    namespace: str
    name: str
    resource_version: str
    pull_secrets: list[str] = field(default_factory=list)


def managed_labels(organization_slug: str) -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY, ORGANIZATION_LABEL: organization_slug}


def environment_source() -> str | None:
    """What the environment offers as a cluster: "kubeconfig" (KUBECONFIG is set),
    "in-cluster" (running in a pod), or None."""
    if settings.KUBECONFIG:
        return "kubeconfig"
    if os.environ.get("KUBERNETES_SERVICE_HOST") and _IN_CLUSTER_TOKEN.is_file():
        return "in-cluster"
    return None


_clients: dict[int, tuple[tuple, Cluster]] = {}
_clients_lock = threading.Lock()


def connect(cluster_row) -> Cluster:
    """The API client of a Cluster row, cached per cluster until its config_version changes
    (or, for the environment's cluster, KUBECONFIG)."""
    version = (cluster_row.config_version, cluster_row.connection)
    if cluster_row.connection == "environment":
        version += (settings.KUBECONFIG,)
    with _clients_lock:
        cached = _clients.get(cluster_row.pk)
        if cached is not None and cached[0] == version:
            return cached[1]
    built = Cluster(
        client.ApiClient(_configuration(cluster_row)),
        name=cluster_row.name,
        timeout=(settings.REGISTRY_KUBE_CONNECT_TIMEOUT, settings.REGISTRY_KUBE_READ_TIMEOUT),
    )
    with _clients_lock:
        previous = _clients.get(cluster_row.pk)
        _clients[cluster_row.pk] = (version, built)
    if previous is not None:
        previous[1].close()
    return built


def forget_clients() -> None:
    """Close every cached client (tests, and processes that fork)."""
    with _clients_lock:
        cached = list(_clients.values())
        _clients.clear()
    for _, cluster in cached:
        cluster.close()


def _configuration(cluster_row) -> client.Configuration:
    configuration = client.Configuration()
    connection = cluster_row.connection
    source = environment_source() if connection == "environment" else connection
    try:
        if source == "in-cluster":
            config.load_incluster_config(client_configuration=configuration)
        elif source == "kubeconfig" and connection == "environment":
            path = Path(settings.KUBECONFIG)
            if not path.is_file():
                raise ClusterError(
                    "config",
                    "The cluster configuration could not be read (KUBECONFIG names no file).",
                    retriable=False,
                    detail=f"KUBECONFIG={settings.KUBECONFIG}: no such file",
                )
            config.load_kube_config(config_file=str(path), client_configuration=configuration)
        elif source == "kubeconfig" and is_unreadable(cluster_row.kubeconfig):
            raise ClusterError(
                "config",
                f"The cluster's stored kubeconfig {UNREADABLE_MESSAGE}.",
                retriable=False,
                detail="add the key it was written with to CRYPTOGRAPHY_KEY_FALLBACKS, "
                "or store the kubeconfig again",
            )
        elif source == "kubeconfig":
            config.load_kube_config_from_dict(
                parse_kubeconfig(cluster_row.kubeconfig), client_configuration=configuration
            )
        else:
            raise ClusterError(
                "config",
                "No cluster configuration: set KUBECONFIG, or run in a pod.",
                retriable=False,
                detail="the cluster uses the environment, and it offers no cluster",
            )
    except (ConfigException, OSError, ValueError, TypeError, KeyError) as error:
        raise ClusterError(
            "config",
            f"The cluster configuration could not be read ({type(error).__name__}).",
            retriable=False,
            detail=describe_config_error(error),
        ) from None
    configuration.retries = False
    return configuration


def describe_config_error(error: Exception) -> str:
    """The cause of a configuration failure, for an operator; never the file's content."""
    if isinstance(error, OSError):
        name = f": {error.filename}" if error.filename else ""
        return f"{error.strerror or type(error).__name__}{name}"
    text = str(error).strip() or type(error).__name__
    return text[:300]


class Cluster:
    """One cluster's API, with the calls delivery makes."""

    def __init__(
        self, api_client: client.ApiClient, *, name: str, timeout: tuple[float, float]
    ) -> None:
        self.name = name
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.timeout = timeout

    def close(self) -> None:
        self.api_client.close()

    # Namespaces

    def list_namespaces(self) -> set[str]:
        return {
            item["metadata"]["name"] for item in self._pages(self.core.list_namespace, "namespaces")
        }

    def _pages(self, call, resource: str, **query) -> Iterator[dict]:
        """Every item of a LIST, read page by page as raw JSON (no model objects)."""
        token = None
        while True:
            with _translated("list", resource, query.get("namespace")):
                response = call(
                    limit=settings.DELIVERY_LIST_PAGE_SIZE,
                    _continue=token,
                    _preload_content=False,
                    _request_timeout=self.timeout,
                    **query,
                )
                page = json.loads(response.data)
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    def create_namespace(self, namespace: str, labels: dict[str, str]) -> None:
        body = client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels=labels))
        with _translated("create", "namespaces", namespace, exists_ok=True):
            self.core.create_namespace(body, _request_timeout=self.timeout)

    # Secrets

    def list_managed_secrets(
        self, organization_slug: str | None = None, *, namespace: str | None = None
    ) -> Iterator[SecretState]:
        """Our labelled Secrets (of one organization, or all): cluster-wide, or in `namespace`
        only (the namespaced RBAC scope, which may not list Secrets cluster-wide)."""
        selector = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
        if organization_slug:
            selector += f",{ORGANIZATION_LABEL}={organization_slug}"
        if namespace is None:
            pages = self._pages(
                self.core.list_secret_for_all_namespaces, "secrets", label_selector=selector
            )
        else:
            pages = self._pages(
                self.core.list_namespaced_secret,
                "secrets",
                namespace=namespace,
                label_selector=selector,
            )
        for item in pages:
            yield _secret_state_from_json(item)

    def read_secret(self, namespace: str, name: str) -> SecretState | None:
        with _translated("read", "secrets", namespace, missing_ok=True) as missing:
            item = self.core.read_namespaced_secret(name, namespace, _request_timeout=self.timeout)
        return None if missing else _secret_state(item)

    def create_secret(
        self, namespace: str, name: str, labels: dict[str, str], data_value: str
    ) -> None:
        with _translated("create", "secrets", namespace):
            self.core.create_namespaced_secret(
                namespace,
                _secret_body(namespace, name, labels, data_value),
                _request_timeout=self.timeout,
            )

    def replace_secret(self, current: SecretState, labels: dict[str, str], data_value: str) -> None:
        """Replace `current`; ClusterError kind "conflict" when it changed since it was read."""
        body = _secret_body(current.namespace, current.name, labels, data_value)
        body.metadata.resource_version = current.resource_version
        with _translated("replace", "secrets", current.namespace):
            self.core.replace_namespaced_secret(
                current.name, current.namespace, body, _request_timeout=self.timeout
            )

    def delete_secret(self, namespace: str, name: str) -> None:
        with _translated("delete", "secrets", namespace, missing_ok=True):
            self.core.delete_namespaced_secret(name, namespace, _request_timeout=self.timeout)

    # ServiceAccounts

    def list_service_accounts(self, name: str) -> Iterator[ServiceAccountState]:
        """The ServiceAccounts called `name` in every namespace."""
        for item in self._pages(
            self.core.list_service_account_for_all_namespaces,
            "serviceaccounts",
            field_selector=f"metadata.name={name}",
        ):
            meta = item["metadata"]
            yield ServiceAccountState(
                namespace=meta["namespace"],
                name=meta["name"],
                resource_version=meta.get("resourceVersion", ""),
                pull_secrets=[
                    ref["name"] for ref in item.get("imagePullSecrets") or [] if ref.get("name")
                ],
            )

    def read_service_account(self, namespace: str, name: str) -> ServiceAccountState | None:
        with _translated("read", "serviceaccounts", namespace, missing_ok=True) as missing:
            item = self.core.read_namespaced_service_account(
                name, namespace, _request_timeout=self.timeout
            )
        return None if missing else _service_account_state(item)

    def set_pull_secrets(self, current: ServiceAccountState, names: list[str]) -> None:
        """Write the whole `imagePullSecrets` list, which Kubernetes treats as atomic.

        The resourceVersion makes this a compare-and-swap: if anyone changed the ServiceAccount
        since `current` was read, the API answers 409 (ClusterError kind "conflict") and nothing
        of theirs is lost.
        """
        body = {
            "metadata": {"resourceVersion": current.resource_version},
            "imagePullSecrets": [{"name": name} for name in names],
        }
        with _translated("patch", "serviceaccounts", current.namespace):
            self.core.patch_namespaced_service_account(
                current.name, current.namespace, body, _request_timeout=self.timeout
            )


def _secret_body(
    namespace: str, name: str, labels: dict[str, str], data_value: str
) -> client.V1Secret:
    return client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=labels),
        type=SECRET_TYPE,
        data={DOCKERCONFIGJSON_KEY: data_value},
    )


def _secret_state(item: client.V1Secret) -> SecretState:
    return SecretState(
        namespace=item.metadata.namespace,
        name=item.metadata.name,
        resource_version=item.metadata.resource_version,
        type=item.type or "",
        labels=dict(item.metadata.labels or {}),
        data_value=(item.data or {}).get(DOCKERCONFIGJSON_KEY),
    )


def _secret_state_from_json(item: dict) -> SecretState:
    meta = item["metadata"]
    return SecretState(
        namespace=meta["namespace"],
        name=meta["name"],
        resource_version=meta.get("resourceVersion", ""),
        type=item.get("type") or "",
        labels=dict(meta.get("labels") or {}),
        data_value=(item.get("data") or {}).get(DOCKERCONFIGJSON_KEY),
    )


def _service_account_state(item: client.V1ServiceAccount) -> ServiceAccountState:
    return ServiceAccountState(
        namespace=item.metadata.namespace,
        name=item.metadata.name,
        resource_version=item.metadata.resource_version,
        pull_secrets=[ref.name for ref in item.image_pull_secrets or [] if ref.name],
    )


class _Missing:
    """Truthy once the call inside `_translated(..., missing_ok=True)` answered 404."""

    def __init__(self) -> None:
        self.value = False

    def __bool__(self) -> bool:
        return self.value


@contextlib.contextmanager
def _translated(
    verb: str,
    resource: str,
    namespace: str | None = None,
    *,
    missing_ok: bool = False,
    exists_ok: bool = False,
) -> Iterator[_Missing]:
    """Turn client and network failures into ClusterError with a message safe to store."""
    API_CALLS.labels(verb, resource).inc()
    missing = _Missing()
    where = f" in namespace “{namespace}”" if namespace else ""
    try:
        yield missing
    except ApiException as error:
        if error.status == 404 and missing_ok:
            missing.value = True
            return
        if error.status == 409 and exists_ok:
            return
        raise _api_error(error, verb, resource, namespace, where) from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise _network_error(error) from None


def _network_error(error: Exception) -> ClusterError:
    if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
        error = error.reason
    # NewConnectionError is also a ConnectTimeoutError in urllib3 2: check it first.
    if isinstance(error, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
        return ClusterError("unreachable", "The cluster is unreachable.")
    if isinstance(error, urllib3.exceptions.TimeoutError | TimeoutError):
        return ClusterError("timeout", "The cluster did not answer in time.")
    return ClusterError("unreachable", "The cluster is unreachable.")


def _api_error(
    error: ApiException, verb: str, resource: str, namespace: str | None, where: str
) -> ClusterError:
    status = error.status or 0
    if status == 404 and namespace and verb in ("create", "list"):
        return ClusterError("namespace-missing", f"Namespace “{namespace}” does not exist.")
    if status == 404:
        return ClusterError("not-found", f"The {resource[:-1]} to {verb} no longer exists{where}.")
    if status == 409:
        reason = "already-exists" if "AlreadyExists" in (error.body or "") else "conflict"
        return ClusterError(
            reason, f"Another writer changed the {resource[:-1]}{where} at the same time."
        )
    if status == 401:
        return ClusterError(
            "unauthorized",
            "The cluster did not accept the platform's credentials.",
            retriable=False,
        )
    if status == 403:
        return ClusterError(
            "forbidden",
            f"Forbidden by RBAC: the platform may not {verb} {resource}{where}.",
            retriable=False,
        )
    if status == 422:
        return ClusterError(
            "invalid",
            f"The cluster rejected the {resource[:-1]}{where} as invalid.",
            retriable=False,
        )
    if status == 429 or status >= 500:
        return ClusterError(
            "server-error", f"The cluster answered with an error ({status}); it will be retried."
        )
    return ClusterError(
        "api-error", f"The cluster refused to {verb} {resource}{where} ({status}).", retriable=False
    )
