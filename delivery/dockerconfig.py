"""Registries in, the content of a `kubernetes.io/dockerconfigjson` Secret out. Pure: no
database, no cluster, so the exact bytes the kubelet reads can be tested on their own."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Protocol

from registries.keyring import matching_keys

from .errors import ClusterError

DOCKERCONFIGJSON_KEY = ".dockerconfigjson"
SECRET_TYPE = "kubernetes.io/dockerconfigjson"


class Credential(Protocol):
    display_name: str
    address: str
    login_username: str
    login_secret: str
    credentials_unreadable: bool


def build_config(registries: Iterable[Credential]) -> dict:
    """`{"auths": {address: {username, password, auth}}}`: the kubelet reads only these three.

    A token travels as the password of a login (the kubelet ignores `identitytoken` and
    `registrytoken` in pull secrets).
    """
    auths = {}
    for registry in registries:
        username, password = registry.login_username, registry.login_secret
        if not password:
            # An Amazon ECR registry before its first token is minted: no entry rather than
            # one that fails every pull (the mint's save asks for the delivery that adds it).
            continue
        auth = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        auths[registry.address] = {"username": username, "password": password, "auth": auth}
    return {"auths": dict(sorted(auths.items()))}


def encode_config(config: dict) -> str:
    """The Secret's data value: base64 of compact JSON with sorted keys (stable across runs)."""
    raw = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    return base64.b64encode(raw).decode("ascii")


def decode_config(data_value: str | None) -> dict | None:
    """The parsed JSON of a Secret's data value, or None when it is missing or not JSON."""
    if not data_value:
        return None
    try:
        parsed = json.loads(base64.b64decode(data_value, validate=True))
    except (ValueError, TypeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def secret_data(registries: list[Credential]) -> str:
    """The data value to deliver for these registries, or ClusterError when one of them holds
    a credential no configured key decrypts: raised before any write, so the cluster keeps the
    last good Secret rather than one with an empty password."""
    unreadable = [registry for registry in registries if registry.credentials_unreadable]
    if unreadable:
        names = ", ".join(f"“{registry.display_name}”" for registry in unreadable)
        raise ClusterError(
            "credentials-unreadable",
            f"Not synced: the stored credentials of {names} cannot be decrypted: the encryption "
            "key changed. The cluster keeps the last synced Secret.",
            retriable=False,
        )
    return encode_config(build_config(registries))


def entries_for(config: dict, image: str) -> list[tuple[str, dict]]:
    """The (key, entry) pairs of a Secret's config that a node tries for `image`, in order."""
    auths = config.get("auths") or {}
    return [(key, auths[key]) for key in matching_keys(auths, image)]
