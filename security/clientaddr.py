"""The client's address: the peer, or the ``X-Forwarded-For`` hop a trusted proxy vouches for.

``X-Forwarded-For`` is read only when the peer is one of ``EMON_HTTP_TRUSTED_PROXIES`` (CIDRs), and then walked from
the right: each proxy appends the address it saw, so the first address from the right that is not a trusted proxy is
the client. Anything left of it was written by the client and is not believed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [2001:db8::1]:443
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # 203.0.113.5:1234
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Iterable[Network]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def resolve(peer: str | None, forwarded_for: list[str], trusted_proxies: Iterable[str]) -> str | None:
    networks = parse_networks(tuple(trusted_proxies))
    peer_ip = _ip(peer) if peer else None
    if peer_ip is None or not networks or not _trusted(peer_ip, networks):
        return peer
    hops = [h for value in forwarded_for for h in value.split(",") if h.strip()]
    client = str(peer_ip)
    for hop in reversed(hops):
        hop_ip = _ip(hop)
        if hop_ip is None:
            break  # malformed: stop at the last address a trusted proxy vouched for
        client = str(hop_ip)
        if not _trusted(hop_ip, networks):
            break
    return client


def client_address(scope: Any, trusted_proxies: Iterable[str]) -> str | None:
    """The client address of an ASGI scope under the given trusted proxies."""
    peer = (scope.get("client") or (None,))[0]
    forwarded = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
    return resolve(peer, forwarded, trusted_proxies)
