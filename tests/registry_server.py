"""The real registry the connection tests log in to, and its certificates.

Shared by the engine's tests (tests/test_probe.py) and the Settings page's (tests/test_probe_views.py,
tests/browser/): one CNCF distribution registry (Debian's docker-registry) with an htpasswd login
over TLS, on loopback, started once per session. Without docker-registry and htpasswd the tests
that need it skip, except on CI (CI=true), where they fail.
"""

from __future__ import annotations

import datetime
import json
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from .environment import missing_on_this_machine

USERNAME = "user"
PASSWORD = "correct-horse-battery-42"


# --- certificates ----------------------------------------------------------------------------


@dataclass
class Pki:
    directory: Path
    ca_pem: Path
    ca_cert: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey

    def issue(
        self, name: str, *dns: str, days: int = 7, expired: bool = False
    ) -> tuple[Path, Path]:
        """Write a server certificate for the DNS names, signed by the test CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        start, end = (now - datetime.timedelta(days=30), now - datetime.timedelta(days=1))
        if not expired:
            start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0])]))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(self.ca_key, hashes.SHA256())
        )
        cert_path, key_path = self.directory / f"{name}.crt", self.directory / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_private_pem(key))
        return cert_path, key_path


def _private_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Probe Test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    ca_pem = directory / "ca.pem"
    ca_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Pki(directory, ca_pem, cert, key)


@pytest.fixture(scope="session")
def server_cert(pki: Pki) -> tuple[Path, Path]:
    # No IP address in the SAN: reaching it as 127.0.0.1 is "a certificate for another name".
    return pki.issue("localhost", "localhost", "registry.test")


@pytest.fixture(scope="session")
def server_tls(server_cert: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*server_cert)
    return context


# --- the real registry -------------------------------------------------------------------------


def require_programs(*programs: str) -> dict[str, str]:
    found = {program: shutil.which(program) for program in programs}
    missing = [program for program, path in found.items() if path is None]
    if missing:
        message = (
            f"{', '.join(missing)} not installed (apt-get install docker-registry "
            "apache2-utils); the real-registry tests need them"
        )
        missing_on_this_machine(message)
    return {program: path for program, path in found.items() if path}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_registry(directory: Path, auth: dict[str, dict[str, str]], cert: tuple[Path, Path]):
    binary = require_programs("docker-registry")["docker-registry"]
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(directory / "data")}},
        "http": {
            "addr": f"127.0.0.1:{port}",
            "secret": uuid.uuid4().hex,
            "tls": {"certificate": str(cert[0]), "key": str(cert[1])},
        },
        "auth": auth,
    }
    # JSON is YAML, and keeps this file free of a YAML dependency.
    config_path = directory / "config.yml"
    config_path.write_text(json.dumps(config))
    log = (directory / "registry.log").open("wb")
    process = subprocess.Popen(
        [binary, "serve", str(config_path)], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited: {(directory / 'registry.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    pytest.fail("docker-registry did not start listening within 10 seconds")


def stop_registry(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def htpasswd_registry(
    tmp_path_factory: pytest.TempPathFactory, server_cert: tuple[Path, Path]
) -> Iterator[int]:
    """The distribution registry with an htpasswd (Basic) login; yields its port."""
    htpasswd = require_programs("docker-registry", "htpasswd")["htpasswd"]
    directory = tmp_path_factory.mktemp("htpasswd-registry")
    entry = subprocess.run(
        [htpasswd, "-Bbn", USERNAME, PASSWORD], check=True, capture_output=True
    ).stdout
    (directory / "htpasswd").write_bytes(entry)
    auth = {"htpasswd": {"realm": "probe-test", "path": str(directory / "htpasswd")}}
    process, port = start_registry(directory, auth, server_cert)
    yield port
    stop_registry(process)


@pytest.fixture
def local_registry(settings, pki: Pki, htpasswd_registry: int) -> str:
    """The real registry's address, allowed with the settings an operator would use for an
    on-premises registry: its loopback network and the test CA."""
    settings.REGISTRY_PROBE_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    settings.REGISTRY_PROBE_CA_BUNDLE = str(pki.ca_pem)
    settings.REGISTRY_PROBE_TIMEOUT = 3
    return f"localhost:{htpasswd_registry}"
