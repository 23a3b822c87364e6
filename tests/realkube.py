"""The cluster tests' view of a real cluster, for `pytest --kube-real` with KUBECONFIG set.

It offers the same state helpers as the fake API server (namespaces, get/put/delete objects);
a test that reaches for one of the fake's failure switches or request counters is skipped,
since a real cluster cannot be made to misbehave on cue. Use a disposable cluster (kind, k3d):
the tests create and delete namespaces such as `org-acme`.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

_READERS = {
    "secrets": "read_namespaced_secret",
    "serviceaccounts": "read_namespaced_service_account",
}


def _plural(kind: str) -> str:
    kind = kind.lower()
    return kind if kind.endswith("s") else kind + "s"


class RealCluster:
    def __init__(self, kubeconfig: str) -> None:
        self.api = config.new_client_from_config(config_file=kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.created: list[str] = []

    def __getattr__(self, name: str) -> Any:
        pytest.skip(f"needs the fake API server's {name}()")

    def add_namespace(
        self, name: str, with_default_sa: bool = True, *, labels: dict | None = None
    ) -> dict:
        self._wait_until_gone(name)
        body = client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))
        namespace = self.core.create_namespace(body)
        self.created.append(name)
        if with_default_sa:
            self._wait_for(lambda: self.get_object("serviceaccounts", name, "default"))
        return self.api.sanitize_for_serialization(namespace)

    def get_object(self, kind: str, namespace: str | None, name: str) -> dict | None:
        plural = _plural(kind)
        try:
            if plural == "namespaces":
                item = self.core.read_namespace(name)
                if item.status and item.status.phase == "Terminating":
                    return None
            else:
                item = getattr(self.core, _READERS[plural])(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return self.api.sanitize_for_serialization(item)

    def put_object(self, obj: dict) -> dict:
        plural, meta = _plural(obj["kind"]), obj["metadata"]
        current = self.get_object(plural, meta["namespace"], meta["name"])
        kind = "secret" if plural == "secrets" else "service_account"
        if current is None:
            meta.pop("resourceVersion", None)
            created = getattr(self.core, f"create_namespaced_{kind}")(meta["namespace"], obj)
            return self.api.sanitize_for_serialization(created)
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        replaced = getattr(self.core, f"replace_namespaced_{kind}")(
            meta["name"], meta["namespace"], obj
        )
        return self.api.sanitize_for_serialization(replaced)

    def delete_object(self, kind: str, namespace: str | None, name: str) -> bool:
        plural = _plural(kind)
        if plural == "serviceaccounts" and name == "default":
            pytest.skip("a real cluster's controller recreates the default ServiceAccount at once")
        try:
            if plural == "secrets":
                self.core.delete_namespaced_secret(name, namespace)
            else:
                self.core.delete_namespaced_service_account(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    def cleanup(self) -> None:
        labelled = self.core.list_namespace(
            label_selector="app.kubernetes.io/managed-by=orgsettings"
        ).items
        for name in {*self.created, *(n.metadata.name for n in labelled)}:
            try:
                self.core.delete_namespace(name)
            except ApiException as error:
                if error.status != 404:
                    raise
        self.api.close()

    def _wait_until_gone(self, name: str) -> None:
        self._wait_for(lambda: self._namespace_absent(name), timeout=120)

    def _namespace_absent(self, name: str) -> bool:
        try:
            self.core.read_namespace(name)
        except ApiException as error:
            if error.status == 404:
                return True
            raise
        return False

    @staticmethod
    def _wait_for(condition, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the cluster did not get there in time")
            time.sleep(0.25)
