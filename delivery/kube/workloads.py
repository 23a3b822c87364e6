"""The calls pull health makes: read pods and the ReplicaSets that own them, read and restart
Deployments, StatefulSets and DaemonSets, delete a controller-owned pod.

They speak in the plain objects of pullhealth.pods. Pods and ReplicaSets are listed in pages
and parsed from raw JSON: a LIST of a whole cluster's pods would otherwise spend most of its
time building model objects of fields never read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from kubernetes import client

from pullhealth.pods import (
    DAEMON_SET,
    DEPLOYMENT,
    STATEFUL_SET,
    TEMPLATE_HASH_LABEL,
    ContainerWait,
    OwnerRef,
    PodState,
    ReplicaSetState,
    WorkloadState,
)
from pullhealth.restarts import RESTARTED_AT_ANNOTATION, restart_patch

from .calls import ClusterAPI, translated

# pod-template-hash values are about ten characters: a selector of 100 stays near 1 KiB of URL.
_HASHES_PER_SELECTOR = 100
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
_RESOURCES = {DEPLOYMENT: "deployments", STATEFUL_SET: "statefulsets", DAEMON_SET: "daemonsets"}


class WorkloadCalls(ClusterAPI):
    """Pods, ReplicaSets and the workloads that own them."""

    # Reads

    def list_pods(
        self, namespace: str | None = None, *, field_selector: str | None = None
    ) -> Iterator[PodState]:
        """The pods of one namespace, or of the whole cluster (namespace None), page by page.

        `field_selector` is passed to the API server as it is; pull health gives
        `status.phase!=Succeeded,status.phase!=Failed`, the pods whose containers can still
        wait on a pull (refresh.py says why).
        """
        if namespace is None:
            pages = self._pages(
                self.core.list_pod_for_all_namespaces, "pods", field_selector=field_selector
            )
        else:
            pages = self._pages(
                self.core.list_namespaced_pod,
                "pods",
                namespace=namespace,
                field_selector=field_selector,
            )
        for item in pages:
            yield _pod_state(item)

    def list_replicasets(
        self, namespace: str | None = None, *, template_hashes: Iterable[str] | None = None
    ) -> dict[tuple[str, str], ReplicaSetState]:
        """The ReplicaSets of one namespace or of the cluster, by (namespace, name).

        With `template_hashes` (the pod-template-hash labels of the pods whose owners are
        wanted), only those, selected by label: a cluster keeps ten old ReplicaSets per
        Deployment, and these few LISTs do not grow with them or with the organizations.
        """
        if template_hashes is None:
            return self._list_replicasets(namespace, None)
        hashes = sorted(set(template_hashes))
        found: dict[tuple[str, str], ReplicaSetState] = {}
        for start in range(0, len(hashes), _HASHES_PER_SELECTOR):
            chunk = ",".join(hashes[start : start + _HASHES_PER_SELECTOR])
            found |= self._list_replicasets(namespace, f"{TEMPLATE_HASH_LABEL} in ({chunk})")
        return found

    def _list_replicasets(
        self, namespace: str | None, label_selector: str | None
    ) -> dict[tuple[str, str], ReplicaSetState]:
        if namespace is None:
            pages = self._pages(
                self.apps.list_replica_set_for_all_namespaces,
                "replicasets",
                label_selector=label_selector,
            )
        else:
            pages = self._pages(
                self.apps.list_namespaced_replica_set,
                "replicasets",
                namespace=namespace,
                label_selector=label_selector,
            )
        states = (_replicaset_state(item) for item in pages)
        return {(state.namespace, state.name): state for state in states}

    def read_pod(self, namespace: str, name: str) -> PodState | None:
        with translated("get", "pods", namespace, missing_ok=True) as missing:
            response = self.core.read_namespaced_pod(
                name, namespace, _request_timeout=self.timeout, _preload_content=False
            )
        return None if missing else _pod_state(json.loads(response.data))

    def read_replicaset(self, namespace: str, name: str) -> ReplicaSetState | None:
        with translated("get", "replicasets", namespace, missing_ok=True) as missing:
            response = self.apps.read_namespaced_replica_set(
                name, namespace, _request_timeout=self.timeout, _preload_content=False
            )
        return None if missing else _replicaset_state(json.loads(response.data))

    def read_workload(self, kind: str, namespace: str, name: str) -> WorkloadState | None:
        """A Deployment, StatefulSet or DaemonSet, or None when it no longer exists."""
        read = {
            DEPLOYMENT: self.apps.read_namespaced_deployment,
            STATEFUL_SET: self.apps.read_namespaced_stateful_set,
            DAEMON_SET: self.apps.read_namespaced_daemon_set,
        }[kind]
        with translated("get", _RESOURCES[kind], namespace, missing_ok=True) as missing:
            item = read(name, namespace, _request_timeout=self.timeout)
        if missing:
            return None
        template_meta = item.spec.template.metadata
        annotations = dict((template_meta.annotations if template_meta else None) or {})
        return WorkloadState(
            kind=kind,
            namespace=item.metadata.namespace,
            name=item.metadata.name,
            uid=item.metadata.uid,
            resource_version=item.metadata.resource_version,
            paused=bool(getattr(item.spec, "paused", False)),
            restarted_at=annotations.get(RESTARTED_AT_ANNOTATION, ""),
            annotations=annotations,
        )

    # Writes

    def restart_workload(self, state: WorkloadState, *, at: datetime | None = None) -> None:
        """Restart as `kubectl rollout restart` does: set the restartedAt annotation on the pod
        template, so the controller replaces the pods.

        The patch carries the resourceVersion `state` was read at: if the workload changed
        since (paused, say), the cluster answers 409 and ClusterError kind "conflict" is raised,
        and nothing is restarted on a stale decision.
        """
        patch = {"metadata": {"resourceVersion": state.resource_version}} | restart_patch(at)
        write = {
            DEPLOYMENT: self.apps.patch_namespaced_deployment,
            STATEFUL_SET: self.apps.patch_namespaced_stateful_set,
            DAEMON_SET: self.apps.patch_namespaced_daemon_set,
        }[state.kind]
        with translated("patch", _RESOURCES[state.kind], state.namespace):
            write(
                state.name,
                state.namespace,
                patch,
                _content_type=STRATEGIC_MERGE_PATCH,
                _request_timeout=self.timeout,
            )

    def delete_pod(self, namespace: str, name: str, uid: str) -> bool:
        """Delete the pod with this uid, so its controller creates a new one. False when it is
        already gone or was replaced by another pod of the same name (a StatefulSet's)."""
        body = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=uid))
        with translated("delete", "pods", namespace, missing_ok=True, conflict_ok=True) as gone:
            self.core.delete_namespaced_pod(
                name, namespace, body=body, _request_timeout=self.timeout
            )
        return not gone


