"""Registries in, the content of a `kubernetes.io/dockerconfigjson` Secret out. Pure: no
database, no cluster, so the exact bytes the kubelet reads can be tested on their own."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Protocol

DOCKERCONFIGJSON_KEY = ".dockerconfigjson"
SECRET_TYPE = "kubernetes.io/dockerconfigjson"


class Credential(Protocol):
    address: str
    login_username: str
    login_secret: str


def build_config(registries: Iterable[Credential]) -> dict:
    """`{"auths": {address: {username, password, auth}}}`: the kubelet reads only these three.

    A token travels as the password of a login (the kubelet ignores `identitytoken` and
    `registrytoken` in pull secrets).
    """
    auths = {}
    for registry in registries:
        username, password = registry.login_username, registry.login_secret
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
