"""The guard that keeps every test on this machine: no test reaches a non-loopback address.

Installed for every test (autouse). It sits under everything that opens a connection from
Python: `socket.socket.connect`/`connect_ex` (and so `socket.create_connection`, urllib3,
http.client, the Redis and Kubernetes clients, the connection test's own sockets), and
`socket.getaddrinfo`, since looking up a name can itself leave the machine.

- A connection to anything but loopback (or a Unix socket) is refused before it leaves, with
  ConnectionRefusedError, so the code under test sees what it would see from a closed port.
- A lookup of a name other than localhost fails as an unknown name (EAI_NONAME).
- Either fails the test at teardown, even when the code under test caught the refusal, unless
  the test is marked `expects_refused_connections`: it makes the product try such an address on
  purpose and asserts on `connections` that exactly that was refused.

`connections` is every address a socket tried to connect to during the test, loopback included.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

_LOCAL_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})


@dataclass
class NetworkLog:
    attempts: list[tuple[str, int]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _host_allowed(host) -> bool:
    """For getaddrinfo: names that never leave the machine, and numeric addresses (which need
    no lookup; connecting to them is checked on connect)."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True)
def network_guard(request: pytest.FixtureRequest) -> Iterator[NetworkLog]:
    log = NetworkLog()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return  # Unix sockets and the like never leave the machine
        host, port = str(address[0]), int(address[1])
        with log.lock:
            log.attempts.append((host, port))
        if not _is_loopback(host):
            with log.lock:
                log.refused.append(f"a connection to {host} port {port}")
            raise ConnectionRefusedError(111, "refused by the test network guard")

    def guarded_connect(sock: socket.socket, address) -> None:
        check(sock, address)
        real_connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not _host_allowed(host):
            with log.lock:
                log.refused.append(f"a DNS lookup of {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, "refused by the test network guard")
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", guarded_connect)
        patch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
        patch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
        yield log
    if log.refused and not request.node.get_closest_marker("expects_refused_connections"):
        pytest.fail(
            "The test tried to leave this machine: "
            + "; ".join(dict.fromkeys(log.refused))
            + ". Tests stay on loopback (mark it expects_refused_connections if trying is the point).",
            pytrace=False,
        )


@pytest.fixture
def connections(network_guard: NetworkLog) -> list[tuple[str, int]]:
    """Every (address, port) a socket tried to connect to in this test, loopback included."""
    return network_guard.attempts
