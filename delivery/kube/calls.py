"""What every call of the gateway shares: the API objects of one cluster, paged LISTs read as
raw JSON, and the translation of client and network failures into ClusterError.

Messages name the verb, resource and namespace and never carry request or response bodies, so
nothing a caller stores or shows can contain a credential. Each request is counted
(`orgsettings_kube_api_calls_total`), which the reconciler and the benchmarks read.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import urllib3
from django.conf import settings
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from prometheus_client import Counter

from ..errors import ClusterError

API_CALLS = Counter(
    "orgsettings_kube_api_calls_total", "Kubernetes API requests made.", ["verb", "resource"]
)


def api_calls_made() -> int:
    """Kubernetes API requests this process made so far (the reconciler counts its passes')."""
    return int(
        sum(s.value for m in API_CALLS.collect() for s in m.samples if s.name.endswith("_total"))
    )


class ClusterAPI:
    """The API objects of one cluster; the calls themselves are in pull_secrets and workloads."""

    def __init__(
        self, api_client: client.ApiClient, *, name: str, timeout: tuple[float, float]
    ) -> None:
        self.name = name
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.timeout = timeout

    def close(self) -> None:
        self.api_client.close()

    def _pages(self, call, resource: str, **query) -> Iterator[dict]:
        """Every item of a LIST, read page by page as raw JSON (no model objects)."""
        token = None
        while True:
            with translated("list", resource, query.get("namespace")):
                response = call(
                    limit=settings.DELIVERY_LIST_PAGE_SIZE,
                    _continue=token,
                    _preload_content=False,
                    _request_timeout=self.timeout,
                    **query,
                )
                try:
                    page = json.loads(response.data)
                except ValueError:
                    raise ClusterError(
                        "api-error", "The cluster answered with something not JSON."
                    ) from None
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return


class _Missing:
    """Truthy once the call inside `translated` answered 404 with missing_ok (or 409 with
    conflict_ok)."""

    def __init__(self) -> None:
        self.value = False

    def __bool__(self) -> bool:
        return self.value


@contextlib.contextmanager
def translated(
    verb: str,
    resource: str,
    namespace: str | None = None,
    *,
    missing_ok: bool = False,
    exists_ok: bool = False,
    conflict_ok: bool = False,
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
        if error.status == 409 and conflict_ok:
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
