"""One cluster's API, with every call the platform makes."""

from __future__ import annotations

from .pull_secrets import PullSecretCalls
from .workloads import WorkloadCalls


class Cluster(PullSecretCalls, WorkloadCalls):
    """The calls of delivery (Secrets, ServiceAccounts) and of pull health (pods, their owners,
    restarts) on one cluster."""
