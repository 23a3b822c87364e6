"""The suite's network guard: nothing leaves this machine, and a test that tries fails."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.expects_refused_connections
@pytest.mark.parametrize("address", ["10.0.0.1", "169.254.169.254", "93.184.216.34", "fd00::1"])
def test_connection_to_a_non_loopback_address_is_refused_before_it_leaves(address, connections):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock, pytest.raises(ConnectionRefusedError):
        sock.connect((address, 80))
    assert connections == [(address, 80)]


@pytest.mark.expects_refused_connections
def test_name_lookups_beyond_localhost_fail_as_unknown_names(connections):
    with pytest.raises(socket.gaierror) as raised:
        socket.getaddrinfo("registry.example.com", 443)
    assert raised.value.errno == socket.EAI_NONAME
    assert socket.getaddrinfo("localhost", 443)
    assert connections == []


@pytest.mark.expects_refused_connections
def test_libraries_that_resolve_and_connect_are_refused_too(connections):
    with pytest.raises(urllib.error.URLError, match="refused by the test network guard"):
        urllib.request.urlopen("http://169.254.169.254/latest/meta-data/", timeout=1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("10.20.30.40", 5000), timeout=1)
    assert connections == [("169.254.169.254", 80), ("10.20.30.40", 5000)]


def test_a_test_that_swallows_the_refusal_still_fails(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(
        """
        import socket

        def test_quietly_tries_the_metadata_service():
            try:
                socket.create_connection(("169.254.169.254", 80), timeout=1)
            except OSError:
                pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "tests.network_guard", "-p", "no:django")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*tried to leave this machine: a connection to 169.254.169.254*"])
