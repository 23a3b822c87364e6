"""Test a registry login the way a container runtime does it, from the server, safely.

The address is chosen by organization admins, so every request here is a server-side request
to a user-chosen place (SSRF). The rules this module keeps:

- the host is resolved once per probe, and every resolved address must be public unless the
  operator allowed its network; the connection then goes to exactly that checked address while
  TLS (SNI, certificate name) and the Host header use the name;
- redirects and the token service's realm are user-controlled URLs too: each goes through the
  same checks, and HTTPS never downgrades to plain HTTP;
- TLS is always verified (system roots plus an optional operator CA bundle);
- every read is bounded in time and size, and the whole probe by one deadline;
- the secret travels only in Authorization headers: never in a message, log line or cache.

The protocol is the Docker Registry HTTP API v2 / OCI distribution login: `GET /v2/`, then
Basic credentials or a Bearer token fetched from the realm of the registry's challenge.
"""

from __future__ import annotations

import base64
import http.client
import io
import ipaddress
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

logger = logging.getLogger(__name__)

OUTCOMES = (
    "ok",
    "unauthorized",
    "not-registry",
    "dns",
    "unreachable",
    "timeout",
    "tls",
    "blocked",
    "insecure-http",
    "rate-limited",
    "untestable",
)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_NETWORKS_SETTING = "REGISTRY_PROBE_ALLOWED_NETWORKS"

# Docker Hub's keys are what the kubelet matches; its registry API lives on another host.
_DOCKER_HUB_KEYS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_DOCKER_HUB_API_HOST = "registry-1.docker.io"
_MAX_REDIRECTS = 3
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_HOST_RE = re.compile(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$")
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")
_SHARED_NETWORK = ipaddress.IPv4Network("100.64.0.0/10")
_UNIQUE_LOCAL_NETWORK = ipaddress.IPv6Network("fc00::/7")
_NAT64_NETWORK = ipaddress.IPv6Network("64:ff9b::/96")
_USER_AGENT = "orgsettings-registry-probe/1"
_NOT_FOUND_ERRNOS = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)})

# OpenSSL verify codes, to tell users which certificate problem they have.
_UNTRUSTED_CODES = frozenset({2, 18, 19, 20, 21, 27})
_EXPIRED_CODES = frozenset({10})
_NOT_YET_VALID_CODES = frozenset({9})
_NAME_MISMATCH_CODES = frozenset({62, 64})


@dataclass(frozen=True)
class ProbeOptions:
    """What the operator decided; read from settings by the caller, never per request."""

    allow_http: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    # An operator PEM bundle trusted in addition to the system roots.
    ca_bundle: str | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    total_timeout: float = 10.0
    max_response_bytes: int = 64 * 1024


