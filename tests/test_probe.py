"""The registry connection test, against a real CNCF distribution registry and small servers.

Everything listens on loopback. Tests about other addresses never reach the network: a guard
used by every test here refuses every connection that is not to loopback, and records what the
probe tried. The certificates, the htpasswd registry and the guard live in tests/registry_server.py.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from registries.connection_test import (
    OUTCOMES,
    ProbeOptions,
    ProbeResult,
    build_ssl_context,
    parse_networks,
    probe_registry,
)

from .registry_server import PASSWORD, USERNAME, Pki, free_port, start_registry, stop_registry

pytestmark = pytest.mark.usefixtures("connections")

SERVICE = "probe-test-registry"
ISSUER = "probe-test-issuer"
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
FAST = {"connect_timeout": 1.0, "read_timeout": 1.0, "total_timeout": 3.0}
REGISTRY_HEADERS = {"Docker-Distribution-API-Version": "registry/2.0"}


# --- small servers -----------------------------------------------------------------------------


@dataclass
class Seen:
    """One request a test server received."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    sni: str | None


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class StubServer:
    port: int
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that gave up (the timeout tests) are expected


class _Server6(_Server):
    address_family = socket.AF_INET6


def start_server(
    respond: Callable[[Seen, BaseHTTPRequestHandler], Reply | None],
    cert: tuple[Path, Path] | None,
    host: str = "127.0.0.1",
) -> tuple[_Server, StubServer]:
    """Serve on 127.0.0.1; `respond` returns the reply, or None when it wrote one itself."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            seen = Seen(
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                sni=getattr(self.connection, "sni", None),
            )
            info.seen.append(seen)
            reply = respond(seen, self)
            if reply is None:
                return
            status, headers, body = reply
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = (_Server6 if ":" in host else _Server)((host, 0), Handler)
    if cert is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*cert)

        def remember_sni(sock: ssl.SSLSocket, name: str | None, _: ssl.SSLContext) -> None:
            sock.sni = name  # type: ignore[attr-defined]

        context.sni_callback = remember_sni  # type: ignore[assignment]
        server.socket = context.wrap_socket(server.socket, server_side=True)
    info = StubServer(server.server_address[1])
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, info


@pytest.fixture
def serve(server_cert: tuple[Path, Path]) -> Iterator[Callable[..., StubServer]]:
    """Start a small HTTPS (or plain HTTP) server whose answers the test decides."""
    servers: list[_Server] = []

    def start(
        respond: Callable[[Seen, BaseHTTPRequestHandler], Reply | None],
        *,
        tls: bool = True,
        cert: tuple[Path, Path] | None = None,
        host: str = "127.0.0.1",
    ) -> StubServer:
        server, info = start_server(respond, (cert or server_cert) if tls else None, host)
        servers.append(server)
        return info

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def answer(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Callable:
    return lambda seen, handler: (status, headers or {}, body)


def basic_registry(username: str = USERNAME, password: str = PASSWORD) -> Callable:
    """A stand-in registry with a Basic login, for the plain HTTP and redirect cases."""
    expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    def respond(seen: Seen, handler: BaseHTTPRequestHandler) -> Reply:
        if seen.headers.get("authorization") == expected:
            return 200, REGISTRY_HEADERS, b"{}"
        return 401, {**REGISTRY_HEADERS, "WWW-Authenticate": 'Basic realm="test"'}, b""

    return respond


# --- the real registry: token login -----------------------------------------------------------


# --- the token service and the registry that trusts it ----------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def libtrust_key_id(public_key: rsa.RSAPublicKey) -> str:
    """The "kid" the distribution registry matches against its rootcertbundle's keys."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


@dataclass
class TokenService:
    server: StubServer
    realm: str
    signing_key: rsa.RSAPrivateKey
    signing_cert_pem: Path

    def issue(self, subject: str, key: rsa.RSAPrivateKey | None = None) -> str:
        key = key or self.signing_key
        header = {"typ": "JWT", "alg": "RS256", "kid": libtrust_key_id(key.public_key())}
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now - 10,
            "jti": uuid.uuid4().hex,
            "access": [],
        }
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"


