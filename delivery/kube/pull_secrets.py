"""The calls delivery makes: namespaces, our image-pull Secrets, and ServiceAccounts'
`imagePullSecrets`, spoken in small plain objects (SecretState, ServiceAccountState)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from kubernetes import client

from ..dockerconfig import DOCKERCONFIGJSON_KEY, SECRET_TYPE, decode_config
from ..errors import secret_digest
from .calls import ClusterAPI, translated

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "orgsettings"
ORGANIZATION_LABEL = "orgsettings.io/organization"


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


class PullSecretCalls(ClusterAPI):
    """Namespaces, Secrets and ServiceAccounts."""

    # Namespaces

    def list_namespaces(self) -> set[str]:
        return {
            item["metadata"]["name"] for item in self._pages(self.core.list_namespace, "namespaces")
        }

    def create_namespace(self, namespace: str, labels: dict[str, str]) -> None:
        body = client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels=labels))
        with translated("create", "namespaces", namespace, exists_ok=True):
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
        with translated("read", "secrets", namespace, missing_ok=True) as missing:
            item = self.core.read_namespaced_secret(name, namespace, _request_timeout=self.timeout)
        return None if missing else _secret_state(item)

    def create_secret(
        self, namespace: str, name: str, labels: dict[str, str], data_value: str
    ) -> None:
        with translated("create", "secrets", namespace):
            self.core.create_namespaced_secret(
                namespace,
                _secret_body(namespace, name, labels, data_value),
                _request_timeout=self.timeout,
            )

    def replace_secret(self, current: SecretState, labels: dict[str, str], data_value: str) -> None:
        """Replace `current`; ClusterError kind "conflict" when it changed since it was read."""
        body = _secret_body(current.namespace, current.name, labels, data_value)
        body.metadata.resource_version = current.resource_version
        with translated("replace", "secrets", current.namespace):
            self.core.replace_namespaced_secret(
                current.name, current.namespace, body, _request_timeout=self.timeout
            )

    def delete_secret(self, namespace: str, name: str) -> None:
        with translated("delete", "secrets", namespace, missing_ok=True):
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
        with translated("read", "serviceaccounts", namespace, missing_ok=True) as missing:
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
        with translated("patch", "serviceaccounts", current.namespace):
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
