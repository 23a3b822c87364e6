"""What the cluster tells about pods and their owners, as plain objects, and how to read it.

The gateway (delivery.kube.workloads) turns API objects into these; everything else here is pure, so the
rules (which containers wait on a pull, which workload owns a pod) are tested on their own.
A pod's owner is found the way `kubectl` finds it: through the controller owner reference,
Pod -> ReplicaSet -> Deployment, or a StatefulSet or DaemonSet directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

PULL_WAITING_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff"})
TEMPLATE_HASH_LABEL = "pod-template-hash"

DEPLOYMENT = "Deployment"
STATEFUL_SET = "StatefulSet"
DAEMON_SET = "DaemonSet"
REPLICA_SET = "ReplicaSet"
POD = "Pod"
# The kinds `kubectl rollout restart` restarts by patching their pod template.
RESTARTABLE_KINDS = frozenset({DEPLOYMENT, STATEFUL_SET, DAEMON_SET})


@dataclass(frozen=True)
class OwnerRef:
    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool = False


@dataclass(frozen=True)
class ContainerWait:
    """A container (or init container) waiting, with the reason and message the node gave."""

    container: str
    image: str
    reason: str
    message: str = ""
    init: bool = False


@dataclass(frozen=True)
class PodState:
    namespace: str
    name: str
    uid: str
    owners: tuple[OwnerRef, ...] = ()
    pull_secrets: tuple[str, ...] = ()
    waiting: tuple[ContainerWait, ...] = ()
    created_at: datetime | None = None
    # The pod-template-hash label a Deployment's ReplicaSet gives its pods (and carries too).
    template_hash: str = ""

    @property
    def controller(self) -> OwnerRef | None:
        return next((owner for owner in self.owners if owner.controller), None)


@dataclass(frozen=True)
class ReplicaSetState:
    namespace: str
    name: str
    uid: str
    owners: tuple[OwnerRef, ...] = ()

    @property
    def controller(self) -> OwnerRef | None:
        return next((owner for owner in self.owners if owner.controller), None)


@dataclass(frozen=True)
class WorkloadRef:
    """What a user knows as the thing that runs: a Deployment, StatefulSet or DaemonSet, or
    the pod itself when none of those owns it."""

    kind: str
    namespace: str
    name: str
    # For a pod: whether some controller (a bare ReplicaSet, a Job, an operator) owns it and so
    # recreates it when it is deleted; `owner_kind` names that controller.
    controller_owned: bool = False
    owner_kind: str = ""
    pod_uid: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)

    @property
    def restartable(self) -> bool:
        return self.kind in RESTARTABLE_KINDS


@dataclass(frozen=True)
class WorkloadState:
    """A Deployment, StatefulSet or DaemonSet as read just before a restart."""

    kind: str
    namespace: str
    name: str
    uid: str
    resource_version: str
    paused: bool = False
    restarted_at: str = ""
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)


def pull_waits(pod: PodState) -> list[ContainerWait]:
    """The containers and init containers of `pod` that wait because a pull failed."""
    return [wait for wait in pod.waiting if wait.reason in PULL_WAITING_REASONS]


def references_secret(pod: PodState, secret_name: str) -> bool:
    """Whether the pod names the Secret in its spec.imagePullSecrets. A pod that does not was
    created before its ServiceAccount named the Secret: only a new pod gets it."""
    return secret_name in pod.pull_secrets


def owning_workload(
    pod: PodState, replicasets: Mapping[tuple[str, str], ReplicaSetState]
) -> WorkloadRef:
    """The workload a user would restart for this pod.

    `replicasets` maps (namespace, name) to the ReplicaSets read from the cluster; a pod whose
    ReplicaSet is not among them (or whose ReplicaSet has no Deployment) counts as a pod owned
    by a controller, which recreates it when it is deleted.
    """
    controller = pod.controller
    if controller is None:
        return WorkloadRef(POD, pod.namespace, pod.name, pod_uid=pod.uid)
    if controller.kind in (STATEFUL_SET, DAEMON_SET) and _is_apps(controller):
        return WorkloadRef(controller.kind, pod.namespace, controller.name)
    if controller.kind == REPLICA_SET and _is_apps(controller):
        replicaset = replicasets.get((pod.namespace, controller.name))
        if replicaset is not None and replicaset.uid == controller.uid:
            owner = replicaset.controller
            if owner is not None and owner.kind == DEPLOYMENT and _is_apps(owner):
                return WorkloadRef(DEPLOYMENT, pod.namespace, owner.name)
    return WorkloadRef(
        POD,
        pod.namespace,
        pod.name,
        controller_owned=True,
        owner_kind=controller.kind,
        pod_uid=pod.uid,
    )


def _is_apps(owner: OwnerRef) -> bool:
    return owner.api_version.split("/")[0] == "apps"