@pytest.fixture(scope="session")
def token_service(tmp_path_factory: pytest.TempPathFactory, server_cert: tuple[Path, Path]):
    """A token service like Docker Hub's: Basic credentials in, a signed JWT out.

    User "forger" gets a token signed by a key the registry does not trust.
    """
    directory = tmp_path_factory.mktemp("token-service")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .sign(key, hashes.SHA256())
    )
    cert_pem = directory / "token-signing.crt"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    untrusted_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    passwords = {USERNAME: PASSWORD, "forger": PASSWORD}

    def respond(seen: Seen, handler: BaseHTTPRequestHandler) -> Reply:
        given = seen.headers.get("authorization", "")
        for user, password in passwords.items():
            if given == "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode():
                token = service.issue(user, None if user == USERNAME else untrusted_key)
                body = json.dumps({"token": token, "expires_in": 300}).encode()
                return 200, {"Content-Type": "application/json"}, body
        return 401, {"Content-Type": "application/json"}, b'{"details":"bad credentials"}'

    server, info = start_server(respond, server_cert)
    service = TokenService(info, f"https://localhost:{info.port}/token", key, cert_pem)
    yield service
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory,
    server_cert: tuple[Path, Path],
    token_service: TokenService,
) -> Iterator[int]:
    """The distribution registry with token auth trusting the token service; yields its port."""
    directory = tmp_path_factory.mktemp("token-registry")
    auth = {
        "token": {
            "realm": token_service.realm,
            "service": SERVICE,
            "issuer": ISSUER,
            "rootcertbundle": str(token_service.signing_cert_pem),
        }
    }
    process, port = start_registry(directory, auth, server_cert)
    yield port
    stop_registry(process)


# --- the probe -----------------------------------------------------------------------------------


@pytest.fixture
def options(pki: Pki) -> ProbeOptions:
    return ProbeOptions(allowed_networks=LOOPBACK, ca_bundle=str(pki.ca_pem), **FAST)


