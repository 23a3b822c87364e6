"""The rules for what a registry may hold, shared by the Settings form, the admin and sync.

Addresses are stored as the key the kubelet matches image references against
(`host[:port][/path]`, see the kubelet's credential keyring), so what users type in real
life is normalized here once instead of being interpreted differently everywhere.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

DOCKER_HUB_KEY = "docker.io"
DOCKER_HUB_HOSTS = frozenset(
    {
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        "registry.hub.docker.com",
        "hub.docker.com",
        "www.docker.com",
    }
)
# Sent with a token when the user gives no username; most token-based registries ignore it.
TOKEN_DEFAULT_USERNAME = "token"

USERNAME_MAX_LENGTH = 255
PASSWORD_MAX_LENGTH = 8 * 1024
TOKEN_MAX_LENGTH = 16 * 1024
ADDRESS_MAX_LENGTH = 255
HOST_MAX_LENGTH = 253
LABEL_MAX_LENGTH = 63

_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_PATH_COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_WHITESPACE_RE = re.compile(r"\s")
_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
# ASCII digits only: str.isdigit() accepts "²" (which int() refuses) and Arabic-Indic digits
# (which int() reads as ASCII ones).
_ID_RE = re.compile(r"[0-9]{1,19}")
_PORT_RE = re.compile(r"[0-9]{1,5}")
# The largest primary key and version the database holds (a signed 64-bit integer).
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class NormalizedAddress:
    key: str
    plain_http: bool = False
    # Said to the user, before saving, when the key to be stored differs from what they typed
    # in a way that matters; `saved_note` says the same after saving.
    note: str = ""
    saved_note: str = ""

    @property
    def host(self) -> str:
        return split_key(self.key)[0]

    @property
    def is_wildcard(self) -> bool:
        return "*" in self.host


def without_userinfo(raw: str) -> str:
    """The typed address with any `user:password@` taken out, safe to show again.

    Everything between the scheme and the last `@` goes, whatever it holds: a password may
    contain `/`, `?`, `#` or `@` itself, and no valid address has an `@` anywhere else.
    """
    text = raw.strip()
    scheme = _SCHEME_RE.match(text)
    start = scheme.end() if scheme else 0
    at = text.rfind("@", start)
    return text if at == -1 else text[:start] + text[at + 1 :]


def parse_id(raw: str) -> int | None:
    """A primary key or version as a client sent it, or None unless it is plain ASCII digits
    of a size the database can hold."""
    if not isinstance(raw, str) or not _ID_RE.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


def split_key(key: str) -> tuple[str, str]:
    """Split a stored key into `host[:port]` and the path prefix (may be empty)."""
    hostport, _, path = key.partition("/")
    return hostport, path


def normalize_address(raw: str) -> NormalizedAddress:
    """Turn a typed registry address into the key the kubelet will match, or raise."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError("Enter the registry's address, for example ghcr.io.", code="required")
    if len(text) > ADDRESS_MAX_LENGTH:
        raise ValidationError(
            f"Addresses are at most {ADDRESS_MAX_LENGTH} characters.", code="max_length"
        )
    # Before any other rule: this error is the one that makes the form drop what was typed
    # before the @, which may be a password.
    if without_userinfo(text) != text:
        raise ValidationError(
            "Do not put credentials in the address; use the Username and Password fields.",
            code="userinfo",
        )
    if _WHITESPACE_RE.search(text) or _CONTROL_RE.search(text):
        raise ValidationError("The address cannot contain spaces.", code="whitespace")

    plain_http = False
    scheme = _SCHEME_RE.match(text)
    if scheme:
        name = scheme.group(1).lower()
        if name not in ("http", "https"):
            raise ValidationError(
                f"“{name}://” is not a registry address; use the host name, like ghcr.io.",
                code="scheme",
            )
        plain_http = name == "http"
        text = text[scheme.end() :]

    if "@" in text:
        raise ValidationError(
            "Do not put credentials in the address; use the Username and Password fields.",
            code="userinfo",
        )
    if "?" in text or "#" in text:
        raise ValidationError(
            "The address cannot have a query (?…) or fragment (#…).", code="query"
        )

    hostport, _, path = text.partition("/")
    host, port = _split_port(hostport)
    host = _normalize_host(host, has_port=port is not None)
    path = _normalize_path(path)

    note = saved_note = ""
    if host in DOCKER_HUB_HOSTS:
        if plain_http:
            raise ValidationError("Docker Hub is only served over HTTPS.", code="docker_hub_http")
        if port is not None:
            raise ValidationError("Docker Hub addresses have no port.", code="docker_hub_port")
        if host == "index.docker.io":
            why = "first for Docker Hub images such as nginx or you/app."
        else:
            why = f"for Docker Hub images such as nginx or you/app (“{host}” would match none)."
        if host != DOCKER_HUB_KEY:
            what = f"as “{DOCKER_HUB_KEY}”, the address Kubernetes matches {why}"
            note, saved_note = f"Docker Hub will be stored {what}", f"Docker Hub was stored {what}"
        host = DOCKER_HUB_KEY

    key = host if port is None else f"{host}:{port}"
    if path:
        key = f"{key}/{path}"
    return NormalizedAddress(key=key, plain_http=plain_http, note=note, saved_note=saved_note)