@dataclass(frozen=True)
class ProbeResult:
    outcome: str
    message: str
    auth_scheme: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown probe outcome {self.outcome!r}")

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def parse_networks(value: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse REGISTRY_PROBE_ALLOWED_NETWORKS ("10.0.0.0/8, fd00::/8") for ProbeOptions."""
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items)


def probe_registry(
    *, address: str, plain_http: bool, username: str, secret: str, options: ProbeOptions
) -> ProbeResult:
    """Log in to the registry at a stored address key and say how it went.

    `address` is the normalized key (`host[:port][/path]`, no scheme); `plain_http` is True when
    the user typed http://. A token is sent as the password of the login, like `docker login`.
    """
    probe = _Probe(options=options, username=username, secret=secret)
    try:
        result = probe.run(address, plain_http=plain_http)
    except _Stop as stop:
        result = stop.result
    logger.info("registry probe of %s: %s", address, result.outcome)
    return result


class _Stop(Exception):
    """Ends the probe early with its result; never leaves this module."""

    def __init__(self, result: ProbeResult) -> None:
        super().__init__(result.outcome)
        self.result = result


def _stop(outcome: str, message: str, auth_scheme: str = "") -> _Stop:
    return _Stop(ProbeResult(outcome=outcome, message=message, auth_scheme=auth_scheme))


@dataclass(frozen=True)
class _Target:
    host: str  # no brackets around IPv6 literals
    port: int | None
    path: str
    display: str


@dataclass
class _Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name, "") or ""


@dataclass
class _Probe:
    options: ProbeOptions
    username: str
    secret: str
    deadline: float = 0.0
    display: str = ""
    own_host: str = ""
    # Resolved and checked once per host for the whole probe: redirects back to a host reuse it,
    # so a second DNS answer can never swap in another address.
    resolved: dict[str, list[IPAddress]] = field(default_factory=dict)
    _ssl_context: ssl.SSLContext | None = None

    def shown(self, value: str) -> str:
        """`value` as a message may quote it, when the registry or the network chose it (a
        redirect's host, a token realm, a challenge): a registry that was sent the secret could
        echo it there. The user's own address is quoted as typed, and so is our wording: hiding
        a short secret inside those would show where it occurs, and so what it is."""
        if not self.secret or value in (self.own_host, self.display):
            return value
        # Ignoring case: host names and challenge schemes reach us lower-cased.
        return re.sub(re.escape(self.secret), "[hidden]", value, flags=re.IGNORECASE)

    def run(self, address: str, *, plain_http: bool) -> ProbeResult:
        self.deadline = time.monotonic() + self.options.total_timeout
        target = _parse_address(address)
        self.display = target.display
        self.own_host = target.host
        if plain_http and not self.options.allow_http:
            raise _stop(
                "insecure-http",
                f"{target.display} was entered with http://, and the operator has not allowed "
                "testing over plain HTTP. The kubelet would not pull from it over plain HTTP "
                "either: by default containerd and the kubelet require HTTPS.",
            )
        scheme = "http" if plain_http else "https"
        base = f"{scheme}://{_url_host(target.host)}"
        if target.port is not None:
            base += f":{target.port}"
        v2_url = f"{base}/v2/"

        first = self.get(v2_url, headers={})
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
            raise _stop(
                "unauthorized",
                f"{target.display} refused access before any login (HTTP 403); it may accept "
                "connections only from certain networks.",
            )
        if first.status != 401:
            raise self.not_registry(first)
        challenges = _parse_challenges(first.headers.get_all("WWW-Authenticate") or [])
        schemes = {name: params for name, params in challenges}
        if "bearer" in schemes:
            return self.bearer_login(v2_url, schemes["bearer"], target, plain_http=plain_http)
        if "basic" in schemes:
            return self.basic_login(v2_url)
        if challenges:
            raise _stop(
                "untestable",
                f"{target.display} asks for a login this test does not support "
                f"({self.shown(challenges[0][0])}); only Basic and Bearer (token) logins can be tested.",
            )
        raise self.not_registry(first)

    # --- the two logins -------------------------------------------------------------------

    def basic_login(self, v2_url: str) -> ProbeResult:
        if not self.has_credentials:
            raise _stop(
                "unauthorized", f"{self.display} requires a login, and no credentials were given."
            )
        response = self.get(v2_url, headers={"Authorization": self.basic_authorization()})
        if response.status == 200:
            return ProbeResult(
                "ok", f"Logged in to {self.display} with these credentials.", auth_scheme="basic"
            )
        self.raise_for_common(response)
        if response.status in (401, 403):
            raise self.unauthorized()
        raise self.not_registry(response)

    def bearer_login(
        self, v2_url: str, challenge: dict[str, str], target: _Target, *, plain_http: bool
    ) -> ProbeResult:
        realm = challenge.get("realm", "")
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _stop(
                "not-registry",
                f"{self.display} asked for a token but gave no valid address (realm) to get "
                "it from.",
            )
        if parts.scheme == "http" and not plain_http:
            raise _stop(
                "insecure-http",
                f"{self.display} sends logins to a token service over plain HTTP "
                f"({self.shown(parts.hostname)}); the test does not send credentials unencrypted.",
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
        token_response = self.get(
            token_url,
            headers=headers,
            allow_http=plain_http,
            context=f"The token service of {self.display} is at {self.shown(parts.hostname)}: ",
        )
        if token_response.status in (401, 403):
            raise self.unauthorized()
        self.raise_for_common(token_response)
        if token_response.status != 200:
            raise _stop(
                "not-registry",
                f"The token service of {self.display} answered with HTTP {token_response.status} "
                "instead of a token.",
            )
        token = _token_from(token_response.body)
        if token is None:
            raise _stop(
                "not-registry",
                f"The token service of {self.display} did not answer with a usable token.",
            )

        response = self.get(v2_url, headers={"Authorization": f"Bearer {token}"})
        if response.status == 200:
            if not self.has_credentials:
                return ProbeResult(
                    "ok",
                    f"{self.display} gave an anonymous token: it allows anonymous access, so no "
                    "credentials were checked.",
                    auth_scheme="bearer",
                )
            return ProbeResult(
                "ok",
                f"Logged in to {self.display} with these credentials (token login).",
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

    def raise_for_common(self, response: _Response) -> None:
        if response.status == 429:
            raise _stop(
                "rate-limited",
                f"{self.display} is limiting requests right now (HTTP 429). Try again in a "
                "few minutes.",
            )
        if response.status >= 500:
            raise _stop(
                "unreachable",
                f"{self.display} answered with a server error (HTTP {response.status}). "
                "Try again later.",
            )

    def require_registry(self, response: _Response) -> None:
        if not response.header("Docker-Distribution-API-Version") or _is_html(response):
            raise self.not_registry(response)

    def not_registry(self, response: _Response) -> _Stop:
        what = "a web page" if _is_html(response) else f"HTTP {response.status}"
        return _stop(
            "not-registry",
            f"{self.display} answered with {what}, not the container registry API (/v2/). "
            "Check the address.",
        )

    def unauthorized(self) -> _Stop:
        if not self.has_credentials:
            return _stop(
                "unauthorized", f"{self.display} requires a login, and no credentials were given."
            )
        return _stop(
            "unauthorized",
            f"{self.display} rejected these credentials. Check the username and the password "
            "or token.",
        )

    # --- HTTP with the safety rules ----------------------------------------------------------

    def get(
        self, url: str, *, headers: dict[str, str], allow_http: bool = False, context: str = ""
    ) -> _Response:
        """GET with redirects; each hop is checked, and credentials never leave their origin.

        `context` starts a "blocked" message, to say how the probe came to that address.
        """
        allow_http = allow_http or url.startswith("http://")
        origin = _origin(url)
        for _ in range(_MAX_REDIRECTS + 1):
            response = self.fetch_once(url, headers=headers, context=context)
            location = response.header("Location")
            if response.status not in _REDIRECT_STATUSES or not location:
                return response
            next_url = urljoin(url, location)
            scheme = urlsplit(next_url).scheme
            if scheme not in ("http", "https"):
                raise self.not_registry(response)
            if scheme == "http" and (url.startswith("https://") or not allow_http):
                raise _stop(
                    "insecure-http",
                    f"{self.display} redirected the test from HTTPS to plain HTTP, which it "
                    "never follows.",
                )
            if _origin(next_url) != origin:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = next_url
            context = (
                f"{self.display} redirected the test to {self.shown(urlsplit(url).hostname)}: "
            )
        raise _stop(
            "not-registry", f"{self.display} redirected the test too many times. Check the address."
        )

    def fetch_once(self, url: str, *, headers: dict[str, str], context: str) -> _Response:
        parts = urlsplit(url)
        host = parts.hostname or ""
        shown_host = self.shown(host)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise _stop(
                "not-registry", f"{self.display} led the test to an invalid address."
            ) from None
        addresses = self.resolve(host, port, context=context)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sock: _DeadlineSocket | None = None
        try:
            raw = self.connect(addresses, port)
            if parts.scheme == "https":
                raw = self.start_tls(raw, host)
            sock = _DeadlineSocket(raw, deadline=self.deadline, timeout=self.options.read_timeout)
            # The connection object is given the name (for the Host header) and a socket that is
            # already connected to the checked address, so http.client never resolves anything.
            connection = http.client.HTTPConnection(host, port)
            connection.sock = sock  # type: ignore[assignment]
            default_port = 443 if parts.scheme == "https" else 80
            host_header = _url_host(host) + ("" if port == default_port else f":{port}")
            connection.request(
                "GET",
                path,
                headers={
                    "Host": host_header,
                    "User-Agent": _USER_AGENT,
                    "Accept": "application/json",
                    "Connection": "close",
                    **headers,
                },
            )
            response = connection.getresponse()
            body = response.read(self.options.max_response_bytes + 1)
            if len(body) > self.options.max_response_bytes:
                raise _stop(
                    "not-registry",
                    f"{shown_host} sent a larger answer than a registry login needs; the test stopped "
                    "reading it.",
                )
            return _Response(response.status, response.headers, body)
        except _Stop:
            raise
        except ssl.SSLCertVerificationError as error:
            raise self.tls_failure(shown_host, error) from None
        except ssl.SSLError as error:
            raise _stop(
                "tls",
                f"The secure connection (TLS) to {shown_host} failed "
                f"({self.shown(error.reason or 'handshake')}). "
                "Check that the port serves HTTPS.",
            ) from None
        except TimeoutError:
            raise self.timed_out(shown_host) from None
        except http.client.RemoteDisconnected:
            raise _stop(
                "unreachable", f"{shown_host} closed the connection without answering."
            ) from None
        except (http.client.HTTPException, ValueError, UnicodeError):
            raise _stop(
                "not-registry",
                f"{shown_host} did not answer with valid HTTP; it is not a container registry.",
            ) from None
        except ConnectionRefusedError:
            raise _stop(
                "unreachable",
                f"Nothing accepted the connection to {shown_host} on port {port} (connection refused).",
            ) from None
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise _stop(
                "unreachable", f"Could not connect to {shown_host} on port {port} ({reason})."
            ) from None
        finally:
            if sock is not None:
                sock.release()

    def resolve(self, host: str, port: int, *, context: str = "") -> list[IPAddress]:
        """Resolve once, refuse the probe if any address is internal, remember the answer."""
        if host not in self.resolved:
            literal = _ip_or_none(host)
            ips = [literal] if literal is not None else self.lookup(host, port)
            for ip in ips:
                refusal = _refusal(ip, self.options.allowed_networks)
                if refusal:
                    where = f"{self.shown(host)} is"
                    if literal is None:
                        where = f"{self.shown(host)} resolves to {ip}, which is"
                    raise _stop(
                        "blocked",
                        f"{context}{where} {refusal} address, and the test does not connect to "
                        "internal addresses. An operator can allow this network with "
                        f"{ALLOWED_NETWORKS_SETTING}.",
                    )
            self.resolved[host] = ips
        return self.resolved[host]

    def lookup(self, host: str, port: int) -> list[IPAddress]:
        # getaddrinfo has no timeout of its own; a thread lets the deadline bound it.
        answer: dict[str, object] = {}

        def run() -> None:
            try:
                answer["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError) as error:
                answer["error"] = error

        thread = threading.Thread(target=run, name="registry-probe-dns", daemon=True)
        thread.start()
        thread.join(self.remaining(self.options.connect_timeout))
        if thread.is_alive():
            raise _stop("dns", f"The DNS lookup of {self.shown(host)} did not answer in time.")
        error = answer.get("error")
        if isinstance(error, socket.gaierror) and error.errno in _NOT_FOUND_ERRNOS:
            raise _stop(
                "dns", f"The host name {self.shown(host)} was not found in DNS. Check the address."
            )
        if error is not None:
            raise _stop("dns", f"The DNS lookup of {self.shown(host)} failed; try again later.")
        ips: list[IPAddress] = []
        for family, _, _, _, sockaddr in answer["infos"]:  # type: ignore[union-attr]
            if family in (socket.AF_INET, socket.AF_INET6):
                ip = ipaddress.ip_address(sockaddr[0])
                if ip not in ips:
                    ips.append(ip)
        if not ips:
            raise _stop("dns", f"The host name {self.shown(host)} has no IP address in DNS.")
        return ips

    def connect(self, addresses: list[IPAddress], port: int) -> socket.socket:
        """Connect to the checked addresses in order; never to anything resolved again."""
        last_error: OSError | None = None
        for ip in addresses:
            if ip.version == 4:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockaddr: tuple = (str(ip), port)
            else:
                sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                sockaddr = (str(ip), port, 0, 0)
            try:
                sock.settimeout(self.remaining(self.options.connect_timeout))
                sock.connect(sockaddr)
            except BaseException as error:
                sock.close()
                if not isinstance(error, OSError):
                    raise
                last_error = error
                continue
            return sock
        assert last_error is not None
        raise last_error

    def start_tls(self, raw: socket.socket, host: str) -> ssl.SSLSocket:
        try:
            tls = self.ssl_context().wrap_socket(
                raw, server_hostname=host, do_handshake_on_connect=False
            )
            tls.settimeout(self.remaining(self.options.connect_timeout))
            tls.do_handshake()
        except BaseException:
            raw.close()
            raise
        return tls

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = build_ssl_context(self.options)
        return self._ssl_context

    def remaining(self, limit: float) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.timed_out(self.display)
        return min(limit, left)

    def tls_failure(self, host: str, error: ssl.SSLCertVerificationError) -> _Stop:
        code = error.verify_code
        if code in _NAME_MISMATCH_CODES:
            message = f"The certificate of {host} is for another name (hostname mismatch)."
        elif code in _EXPIRED_CODES:
            message = f"The certificate of {host} has expired."
        elif code in _NOT_YET_VALID_CODES:
            message = f"The certificate of {host} is not valid yet; check the server's clock."
        elif code in _UNTRUSTED_CODES:
            message = (
                f"The certificate of {host} is not trusted (self-signed or issued by an unknown "
                "certificate authority). An operator can add that CA with REGISTRY_PROBE_CA_BUNDLE."
            )
        else:
            message = f"The certificate of {host} was refused ({self.shown(error.verify_message)})."
        return _stop("tls", message)

    def timed_out(self, host: str) -> _Stop:
        return _stop("timeout", f"{host} did not answer in time; the test gave up.")


def build_ssl_context(options: ProbeOptions) -> ssl.SSLContext:
    """System roots, plus the operator's bundle; verification is never turned off."""
    context = ssl.create_default_context()
    if options.ca_bundle:
        # create_default_context(cafile=...) would replace the system roots instead of adding.
        context.load_verify_locations(cafile=options.ca_bundle)
    return context


class _DeadlineSocket:
    """A socket whose every read and write gets at most what is left of the probe's deadline.

    Per-read timeouts alone let a server that drips one byte at a time hold the probe forever.
    """

    def __init__(self, sock: socket.socket, *, deadline: float, timeout: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._timeout = timeout

    def _arm(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("probe deadline passed")
        self._sock.settimeout(min(self._timeout, left))

    def sendall(self, data: bytes) -> None:
        self._arm()
        self._sock.sendall(data)

    def recv_into(self, buffer: memoryview, nbytes: int = 0) -> int:
        self._arm()
        return self._sock.recv_into(buffer, nbytes)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        return io.BufferedReader(socket.SocketIO(self, "rb"))  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:
        pass

    def close(self) -> None:
        # http.client closes its side as soon as it sees "Connection: close", while the
        # response body is still to be read; the probe closes the socket itself, in release().
        pass

    def release(self) -> None:
        self._sock.close()


# --- pure helpers ----------------------------------------------------------------------------


def _parse_address(address: str) -> _Target:
    key = (address or "").strip().lower()
    hostport, _, path = key.partition("/")
    if hostport.startswith("*") or "*" in hostport:
        raise _stop(
            "untestable",
            f"{address} is a wildcard address, and wildcard addresses cannot be tested. To "
            "test the credentials, add a registry with one concrete host name and test that.",
        )
    if hostport in _DOCKER_HUB_KEYS:
        return _Target(_DOCKER_HUB_API_HOST, None, path.strip("/"), "Docker Hub")
    host, port_text = hostport, ""
    if hostport.startswith("["):
        end = hostport.find("]")
        host, rest = hostport[1:end], hostport[end + 1 :]
        if end == -1 or (rest and not rest.startswith(":")):
            raise _invalid(address)
        port_text = rest[1:]
    elif hostport.count(":") == 1:
        host, port_text = hostport.split(":")
    port: int | None = None
    if port_text:
        if not re.fullmatch(r"[0-9]{1,5}", port_text) or not 1 <= int(port_text) <= 65535:
            raise _invalid(address)
        port = int(port_text)
    if _ip_or_none(host) is None and not _HOST_RE.match(host):
        raise _invalid(address)
    return _Target(host, port, path.strip("/"), hostport or address)


def _invalid(address: str) -> _Stop:
    return _stop("untestable", f"“{address}” is not a registry address that can be tested.")


def _ip_or_none(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme, parts.hostname or "", port or (443 if parts.scheme == "https" else 80)


def _refusal(ip: IPAddress, allowed: tuple[IPNetwork, ...]) -> str:
    """Name the class of an address the probe must not reach, like "a loopback" ("" if it may)."""
    embedded = _embedded_ipv4(ip)
    if any(ip in network or (embedded and embedded in network) for network in allowed):
        return ""
    if embedded is not None:
        inner = _refusal(embedded, allowed)
        return f"an IPv4-mapped {inner.split(' ', 1)[1]}" if inner else ""
    checks: list[tuple[Callable[[IPAddress], bool], str]] = [
        (lambda a: a.is_unspecified, "an unspecified"),
        (lambda a: a.is_loopback, "a loopback"),
        (lambda a: a.is_link_local, "a link-local"),
        (lambda a: a.is_multicast, "a multicast"),
        (lambda a: a in _SHARED_NETWORK, "a shared (carrier-grade NAT)"),
        (lambda a: a in _UNIQUE_LOCAL_NETWORK, "a unique-local"),
        (lambda a: a.is_reserved, "a reserved"),
        (lambda a: a.is_private, "a private"),
        (lambda a: not a.is_global, "a special-purpose"),
    ]
    for check, name in checks:
        if check(ip):
            return name
    return ""


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if ip.version != 6:
        return None
    assert isinstance(ip, ipaddress.IPv6Address)
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64_NETWORK:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


_CHALLENGE_SCHEME = re.compile(r"[\s,]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)")
_CHALLENGE_PARAM = re.compile(
    r"[\s,]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(\"(?:[^\"\\]|\\.)*\"|[^,\s]*)"
)


def _parse_challenges(values: Iterable[str]) -> list[tuple[str, dict[str, str]]]:
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


def _token_from(body: bytes) -> str | None:
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


def _is_html(response: _Response) -> bool:
    content_type = response.header("Content-Type").lower()
    return "html" in content_type or response.body.lstrip()[:15].lower().startswith(
        (b"<!doctype html", b"<html")
    )
