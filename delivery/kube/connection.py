"""One API client per cluster, built from the Cluster row (in-cluster, a stored kubeconfig, or
the environment's KUBECONFIG) and cached until the cluster's `config_version` changes. Every
call has connect and read timeouts and no client-side retries: the task queue and the
reconciler are the retry."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from django.conf import settings
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from ..errors import ClusterError, parse_kubeconfig
from .cluster import Cluster

_IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


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