def _split_port(hostport: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end == -1:
            raise ValidationError("The IPv6 address is missing its closing “]”.", code="host")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValidationError("Unexpected text after the IPv6 address.", code="host")
        port_text = rest[1:] if rest else None
    elif ":" in hostport:
        host, port_text = hostport.rsplit(":", 1)
    else:
        host, port_text = hostport, None
    if port_text is None:
        return host, None
    if not _PORT_RE.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
        raise ValidationError("The port must be a number from 1 to 65535.", code="port")
    return host, int(port_text)


def _normalize_host(host: str, *, has_port: bool) -> str:
    if not host:
        raise ValidationError(
            "The address needs a host name, like registry.example.com.", code="host"
        )
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValidationError("That is not a valid IPv6 address.", code="host") from None
        return host.lower()
    host = host.rstrip(".")
    try:
        host = host.encode("idna").decode("ascii").lower() if not host.isascii() else host.lower()
    except UnicodeError:
        raise ValidationError("That is not a valid host name.", code="host") from None
    labels = host.split(".")
    if len(host) > HOST_MAX_LENGTH:
        raise ValidationError(
            f"The host name is {len(host)} characters long; host names are at most "
            f"{HOST_MAX_LENGTH}.",
            code="host",
        )
    if not all(labels):
        raise ValidationError(
            "The host name has an empty part: two dots in a row, or a dot at the start.",
            code="host",
        )
    wildcard_labels = [label for label in labels if "*" in label]
    if wildcard_labels:
        if any(label != "*" for label in wildcard_labels) or labels[0] != "*":
            raise ValidationError(
                "Wildcards are allowed only as whole leading labels, like *.azurecr.io.",
                code="wildcard",
            )
        concrete = [label for label in labels if label != "*"]
        if labels[: len(wildcard_labels)] != wildcard_labels or len(concrete) < 2:
            raise ValidationError(
                "A wildcard needs a domain of at least two labels after it, like *.azurecr.io.",
                code="wildcard",
            )
        labels = concrete
    for label in labels:
        _check_label(label)
    # Without a dot or a port, a first path component is read as a Docker Hub user name, so an
    # image like `myregistry/app` would never be pulled from a host called `myregistry`.
    if len(labels) == 1 and not has_port and host != "localhost":
        raise ValidationError(
            f"“{host}” needs a domain or a port (like {host}.example.com or {host}:5000): "
            "image names without one are looked up on Docker Hub.",
            code="single_label",
        )
    return host


def _check_label(label: str) -> None:
    """Say exactly what is wrong with one dot-separated part of a host name."""
    if _LABEL_RE.match(label):
        return
    shown = label if len(label) <= 24 else f"{label[:20]}…"
    if len(label) > LABEL_MAX_LENGTH:
        raise ValidationError(
            f"“{shown}” is {len(label)} characters long: each part of a host name between dots "
            f"is at most {LABEL_MAX_LENGTH}.",
            code="label_length",
        )
    if label.startswith("-") or label.endswith("-"):
        raise ValidationError(
            f"“{shown}” starts or ends with a hyphen: parts of a host name cannot.", code="host"
        )
    bad = "".join(sorted({char for char in label if not re.match(r"[a-z0-9-]", char)}))
    raise ValidationError(
        f"“{shown}” contains “{bad}”: host names use letters, digits, hyphens and dots.",
        code="host",
    )


def unicode_host(address: str) -> str:
    """The host of a stored address in Unicode when any part is punycode, else ""."""
    host = split_key(address)[0].rsplit(":", 1)[0] if not address.startswith("[") else ""
    if "xn--" not in host:
        return ""
    try:
        return ".".join(
            label.encode("ascii").decode("idna") if label.startswith("xn--") else label
            for label in host.split(".")
        )
    except UnicodeError:
        return ""


def _normalize_path(path: str) -> str:
    path = path.strip("/")
    # The kubelet drops a leading /v1/ or /v2/ (API version paths copied from docker config).
    for prefix in ("v1", "v2"):
        if path == prefix or path.startswith(prefix + "/"):
            path = path[len(prefix) :].lstrip("/")
            break
    if not path:
        return ""
    components = path.lower().split("/")
    for component in components:
        if not _PATH_COMPONENT_RE.match(component):
            raise ValidationError(
                f"“{component or '/'}” is not a valid part of a repository path: use lower-case "
                "letters, digits and . _ - separators.",
                code="path",
            )
    return "/".join(components)


def validate_username(value: str) -> None:
    if len(value) > USERNAME_MAX_LENGTH:
        raise ValidationError(
            f"Usernames are at most {USERNAME_MAX_LENGTH} characters.", code="max_length"
        )
    if _WHITESPACE_RE.search(value) or _CONTROL_RE.search(value):
        raise ValidationError(
            "The username cannot contain spaces or control characters.", code="whitespace"
        )
    if ":" in value:
        # Pull credentials travel as base64("username:password"); a colon would split it wrongly.
        raise ValidationError("The username cannot contain “:”.", code="colon")


def in_sentence(label: str) -> str:
    """A field label inside a sentence: "Password" -> "password", "AWS secret access key" keeps
    its acronym."""
    return " ".join(word if word[:2].isupper() else word.lower() for word in label.split())


def validate_secret(value: str, *, label: str, max_length: int, allow_json: bool = False) -> None:
    """Reject secrets that cannot work; the message never repeats the value."""
    if len(value) > max_length:
        raise ValidationError(
            f"The {in_sentence(label)} is too long (at most {max_length} characters).",
            code="max_length",
        )
    if _CONTROL_RE.search(value.replace("\n", "") if allow_json else value):
        raise ValidationError(
            f"The {in_sentence(label)} cannot contain control characters.", code="control"
        )
    if _WHITESPACE_RE.search(value):
        if allow_json and _is_json_object(value):
            return
        raise ValidationError(
            f"The {in_sentence(label)} cannot contain spaces or line breaks. Check that it was pasted whole.",
            code="whitespace",
        )


def _is_json_object(value: str) -> bool:
    try:
        return isinstance(json.loads(value), dict)
    except ValueError:
        return False
