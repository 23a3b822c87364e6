"""The kubelet's rules for picking pull credentials for an image, restated for the tests
(after pkg/credentialprovider/keyring.go), so the Secret we produce is checked against how a
node will read it rather than against our own idea of it."""

from __future__ import annotations

import fnmatch
from urllib.parse import urlsplit


def _split(url_like: str) -> tuple[str, str | None, str]:
    for scheme in ("https://", "http://"):
        if url_like.startswith(scheme):
            url_like = url_like[len(scheme) :]
    parsed = urlsplit("https://" + url_like)
    path = parsed.path
    for prefix in ("/v1/", "/v2/"):
        if path.startswith(prefix):
            path = "/" + path[len(prefix) :]
    host, _, port = parsed.netloc.partition(":")
    return host, port or None, path.rstrip("/") if path != "/" else ""


def normalize_image(image: str) -> str:
    """`nginx` -> `docker.io/library/nginx`, `me/app` -> `docker.io/me/app`, the legacy
    `index.docker.io/me/app` too; tags dropped."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    first, _, rest = name.partition("/")
    if first == "index.docker.io" and rest:
        name, first = f"docker.io/{rest}", "docker.io"
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/library/{name}" if not rest else f"docker.io/{name}"
    elif first == "docker.io" and "/" not in rest:
        name = f"docker.io/library/{rest}"
    return name


def key_matches(key: str, image: str) -> bool:
    key_host, key_port, key_path = _split(key)
    image_host, image_port, image_path = _split(normalize_image(image))
    if key_port != image_port:
        return False
    key_labels, image_labels = key_host.split("."), image_host.split(".")
    if len(key_labels) != len(image_labels):
        return False
    if not all(
        fnmatch.fnmatchcase(label, pattern)
        for pattern, label in zip(key_labels, image_labels, strict=True)
    ):
        return False
    return image_path.startswith(key_path)


def credentials_for(config: dict, image: str) -> list[dict]:
    """The entries the kubelet would try for `image`, most specific first."""
    auths = config.get("auths", {})
    matches = [key for key in auths if key_matches(key, image)]
    if not matches and normalize_image(image).startswith("docker.io/"):
        matches = [key for key in auths if _split(key)[0] == "index.docker.io"]
    matches.sort(key=lambda key: len(key), reverse=True)
    return [auths[key] for key in matches]
