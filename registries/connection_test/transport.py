"""HTTP for a connection test, to checked addresses only, within one deadline.

- the host is resolved once per test, and every resolved address must pass the address policy;
  the connection then goes to exactly that checked address while TLS (SNI, certificate name)
  and the Host header use the name, so a second DNS answer can never swap in another address;
- redirects are user-controlled URLs too: each hop goes through the same checks, HTTPS never
  downgrades to plain HTTP, and credentials never leave their origin;
- TLS is always verified (system roots plus an optional operator CA bundle);
- every read is bounded in time and size, and the whole test by one deadline.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from .address_policy import ALLOWED_NETWORKS_SETTING, IPAddress, ip_or_none, refusal
from .options import ProbeOptions
from .report import Redactor, Stop, stop

_MAX_REDIRECTS = 3
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_USER_AGENT = "orgsettings-registry-probe/1"
_NOT_FOUND_ERRNOS = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)})

# OpenSSL verify codes, to tell users which certificate problem they have.
_UNTRUSTED_CODES = frozenset({2, 18, 19, 20, 21, 27})
_EXPIRED_CODES = frozenset({10})
_NOT_YET_VALID_CODES = frozenset({9})
_NAME_MISMATCH_CODES = frozenset({62, 64})


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name, "") or ""

    @property
    def is_html(self) -> bool:
        content_type = self.header("Content-Type").lower()
        return "html" in content_type or self.body.lstrip()[:15].lower().startswith(
            (b"<!doctype html", b"<html")
        )


def not_a_registry(display: str, response: Response) -> Stop:
    what = "a web page" if response.is_html else f"HTTP {response.status}"
    return stop(
        "not-registry",
        f"{display} answered with {what}, not the container registry API (/v2/). "
        "Check the address.",
    )


@dataclass
class Transport:
    """The connections of one test: `deadline` (time.monotonic) bounds them all."""

    options: ProbeOptions
    redactor: Redactor
    deadline: float
    # Resolved and checked once per host for the whole test: redirects back to a host reuse it.
    resolved: dict[str, list[IPAddress]] = field(default_factory=dict)
    _ssl_context: ssl.SSLContext | None = None

    def get(
        self, url: str, *, headers: dict[str, str], allow_http: bool = False, context: str = ""
    ) -> Response:
        """GET with redirects; each hop is checked, and credentials never leave their origin.

        `context` starts a "blocked" message, to say how the test came to that address.
        """
        allow_http = allow_http or url.startswith("http://")
        first_origin = origin(url)
        for _ in range(_MAX_REDIRECTS + 1):
            response = self.fetch_once(url, headers=headers, context=context)
            location = response.header("Location")
            if response.status not in _REDIRECT_STATUSES or not location:
                return response
            next_url = urljoin(url, location)
            scheme = urlsplit(next_url).scheme
            if scheme not in ("http", "https"):
                raise not_a_registry(self.redactor.display, response)
            if scheme == "http" and (url.startswith("https://") or not allow_http):
                raise stop(
                    "insecure-http",
                    f"{self.redactor.display} redirected the test from HTTPS to plain HTTP, which it "
                    "never follows.",
                )
            if origin(next_url) != first_origin:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = next_url
            context = f"{self.redactor.display} redirected the test to {self.redactor.shown(urlsplit(url).hostname)}: "
        raise stop(
            "not-registry",
            f"{self.redactor.display} redirected the test too many times. Check the address.",
        )

    def fetch_once(self, url: str, *, headers: dict[str, str], context: str) -> Response:
        parts = urlsplit(url)
        host = parts.hostname or ""
        shown_host = self.redactor.shown(host)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise stop(
                "not-registry", f"{self.redactor.display} led the test to an invalid address."
            ) from None
        addresses = self.resolve(host, port, context=context)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sock: DeadlineSocket | None = None
        try:
            raw = self.connect(addresses, port)
            if parts.scheme == "https":
                raw = self.start_tls(raw, host)
            sock = DeadlineSocket(raw, deadline=self.deadline, timeout=self.options.read_timeout)
            # The connection object is given the name (for the Host header) and a socket that is
            # already connected to the checked address, so http.client never resolves anything.
            connection = http.client.HTTPConnection(host, port)
            connection.sock = sock  # type: ignore[assignment]
            default_port = 443 if parts.scheme == "https" else 80
            host_header = url_host(host) + ("" if port == default_port else f":{port}")
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
                raise stop(
                    "not-registry",
                    f"{shown_host} sent a larger answer than a registry login needs; the test stopped "
                    "reading it.",
                )
            return Response(response.status, response.headers, body)
        except Stop:
            raise
        except ssl.SSLCertVerificationError as error:
            raise self.tls_failure(shown_host, error) from None
        except ssl.SSLError as error:
            raise stop(
                "tls",
                f"The secure connection (TLS) to {shown_host} failed "
                f"({self.redactor.shown(error.reason or 'handshake')}). "
                "Check that the port serves HTTPS.",
            ) from None
        except TimeoutError:
            raise self.timed_out(shown_host) from None
        except http.client.RemoteDisconnected:
            raise stop(
                "unreachable", f"{shown_host} closed the connection without answering."
            ) from None
        except (http.client.HTTPException, ValueError, UnicodeError):
            raise stop(
                "not-registry",
                f"{shown_host} did not answer with valid HTTP; it is not a container registry.",
            ) from None
        except ConnectionRefusedError:
            raise stop(
                "unreachable",
                f"Nothing accepted the connection to {shown_host} on port {port} (connection refused).",
            ) from None
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise stop(
                "unreachable", f"Could not connect to {shown_host} on port {port} ({reason})."
            ) from None
        finally:
            if sock is not None:
                sock.release()

    def resolve(self, host: str, port: int, *, context: str = "") -> list[IPAddress]:
        """Resolve once, refuse the test if any address is internal, remember the answer."""
        if host not in self.resolved:
            literal = ip_or_none(host)
            ips = [literal] if literal is not None else self.lookup(host, port)
            for ip in ips:
                reason = refusal(ip, self.options.allowed_networks)
                if reason:
                    where = f"{self.redactor.shown(host)} is"
                    if literal is None:
                        where = f"{self.redactor.shown(host)} resolves to {ip}, which is"
                    raise stop(
                        "blocked",
                        f"{context}{where} {reason} address, and the test does not connect to "
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
            raise stop(
                "dns", f"The DNS lookup of {self.redactor.shown(host)} did not answer in time."
            )
        error = answer.get("error")
        if isinstance(error, socket.gaierror) and error.errno in _NOT_FOUND_ERRNOS:
            raise stop(
                "dns",
                f"The host name {self.redactor.shown(host)} was not found in DNS. Check the address.",
            )
        if error is not None:
            raise stop(
                "dns", f"The DNS lookup of {self.redactor.shown(host)} failed; try again later."
            )
        ips: list[IPAddress] = []
        for family, _, _, _, sockaddr in answer["infos"]:  # type: ignore[union-attr]
            if family in (socket.AF_INET, socket.AF_INET6):
                ip = ipaddress.ip_address(sockaddr[0])
                if ip not in ips:
                    ips.append(ip)
        if not ips:
            raise stop(
                "dns", f"The host name {self.redactor.shown(host)} has no IP address in DNS."
            )
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
            raise self.timed_out(self.redactor.display)
        return min(limit, left)

    def tls_failure(self, host: str, error: ssl.SSLCertVerificationError) -> Stop:
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
            message = f"The certificate of {host} was refused ({self.redactor.shown(error.verify_message)})."
        return stop("tls", message)

    def timed_out(self, host: str) -> Stop:
        return stop("timeout", f"{host} did not answer in time; the test gave up.")


def build_ssl_context(options: ProbeOptions) -> ssl.SSLContext:
    """System roots, plus the operator's bundle; verification is never turned off."""
    context = ssl.create_default_context()
    if options.ca_bundle:
        # create_default_context(cafile=...) would replace the system roots instead of adding.
        context.load_verify_locations(cafile=options.ca_bundle)
    return context


class DeadlineSocket:
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


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme, parts.hostname or "", port or (443 if parts.scheme == "https" else 80)
