"""Which addresses a connection test may reach: public ones, and the operator's allowed networks.

The address is chosen by organization admins, so every request of a test is a server-side
request to a user-chosen place (SSRF). Loopback, private, link-local, carrier-grade NAT and other
special-purpose addresses (also when embedded in IPv6: mapped, 6to4, NAT64) are refused unless
their network is listed in REGISTRY_PROBE_ALLOWED_NETWORKS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_NETWORKS_SETTING = "REGISTRY_PROBE_ALLOWED_NETWORKS"

_SHARED_NETWORK = ipaddress.IPv4Network("100.64.0.0/10")
_UNIQUE_LOCAL_NETWORK = ipaddress.IPv6Network("fc00::/7")
_NAT64_NETWORK = ipaddress.IPv6Network("64:ff9b::/96")


def parse_networks(value: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse REGISTRY_PROBE_ALLOWED_NETWORKS ("10.0.0.0/8, fd00::/8") for ProbeOptions."""
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items)


def ip_or_none(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def refusal(ip: IPAddress, allowed: tuple[IPNetwork, ...]) -> str:
    """Name the class of an address the test must not reach, like "a loopback" ("" if it may)."""
    embedded = _embedded_ipv4(ip)
    if any(ip in network or (embedded and embedded in network) for network in allowed):
        return ""
    if embedded is not None:
        inner = refusal(embedded, allowed)
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
