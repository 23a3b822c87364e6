"""The gateway to Kubernetes: the only package that imports the official client.

- connection: one API client per cluster, built from its Cluster row and cached;
- calls: what every call shares (paged LISTs as raw JSON, errors as ClusterError, counting);
- pull_secrets: namespaces, our Secrets, ServiceAccounts (delivery);
- workloads: pods, ReplicaSets, Deployments/StatefulSets/DaemonSets (pull health);
- cluster: the Cluster object that offers both.

Callers import this package (`from delivery import kube`), never its modules.
"""

from __future__ import annotations

from ..errors import ClusterError, secret_digest
from .calls import API_CALLS, api_calls_made
from .cluster import Cluster
from .connection import connect, describe_config_error, environment_source, forget_clients
from .pull_secrets import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ORGANIZATION_LABEL,
    SecretState,
    ServiceAccountState,
    managed_labels,
)

__all__ = [
    "API_CALLS",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "ORGANIZATION_LABEL",
    "Cluster",
    "ClusterError",
    "SecretState",
    "ServiceAccountState",
    "api_calls_made",
    "connect",
    "describe_config_error",
    "environment_source",
    "forget_clients",
    "managed_labels",
    "secret_digest",
]
