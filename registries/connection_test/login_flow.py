"""The login of a connection test, the way a container runtime does it (`docker login`).

The protocol is the Docker Registry HTTP API v2 / OCI distribution login: `GET /v2/`, then
Basic credentials or a Bearer token fetched from the realm of the registry's challenge. The
token service's realm is a user-controlled URL like any other: it goes through the transport's
checks, and is never reached over plain HTTP from an HTTPS registry. The secret travels only in
Authorization headers: never in a message, log line or cache.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from ..validation import DOCKER_HUB_HOSTS
from .address_policy import ip_or_none
from .options import ProbeOptions
from .report import ProbeResult, Redactor, Stop, stop
from .transport import Response, Transport, not_a_registry, url_host

logger = logging.getLogger("registries.connection_test")

# Docker Hub (any of validation.DOCKER_HUB_HOSTS) serves its registry API from one host.
_DOCKER_HUB_API_HOST = "registry-1.docker.io"
_HOST_RE = re.compile(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$")
_PORT_RE = re.compile(r"[0-9]{1,5}")
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")


def probe_registry(
    *, address: str, plain_http: bool, username: str, secret: str, options: ProbeOptions
) -> ProbeResult:
    """Log in to the registry at a stored address key and say how it went.

    `address` is the normalized key (`host[:port][/path]`, no scheme); `plain_http` is True when
    the user typed http://. A token is sent as the password of the login, like `docker login`.
    """
    redactor = Redactor(secret=secret)
    transport = Transport(
        options=options, redactor=redactor, deadline=time.monotonic() + options.total_timeout
    )
    flow = LoginFlow(options=options, username=username, secret=secret, transport=transport)
    try:
        result = flow.run(address, plain_http=plain_http)
    except Stop as stopped:
        result = stopped.result
    logger.info("registry probe of %s: %s", address, result.outcome)
    return result


@dataclass(frozen=True)
class Target:
    host: str  # no brackets around IPv6 literals
    port: int | None
    path: str
    display: str


@dataclass
class LoginFlow:
    options: ProbeOptions
    username: str
    secret: str
    transport: Transport

    @property
    def redactor(self) -> Redactor:
        return self.transport.redactor

    def run(self, address: str, *, plain_http: bool) -> ProbeResult:
        target = parse_address(address)
        self.redactor.display = target.display
        self.redactor.own_host = target.host
        if plain_http and not self.options.allow_http:
            raise stop(
                "insecure-http",
                f"{target.display} was entered with http://, and the operator has not allowed "
                "testing over plain HTTP. The kubelet would not pull from it over plain HTTP "
                "either: by default containerd and the kubelet require HTTPS.",
            )
        scheme = "http" if plain_http else "https"
        base = f"{scheme}://{url_host(target.host)}"
        if target.port is not None:
            base += f":{target.port}"
        v2_url = f"{base}/v2/"

        first = self.transport.get(v2_url, headers={})
        if first.status == 200:
            self.require_registry(first)
            return ProbeResult(
                "ok",
                f"{target.display} answered without asking for credentials: it allows anonymous "
                "access, so these credentials were not checked.",
                auth_scheme="none",
            )
        self.raise_for_common(first)
        if first.status == 403 and first.header("Docker-Distribution-API-Version"):
            raise stop(
                "unauthorized",
                f"{target.display} refused access before any login (HTTP 403); it may accept "
                "connections only from certain networks.",
            )
        if first.status != 401:
            raise self.not_registry(first)
        challenges = parse_challenges(first.headers.get_all("WWW-Authenticate") or [])
        schemes = {name: params for name, params in challenges}
        if "bearer" in schemes:
            return self.bearer_login(v2_url, schemes["bearer"], target, plain_http=plain_http)
        if "basic" in schemes:
            return self.basic_login(v2_url)
        if challenges:
            raise stop(
                "untestable",
                f"{target.display} asks for a login this test does not support "
                f"({self.redactor.shown(challenges[0][0])}); only Basic and Bearer (token) logins can be tested.",
            )
        raise self.not_registry(first)

    # --- the two logins -------------------------------------------------------------------

    def basic_login(self, v2_url: str) -> ProbeResult:
        if not self.has_credentials:
            raise stop(
                "unauthorized",
                f"{self.redactor.display} requires a login, and no credentials were given.",
            )
        response = self.transport.get(v2_url, headers={"Authorization": self.basic_authorization()})
        if response.status == 200:
            return ProbeResult(
                "ok",
                f"Logged in to {self.redactor.display} with these credentials.",
                auth_scheme="basic",
            )
        self.raise_for_common(response)
        if response.status in (401, 403):
            raise self.unauthorized()
        raise self.not_registry(response)

    def bearer_login(
        self, v2_url: str, challenge: dict[str, str], target: Target, *, plain_http: bool
    ) -> ProbeResult:
        realm = challenge.get("realm", "")
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise stop(
                "not-registry",
                f"{self.redactor.display} asked for a token but gave no valid address (realm) to get "
                "it from.",
            )
        if parts.scheme == "http" and not plain_http:
            raise stop(
                "insecure-http",
                f"{self.redactor.display} sends logins to a token service over plain HTTP "
                f"({self.redactor.shown(parts.hostname)}); the test does not send credentials unencrypted.",
            )
        params = [("service", challenge["service"])] if challenge.get("service") else []
        if challenge.get("scope"):
            params.append(("scope", challenge["scope"]))
        if target.path:
            params.append(("scope", f"repository:{target.path}:pull"))
        if self.username:
            params.append(("account", self.username))
        token_url = realm
        if params:
            token_url += ("&" if parts.query else "?") + urlencode(params)

        headers = {"Authorization": self.basic_authorization()} if self.has_credentials else {}
        token_response = self.transport.get(
            token_url,
            headers=headers,
            allow_http=plain_http,
            context=f"The token service of {self.redactor.display} is at {self.redactor.shown(parts.hostname)}: ",
        )
        if token_response.status in (401, 403):
            raise self.unauthorized()
        self.raise_for_common(token_response)
        if token_response.status != 200:
            raise stop(
                "not-registry",
                f"The token service of {self.redactor.display} answered with HTTP {token_response.status} "
                "instead of a token.",
            )
        token = token_from(token_response.body)
        if token is None:
            raise stop(
                "not-registry",
                f"The token service of {self.redactor.display} did not answer with a usable token.",
            )

        response = self.transport.get(v2_url, headers={"Authorization": f"Bearer {token}"})
        if response.status == 200:
            if not self.has_credentials:
                return ProbeResult(
                    "ok",
                    f"{self.redactor.display} gave an anonymous token: it allows anonymous access, so no "
                    "credentials were checked.",
                    auth_scheme="bearer",
                )
            return ProbeResult(
                "ok",
                f"Logged in to {self.redactor.display} with these credentials (token login).",
                auth_scheme="bearer",
            )
        self.raise_for_common(response)
        if response.status in (401, 403):
            raise self.unauthorized()
        raise self.not_registry(response)

    @property
    def has_credentials(self) -> bool:
        return bool(self.username or self.secret)

    def basic_authorization(self) -> str:
        pair = f"{self.username}:{self.secret}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    # --- classifying answers ---------------------------------------------------------------

    def raise_for_common(self, response: Response) -> None:
        if response.status == 429:
            raise stop(
                "rate-limited",
                f"{self.redactor.display} is limiting requests right now (HTTP 429). Try again in a "
                "few minutes.",
            )
        if response.status >= 500:
            raise stop(
                "unreachable",
                f"{self.redactor.display} answered with a server error (HTTP {response.status}). "
                "Try again later.",
            )

    def require_registry(self, response: Response) -> None:
        if not response.header("Docker-Distribution-API-Version") or response.is_html:
            raise self.not_registry(response)

    def not_registry(self, response: Response) -> Stop:
        return not_a_registry(self.redactor.display, response)

    def unauthorized(self) -> Stop:
        if not self.has_credentials:
            return stop(
                "unauthorized",
                f"{self.redactor.display} requires a login, and no credentials were given.",
            )
        return stop(
            "unauthorized",
            f"{self.redactor.display} rejected these credentials. Check the username and the password "
            "or token.",
        )


# --- pure helpers ----------------------------------------------------------------------------


def parse_address(address: str) -> Target:
    key = (address or "").strip().lower()
    hostport, _, path = key.partition("/")
    if hostport.startswith("*") or "*" in hostport:
        raise stop(
            "untestable",
            f"{address} is a wildcard address, and wildcard addresses cannot be tested. To "
            "test the credentials, add a registry with one concrete host name and test that.",
        )
    if hostport in DOCKER_HUB_HOSTS:
        return Target(_DOCKER_HUB_API_HOST, None, path.strip("/"), "Docker Hub")
    host, port_text = hostport, ""
    if hostport.startswith("["):
        end = hostport.find("]")
        host, rest = hostport[1:end], hostport[end + 1 :]
        if end == -1 or (rest and not rest.startswith(":")):
            raise invalid(address)
        port_text = rest[1:]
    elif hostport.count(":") == 1:
        host, port_text = hostport.split(":")
    port: int | None = None
    if port_text:
        if not _PORT_RE.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
            raise invalid(address)
        port = int(port_text)
    if ip_or_none(host) is None and not _HOST_RE.match(host):
        raise invalid(address)
    return Target(host, port, path.strip("/"), hostport or address)


def invalid(address: str) -> Stop:
    return stop("untestable", f"“{address}” is not a registry address that can be tested.")


_CHALLENGE_SCHEME = re.compile(r"[\s,]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)")
_CHALLENGE_PARAM = re.compile(
    r"[\s,]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(\"(?:[^\"\\]|\\.)*\"|[^,\s]*)"
)


def parse_challenges(values: Iterable[str]) -> list[tuple[str, dict[str, str]]]:
    """Parse WWW-Authenticate values into (scheme, params); several may share one header."""
    challenges: list[tuple[str, dict[str, str]]] = []
    for value in values:
        position = 0
        current: dict[str, str] | None = None
        while position < len(value):
            param = _CHALLENGE_PARAM.match(value, position)
            if param and current is not None:
                raw = param.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                current[param.group(1).lower()] = raw
                position = param.end()
                continue
            scheme = _CHALLENGE_SCHEME.match(value, position)
            if not scheme:
                break
            current = {}
            challenges.append((scheme.group(1).lower(), current))
            position = scheme.end()
    return challenges


def token_from(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    token = data.get("token") or data.get("access_token")
    if isinstance(token, str) and _TOKEN_RE.match(token):
        return token
    return None
