"""Which entries of an image-pull Secret a node tries for an image: the kubelet's keyring.

The kubelet (pkg/credentialprovider/keyring.go) normalizes the image reference the way the
container runtimes do (`nginx` is `docker.io/library/nginx`), then tries every `auths` key that
matches it, most specific first. A key matches when the ports are equal, the host has as many
dot-separated labels as the image's and each label glob-matches (`*.azurecr.io` matches
`x.azurecr.io` only), and the image path starts with the key's path.

This is the product's one implementation of those rules. The Secret's keys are the registries'
stored addresses (validation.normalize_address makes them, dockerconfig writes them), and pull
health asks this module which of those same keys an image was pulled with, so the registry row
that shows a failing pull is the entry the node really tried.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from .validation import DOCKER_HUB_KEY

# The kubelet falls back to this key for Docker Hub images when no other key matches.
_LEGACY_DOCKER_HUB = "index.docker.io"
_OFFICIAL_PREFIX = "library/"


@dataclass(frozen=True)
class ImageName:
    """A normalized image reference: `host` is host[:port], `path` the repository path."""

    host: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def repository(self) -> str:
        """What the kubelet matches keys against: `docker.io/library/nginx`, no tag."""
        return f"{self.host}/{self.path}"

    @property
    def is_docker_hub(self) -> bool:
        return self.host == DOCKER_HUB_KEY


def parse_image(reference: str) -> ImageName | None:
    """Normalize an image reference like the runtimes (distribution/reference) do, or None
    when it is not one (empty, spaces, an upper-case repository path)."""
    text = (reference or "").strip()
    if not text or any(char.isspace() for char in text):
        return None
    name, _, digest = text.partition("@")
    tag = ""
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, slash, rest = name.partition("/")
    # A first component is a host only when it looks like one: a dot, a port, "localhost",
    # or upper-case letters (which repository paths cannot have).
    if slash and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        host, path = first, rest
    else:
        host, path = DOCKER_HUB_KEY, name
    if host == _LEGACY_DOCKER_HUB:
        host = DOCKER_HUB_KEY
    if host == DOCKER_HUB_KEY and "/" not in path:
        path = _OFFICIAL_PREFIX + path
    if not path or path != path.lower() or "//" in path or path.endswith("/"):
        return None
    return ImageName(host=host, path=path, tag=tag, digest=digest)


def normalize_image(reference: str) -> str | None:
    """`nginx:1.27` -> `docker.io/library/nginx`; None when it is not an image reference."""
    image = parse_image(reference)
    return image.repository if image else None


@dataclass(frozen=True)
class _Url:
    labels: tuple[str, ...]
    port: str
    path: str


def _parse_key(key: str) -> _Url:
    """A Secret key as the kubelet reads it: scheme dropped, a leading /v1/ or /v2/ too."""
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            key = key[len(scheme) :]
            break
    hostport, slash, path = key.partition("/")
    path = slash + path
    if path.startswith(("/v1/", "/v2/")):
        path = path[3:]
    if path == "/":
        path = ""
    return _split(hostport, path)


def _index_form(key: str) -> str:
    url = _parse_key(key)
    host = ".".join(url.labels)
    return (f"{host}:{url.port}" if url.port else host) + url.path


def _split(hostport: str, path: str) -> _Url:
    host, port = hostport, ""
    if hostport.startswith("["):
        end = hostport.find("]")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        port = rest[1:] if rest.startswith(":") else ""
    elif hostport.count(":") == 1:
        host, port = hostport.split(":")
    return _Url(labels=tuple(host.split(".")), port=port, path=path)


def key_matches(key: str, image: ImageName) -> bool:
    """Whether the kubelet tries the Secret entry `key` for `image`."""
    pattern = _parse_key(key)
    target = _split(image.host, "/" + image.path)
    if pattern.port != target.port or len(pattern.labels) != len(target.labels):
        return False
    # The kubelet compares paths as strings: `ghcr.io/acme` also matches `ghcr.io/acme-labs/x`.
    if not target.path.startswith(pattern.path):
        return False
    return all(
        fnmatch.fnmatchcase(label, glob)
        for glob, label in zip(pattern.labels, target.labels, strict=True)
    )


def matching_keys(keys: Iterable[str], reference: str | ImageName) -> list[str]:
    """The keys the kubelet tries for an image, in its order (most specific first)."""
    image = parse_image(reference) if isinstance(reference, str) else reference
    if image is None:
        return []
    # The kubelet sorts its index in reverse: `quay.io/acme` before `quay.io`, and a named host
    # before a wildcard (`*` sorts below letters and digits).
    ordered = sorted(set(keys), key=_index_form, reverse=True)
    matched = [key for key in ordered if key_matches(key, image)]
    if not matched and image.is_docker_hub:
        matched = [key for key in ordered if _parse_key(key) == _split(_LEGACY_DOCKER_HUB, "")]
    return matched