def _owners(meta: dict[str, Any]) -> tuple[OwnerRef, ...]:
    return tuple(
        OwnerRef(
            api_version=ref.get("apiVersion", ""),
            kind=ref.get("kind", ""),
            name=ref.get("name", ""),
            uid=ref.get("uid", ""),
            controller=bool(ref.get("controller")),
        )
        for ref in meta.get("ownerReferences") or []
    )


def _pod_state(item: dict[str, Any]) -> PodState:
    meta, spec, status = item["metadata"], item.get("spec") or {}, item.get("status") or {}
    images = {
        container.get("name"): container.get("image") or ""
        for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    }
    waiting = []
    for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        for container in status.get(key) or []:
            wait = (container.get("state") or {}).get("waiting")
            if wait is None:
                continue
            name = container.get("name", "")
            waiting.append(
                ContainerWait(
                    container=name,
                    # What the user wrote in the spec; the status may hold the runtime's form.
                    image=images.get(name) or container.get("image") or "",
                    reason=wait.get("reason") or "",
                    message=wait.get("message") or "",
                    init=init,
                )
            )
    created = meta.get("creationTimestamp")
    return PodState(
        namespace=meta.get("namespace", ""),
        name=meta["name"],
        uid=meta.get("uid", ""),
        owners=_owners(meta),
        pull_secrets=tuple(
            ref["name"] for ref in spec.get("imagePullSecrets") or [] if ref.get("name")
        ),
        waiting=tuple(waiting),
        created_at=datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None,
        template_hash=(meta.get("labels") or {}).get(TEMPLATE_HASH_LABEL, ""),
    )


def _replicaset_state(item: dict[str, Any]) -> ReplicaSetState:
    meta = item["metadata"]
    return ReplicaSetState(
        namespace=meta.get("namespace", ""),
        name=meta["name"],
        uid=meta.get("uid", ""),
        owners=_owners(meta),
    )