def probe(
    address: str,
    options: ProbeOptions,
    *,
    username: str = USERNAME,
    secret: str = PASSWORD,
    plain_http: bool = False,
) -> ProbeResult:
    result = probe_registry(
        address=address,
        plain_http=plain_http,
        username=username,
        secret=secret,
        options=options,
    )
    assert result.outcome in OUTCOMES
    assert not secret or secret not in result.message
    return result


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Answer getaddrinfo from `answers`, once per name; returns the names looked up."""
    asked: list[str] = []

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list:
        assert host not in asked, f"{host} was resolved twice"
        asked.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (ip, port, 0, 0) if ":" in ip else (ip, port),
            )
            for ip in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


# --- the real registry: Basic login ------------------------------------------------------------


def test_good_credentials_log_in_with_basic_auth(htpasswd_registry, options):
    result = probe(f"localhost:{htpasswd_registry}", options)

    assert (result.outcome, result.auth_scheme) == ("ok", "basic"), result.message


def test_wrong_password_is_unauthorized(htpasswd_registry, options):
    result = probe(f"localhost:{htpasswd_registry}", options, secret="not-the-password")

    assert result.outcome == "unauthorized"
    assert "rejected these credentials" in result.message


def test_wrong_username_is_unauthorized(htpasswd_registry, options):
    result = probe(f"localhost:{htpasswd_registry}", options, username="someone-else")

    assert result.outcome == "unauthorized"


def test_missing_credentials_are_unauthorized_and_say_so(htpasswd_registry, options):
    result = probe(f"localhost:{htpasswd_registry}", options, username="", secret="")

    assert result.outcome == "unauthorized"
    assert "no credentials were given" in result.message


def test_address_path_is_accepted_by_a_basic_registry(htpasswd_registry, options):
    result = probe(f"localhost:{htpasswd_registry}/team/app", options)

    assert result.outcome == "ok", result.message


def test_certificate_from_an_unknown_ca_is_not_trusted(htpasswd_registry):
    result = probe(
        f"localhost:{htpasswd_registry}", ProbeOptions(allowed_networks=LOOPBACK, **FAST)
    )

    assert result.outcome == "tls"
    assert "not trusted" in result.message
    assert "REGISTRY_PROBE_CA_BUNDLE" in result.message


def test_certificate_for_another_name_is_a_hostname_mismatch(htpasswd_registry, options):
    # The certificate names localhost and registry.test, not the IP address.
    result = probe(f"127.0.0.1:{htpasswd_registry}", options)

    assert result.outcome == "tls"
    assert "for another name" in result.message


def test_certificate_for_another_host_name_is_a_hostname_mismatch(
    htpasswd_registry, options, monkeypatch
):
    fake_dns(monkeypatch, {"other.test": ["127.0.0.1"]})

    result = probe(f"other.test:{htpasswd_registry}", options)

    assert result.outcome == "tls"
    assert "for another name" in result.message


def test_expired_certificate_says_it_expired(serve, pki, options):
    server = serve(answer(200, REGISTRY_HEADERS), cert=pki.issue("old", "localhost", expired=True))

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "tls"
    assert "expired" in result.message


def test_operator_ca_bundle_is_added_to_the_system_roots(pki):
    system = build_ssl_context(ProbeOptions()).cert_store_stats()["x509_ca"]
    with_bundle = build_ssl_context(ProbeOptions(ca_bundle=str(pki.ca_pem)))

    assert with_bundle.cert_store_stats()["x509_ca"] == system + 1
    assert with_bundle.verify_mode == ssl.CERT_REQUIRED
    assert with_bundle.check_hostname


def test_connects_to_the_checked_address_and_verifies_the_name(
    htpasswd_registry, options, monkeypatch, connections
):
    # A second lookup would fail the test (fake_dns answers each name once), so the
    # connection can only have gone to the address that was checked.
    asked = fake_dns(monkeypatch, {"registry.test": ["127.0.0.1"]})

    result = probe(f"registry.test:{htpasswd_registry}", options)

    assert result.outcome == "ok", result.message
    assert asked == ["registry.test"]
    assert set(connections) == {("127.0.0.1", htpasswd_registry)}


def test_sends_the_host_name_in_sni_and_host_header(serve, options, monkeypatch):
    server = serve(answer(200, REGISTRY_HEADERS))
    fake_dns(monkeypatch, {"registry.test": ["127.0.0.1"]})

    probe(f"registry.test:{server.port}", options)

    assert server.seen[0].sni == "registry.test"
    assert server.seen[0].headers["host"] == f"registry.test:{server.port}"


def test_port_with_nothing_listening_is_unreachable(options):
    result = probe(f"localhost:{free_port()}", options)

    assert result.outcome == "unreachable"
    assert "connection refused" in result.message


def test_unknown_host_name_is_a_dns_failure(options, monkeypatch, connections):
    fake_dns(monkeypatch, {})

    result = probe("registry.invalid", options)

    assert result.outcome == "dns"
    assert "not found" in result.message
    assert connections == []


# --- the real registry: token (Bearer) login ---------------------------------------------------


def test_bearer_login_with_good_credentials_uses_the_token_service(token_registry, options):
    result = probe(f"localhost:{token_registry}", options)

    assert (result.outcome, result.auth_scheme) == ("ok", "bearer"), result.message


def test_bearer_login_with_wrong_credentials_is_unauthorized(token_registry, options):
    result = probe(f"localhost:{token_registry}", options, secret="wrong")

    assert result.outcome == "unauthorized"


def test_token_the_registry_does_not_trust_is_unauthorized(token_registry, options):
    result = probe(f"localhost:{token_registry}", options, username="forger")

    assert result.outcome == "unauthorized"


def test_token_request_names_the_service_and_the_address_path_scope(
    token_registry, token_service, options
):
    before = len(token_service.server.seen)

    probe(f"localhost:{token_registry}/team/app", options)

    request = token_service.server.seen[before]
    assert request.query["service"] == [SERVICE]
    assert request.query["scope"] == ["repository:team/app:pull"]
    assert request.query["account"] == [USERNAME]


# --- answers that are not a working registry ---------------------------------------------------


def test_html_page_is_not_a_registry(serve, options):
    server = serve(answer(200, {"Content-Type": "text/html"}, b"<!doctype html><p>Welcome"))

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "not-registry"
    assert "web page" in result.message


def test_not_found_on_v2_is_not_a_registry(serve, options):
    server = serve(answer(404, {"Content-Type": "text/plain"}, b"not found"))

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "not-registry"


def test_unauthorized_without_a_challenge_is_not_a_registry(serve, options):
    server = serve(answer(401))

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "not-registry"


def test_registry_without_a_login_is_ok_but_says_anonymous(serve, options):
    server = serve(answer(200, REGISTRY_HEADERS, b"{}"))

    result = probe(f"localhost:{server.port}", options)

    assert (result.outcome, result.auth_scheme) == ("ok", "none")
    assert "anonymous" in result.message


def test_too_many_requests_is_rate_limited(serve, options):
    server = serve(answer(429, {"Retry-After": "60"}))

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "rate-limited"


def test_slow_server_times_out(serve, pki):
    def slow(seen: Seen, handler: BaseHTTPRequestHandler) -> Reply:
        time.sleep(1.5)
        return 200, REGISTRY_HEADERS, b""

    server = serve(slow)
    options = ProbeOptions(allowed_networks=LOOPBACK, ca_bundle=str(pki.ca_pem), read_timeout=0.3)

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "timeout"


def test_server_dripping_its_answer_is_stopped_at_the_total_deadline(serve, pki):
    def drip(seen: Seen, handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(40):
            handler.wfile.write(b"X-Slow: 1\r\n")
            handler.wfile.flush()
            time.sleep(0.05)

    server = serve(drip)
    options = ProbeOptions(
        allowed_networks=LOOPBACK, ca_bundle=str(pki.ca_pem), read_timeout=1, total_timeout=0.5
    )
    started = time.monotonic()

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "timeout"
    assert time.monotonic() - started < 1.5


def test_oversized_answer_is_not_read_past_the_limit(serve, pki):
    server = serve(answer(200, REGISTRY_HEADERS, b"x" * 5000))
    options = ProbeOptions(
        allowed_networks=LOOPBACK, ca_bundle=str(pki.ca_pem), max_response_bytes=1024
    )

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "not-registry"
    assert "larger answer" in result.message


def test_https_port_serving_plain_http_is_a_tls_failure(serve, options):
    server = serve(answer(200, REGISTRY_HEADERS), tls=False)

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "tls"


# --- plain HTTP ---------------------------------------------------------------------------------


def test_plain_http_is_refused_unless_the_operator_allows_it(serve, options, connections):
    server = serve(basic_registry(), tls=False)

    result = probe(f"localhost:{server.port}", options, plain_http=True)

    assert result.outcome == "insecure-http"
    assert "operator" in result.message
    assert "kubelet" in result.message
    assert connections == []


def test_plain_http_works_when_the_operator_allows_it(serve, options):
    server = serve(basic_registry(), tls=False)
    allowing = ProbeOptions(allow_http=True, allowed_networks=LOOPBACK, **FAST)

    result = probe(f"localhost:{server.port}", allowing, plain_http=True)

    assert (result.outcome, result.auth_scheme) == ("ok", "basic"), result.message


def test_redirect_from_https_to_plain_http_is_not_followed(serve, options):
    plain = serve(basic_registry(), tls=False)
    server = serve(answer(302, {"Location": f"http://localhost:{plain.port}/v2/"}))

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "insecure-http"
    assert plain.seen == []


def test_token_realm_over_plain_http_is_refused_for_an_https_registry(serve, options):
    challenge = 'Bearer realm="http://localhost:1/token",service="x"'
    server = serve(answer(401, {**REGISTRY_HEADERS, "WWW-Authenticate": challenge}))

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "insecure-http"


# --- addresses the probe must not reach --------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "shared"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("[::1]", "loopback"),
        ("[fe80::1]", "link-local"),
        ("[fc00::1]", "unique-local"),
        ("[::ffff:127.0.0.1]", "IPv4-mapped loopback"),
    ],
)
def test_internal_address_is_blocked_without_connecting(host, kind, connections):
    result = probe(f"{host}:5000", ProbeOptions(**FAST))

    assert result.outcome == "blocked"
    assert kind in result.message
    assert "REGISTRY_PROBE_ALLOWED_NETWORKS" in result.message
    assert connections == []


def test_host_name_with_any_internal_address_is_blocked(monkeypatch, connections):
    fake_dns(monkeypatch, {"mixed.example.com": ["93.184.216.34", "10.0.0.5"]})

    result = probe("mixed.example.com", ProbeOptions(**FAST))

    assert result.outcome == "blocked"
    assert "10.0.0.5" in result.message
    assert connections == []


@pytest.mark.expects_refused_connections
def test_allowed_network_lets_a_private_address_through(connections):
    # The guard refuses the connection before it leaves this machine; what matters is that the
    # probe tried the allowed private address instead of blocking it.
    options = ProbeOptions(allowed_networks=(ipaddress.ip_network("10.0.0.0/8"),), **FAST)

    result = probe("10.1.2.3:5000", options)

    assert result.outcome == "unreachable"
    assert connections == [("10.1.2.3", 5000)]


def test_ipv6_literal_address_connects_to_that_address(serve, options, connections):
    server = serve(answer(200, REGISTRY_HEADERS), host="::1")

    result = probe(f"[::1]:{server.port}", options)

    # The certificate names no IP address: reaching TLS is what shows the connection worked.
    assert result.outcome == "tls"
    assert "another name" in result.message
    assert connections == [("::1", server.port)]


def test_allowed_loopback_network_lets_a_local_registry_through(serve, options):
    server = serve(answer(200, REGISTRY_HEADERS))

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "ok"


def test_redirect_to_an_internal_address_is_blocked(serve, options, connections):
    server = serve(answer(307, {"Location": "https://169.254.169.254/latest/meta-data/"}))

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "blocked"
    assert "redirected the test to 169.254.169.254" in result.message
    assert all(address == "127.0.0.1" for address, _ in connections)


def test_redirect_to_another_host_drops_the_credentials(serve, options, monkeypatch):
    other = serve(basic_registry())
    location = {"Location": f"https://registry.test:{other.port}/v2/"}

    def respond(seen: Seen, handler: BaseHTTPRequestHandler) -> Reply:
        if "authorization" in seen.headers:
            return 307, location, b""
        return 401, {**REGISTRY_HEADERS, "WWW-Authenticate": 'Basic realm="x"'}, b""

    server = serve(respond)
    fake_dns(monkeypatch, {"localhost": ["127.0.0.1"], "registry.test": ["127.0.0.1"]})

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "unauthorized"
    assert "authorization" not in other.seen[0].headers


def test_token_realm_at_an_internal_address_is_blocked(serve, options, connections):
    challenge = 'Bearer realm="https://10.0.0.1/token",service="registry"'
    server = serve(answer(401, {**REGISTRY_HEADERS, "WWW-Authenticate": challenge}))

    result = probe(f"localhost:{server.port}", options)

    assert result.outcome == "blocked"
    assert "token service" in result.message
    assert "10.0.0.1 is a private address" in result.message
    assert all(address == "127.0.0.1" for address, _ in connections)


# --- addresses that are not tested as typed ----------------------------------------------------


def test_wildcard_address_is_untestable(connections):
    result = probe("*.azurecr.io", ProbeOptions(**FAST))

    assert result.outcome == "untestable"
    assert "wildcard" in result.message
    assert connections == []


@pytest.mark.parametrize("key", ["docker.io", "index.docker.io", "registry-1.docker.io"])
def test_docker_hub_is_tested_at_its_registry_endpoint(key, monkeypatch, connections):
    asked = fake_dns(monkeypatch, {})

    probe(f"{key}/library", ProbeOptions(**FAST))

    assert asked == ["registry-1.docker.io"]


# --- the secret stays secret -----------------------------------------------------------------


def test_secret_never_appears_in_any_message_or_log(
    htpasswd_registry, token_registry, serve, options, caplog
):
    secret = "s3cr3t-ZZ-value-that-must-not-leak"
    # Servers that echo what they were sent, to tempt the probe into repeating it.
    echo = serve(lambda seen, handler: (200, {"Content-Type": "text/html"}, repr(seen).encode()))
    challenge = {**REGISTRY_HEADERS, "WWW-Authenticate": f'Basic realm="{secret}"'}
    realm_echo = serve(answer(401, challenge))
    cases = [
        (f"localhost:{htpasswd_registry}", options, False),
        (f"localhost:{token_registry}", options, False),
        (f"127.0.0.1:{htpasswd_registry}", options, False),
        (f"localhost:{echo.port}", options, False),
        (f"localhost:{realm_echo.port}", options, False),
        (f"localhost:{free_port()}", options, False),
        ("10.0.0.1", ProbeOptions(**FAST), False),
        ("*.example.com", options, False),
        (f"localhost:{echo.port}", options, True),
    ]
    outcomes = set()
    with caplog.at_level(logging.DEBUG):
        for address, probe_options, plain_http in cases:
            result = probe_registry(
                address=address,
                plain_http=plain_http,
                username=USERNAME,
                secret=secret,
                options=probe_options,
            )
            outcomes.add(result.outcome)
            assert secret not in result.message
            assert secret not in repr(result)
    assert secret not in caplog.text
    assert len(outcomes) >= 7


def test_secret_echoed_into_what_the_registry_chose_is_hidden(serve, options):
    secret = "s3cr3t-echoed-back"
    realm = {**REGISTRY_HEADERS, "WWW-Authenticate": f'Bearer realm="http://{secret}.example/t"'}
    scheme = {**REGISTRY_HEADERS, "WWW-Authenticate": f'{secret} realm="x"'}
    messages = [
        probe_registry(
            address=f"localhost:{serve(answer(401, headers)).port}",
            plain_http=False,
            username=USERNAME,
            secret=secret,
            options=options,
        ).message
        for headers in (realm, scheme)
    ]

    assert "over plain HTTP ([hidden].example)" in messages[0]
    assert "does not support ([hidden])" in messages[1]


@pytest.mark.parametrize("secret", ["connection", "localhost", "o"])
def test_short_secret_leaves_the_message_and_the_address_readable(secret, options):
    port = free_port()

    result = probe_registry(
        address=f"localhost:{port}",
        plain_http=False,
        username=USERNAME,
        secret=secret,
        options=options,
    )

    # Hiding a secret inside our own words or the user's address would show what it is.
    assert result.message == (
        f"Nothing accepted the connection to localhost on port {port} (connection refused)."
    )


def test_allowed_networks_setting_parses_a_comma_separated_list():
    assert parse_networks("10.0.0.0/8, fd00::/8 192.168.1.7") == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("fd00::/8"),
        ipaddress.ip_network("192.168.1.7/32"),
    )


def test_secret_echoed_in_another_case_is_hidden_too(serve, options):
    # Host names and challenge schemes come back lower-cased: a mixed-case password must not.
    secret = "S3cr3t-Echoed-Back"
    realm = {**REGISTRY_HEADERS, "WWW-Authenticate": f'Bearer realm="http://{secret}.example/t"'}
    scheme = {**REGISTRY_HEADERS, "WWW-Authenticate": f'{secret} realm="x"'}
    messages = [
        probe_registry(
            address=f"localhost:{serve(answer(401, headers)).port}",
            plain_http=False,
            username=USERNAME,
            secret=secret,
            options=options,
        ).message
        for headers in (realm, scheme)
    ]

    assert "over plain HTTP ([hidden].example)" in messages[0]
    assert "does not support ([hidden])" in messages[1]
    assert not any(secret.lower() in message.lower() for message in messages)
