"""The cluster calls pull health makes: read pods and their owners, restart workloads.

This module must become part of the one gateway module that imports `kubernetes`
(delivery/kube.py), next to the Secret and ServiceAccount calls: it is kept apart only until it
is folded in there. It receives an already-built
ApiClient for one cluster and speaks in the plain objects of pullhealth.pods, raising the
gateway's ClusterError with short messages that never carry request or response bodies. No
client-side retries: the worker and the reconciler are the retry.

Pods are listed in pages (`limit`/`continue`) so that memory does not grow with the cluster.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from delivery.errors import ClusterError

from .pods import (
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
from .restarts import RESTARTED_AT_ANNOTATION, restart_patch

DEFAULT_PAGE_SIZE = 500
# pod-template-hash values are about ten characters: a selector of 100 stays near 1 KiB of URL.
_HASHES_PER_SELECTOR = 100
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
_RESOURCES = {DEPLOYMENT: "deployments", STATEFUL_SET: "statefulsets", DAEMON_SET: "daemonsets"}


class PullHealthCalls:
    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.timeout = timeout
        self.page_size = page_size

    # Reads

    def list_pods(
        self, namespace: str | None = None, *, field_selector: str | None = None
    ) -> Iterator[PodState]:
        """The pods of one namespace, or of the whole cluster (namespace None), page by page.

        `status.phase=Pending` as `field_selector` keeps to the pods that have not started,
        which is where failed pulls are, except a restarted container of a running pod.
        """
        token = None
        while True:
            with _translated("list", "pods", namespace):
                kwargs = {
                    "limit": self.page_size,
                    "_continue": token,
                    "field_selector": field_selector,
                    "_request_timeout": self.timeout,
                    "_preload_content": False,
                }
                if namespace is None:
                    page = _json(self.core.list_pod_for_all_namespaces(**kwargs))
                else:
                    page = _json(self.core.list_namespaced_pod(namespace, **kwargs))
            for item in page.get("items") or []:
                yield _pod_state(item)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

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
        found: dict[tuple[str, str], ReplicaSetState] = {}
        token = None
        while True:
            with _translated("list", "replicasets", namespace):
                kwargs = {
                    "limit": self.page_size,
                    "_continue": token,
                    "label_selector": label_selector,
                    "_request_timeout": self.timeout,
                    "_preload_content": False,
                }
                if namespace is None:
                    page = _json(self.apps.list_replica_set_for_all_namespaces(**kwargs))
                else:
                    page = _json(self.apps.list_namespaced_replica_set(namespace, **kwargs))
            for item in page.get("items") or []:
                state = _replicaset_state(item)
                found[(state.namespace, state.name)] = state
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return found

    def read_replicaset(self, namespace: str, name: str) -> ReplicaSetState | None:
        with _translated("get", "replicasets", namespace, missing_ok=True) as missing:
            item = self.apps.read_namespaced_replica_set(
                name, namespace, _request_timeout=self.timeout, _preload_content=False
            )
        return None if missing else _replicaset_state(_json(item))

    def read_workload(self, kind: str, namespace: str, name: str) -> WorkloadState | None:
        """A Deployment, StatefulSet or DaemonSet, or None when it no longer exists."""
        read = {
            DEPLOYMENT: self.apps.read_namespaced_deployment,
            STATEFUL_SET: self.apps.read_namespaced_stateful_set,
            DAEMON_SET: self.apps.read_namespaced_daemon_set,
        }[kind]
        with _translated("get", _RESOURCES[kind], namespace, missing_ok=True) as missing:
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
        with _translated("patch", _RESOURCES[state.kind], state.namespace):
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
        with _translated("delete", "pods", namespace, missing_ok=True, conflict_ok=True) as gone:
            self.core.delete_namespaced_pod(
                name, namespace, body=body, _request_timeout=self.timeout
            )
        return not gone


def _json(response: Any) -> dict[str, Any]:
    """The body of a response read without the client's models: a LIST of a whole cluster's
    pods would otherwise spend most of its time building objects of fields never read."""
    try:
        body = json.loads(response.data)
    except ValueError:
        raise ClusterError("api-error", "The cluster answered with something not JSON.") from None
    return body if isinstance(body, dict) else {}


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


class _Outcome:
    """Truthy once the call inside `_translated` answered 404 (or 409 with conflict_ok)."""

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
    conflict_ok: bool = False,
) -> Iterator[_Outcome]:
    """Turn client and network failures into ClusterError with a message safe to store."""
    outcome = _Outcome()
    where = f" in namespace “{namespace}”" if namespace else ""
    try:
        yield outcome
    except ApiException as error:
        status = error.status or 0
        if (status == 404 and missing_ok) or (status == 409 and conflict_ok):
            outcome.value = True
            return
        raise _api_error(status, verb, resource, where) from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
            error = error.reason
        if isinstance(error, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
            raise ClusterError("unreachable", "The cluster is unreachable.") from None
        if isinstance(error, urllib3.exceptions.TimeoutError | TimeoutError):
            raise ClusterError("timeout", "The cluster did not answer in time.") from None
        raise ClusterError("unreachable", "The cluster is unreachable.") from None


def _api_error(status: int, verb: str, resource: str, where: str) -> ClusterError:
    singular = resource[:-1]
    if status == 403:
        return ClusterError(
            "forbidden",
            f"Forbidden by RBAC: the platform may not {verb} {resource}{where}.",
            retriable=False,
        )
    if status == 401:
        return ClusterError(
            "unauthorized",
            "The cluster did not accept the platform's credentials.",
            retriable=False,
        )
    if status == 404:
        return ClusterError("not-found", f"The {singular} to {verb} no longer exists{where}.")
    if status == 409:
        return ClusterError("conflict", f"The {singular}{where} changed since it was read.")
    if status == 422:
        return ClusterError(
            "invalid", f"The cluster rejected the change to the {singular}{where}.", retriable=False
        )
    if status == 429 or status >= 500:
        return ClusterError(
            "server-error", f"The cluster answered with an error ({status}); it will be retried."
        )
    return ClusterError(
        "api-error", f"The cluster refused to {verb} {resource}{where} ({status}).", retriable=False
    )
