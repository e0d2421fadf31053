"""Who is on the other end of a request: the client address behind the proxies we trust.

    trusted = TrustedProxies.parse(["10.0.0.0/8"])           # ASSISTANT_TRUSTED_PROXIES
    client_address("10.0.0.5", ["203.0.113.9, 10.0.0.7"], trusted)   # -> "203.0.113.9"
    client_address("198.51.100.4", ["203.0.113.9"], trusted)          # -> "198.51.100.4"

The address is what per-client limits count (failed sign-ins, new guests), so a client must
not be able to choose it. `X-Forwarded-For` is a list every proxy appends to: its left part is
whatever the client sent, and only the entries added by proxies we trust are facts. So the
header is read only when the connection itself comes from a trusted proxy, from the right,
skipping trusted proxies, and the first entry that is not one is the client. With no trusted
proxies (the default) the header is ignored and the client is the connection's peer.

`X-Forwarded-Proto` follows the same rule: it says https only when a trusted proxy says so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assistant.errors import ConfigurationError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Longest header value read; a trusted proxy's list of hops is far shorter.
MAX_HEADER_CHARS = 4096
#: The header in which the app's own server hands the resolved address to the page script
#: (after removing any copy a client sent): a WebSocket's headers are what the script can see.
CLIENT_ADDRESS_HEADER = "x-assistant-client-address"


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """Addresses and networks whose `X-Forwarded-*` headers are believed."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> TrustedProxies:
        """From "10.0.0.7", "10.0.0.0/8", "::1" ...; ConfigurationError names a bad entry."""
        networks = []
        for entry in entries:
            text = entry.strip()
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise ConfigurationError(
                    f"ASSISTANT_TRUSTED_PROXIES: {text!r} is not an IP address or network."
                ) from None
        return cls(tuple(networks))

    def trusts(self, host: str | None) -> bool:
        address = parse_address(host)
        return address is not None and any(address in net for net in self.networks)

    def covers(self, others: TrustedProxies) -> bool:
        """True when every address `others` trusts is trusted here too."""
        return all(any(_within(net, mine) for mine in self.networks) for net in others.networks)


def _within(inner: Network, outer: Network) -> bool:
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def parse_address(host: str | None) -> Address | None:
    """An IP address from "203.0.113.9", "203.0.113.9:5000", "[2001:db8::1]:443"; else None."""
    if not host:
        return None
    text = host.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def forwarded_hops(values: Sequence[str]) -> list[str]:
    """The entries of every `X-Forwarded-For` header, in order (several headers are joined)."""
    joined = ",".join(values)[:MAX_HEADER_CHARS]
    return [hop.strip() for hop in joined.split(",") if hop.strip()]


def client_address(
    peer: str | None,
    forwarded_for: Sequence[str],
    trusted: TrustedProxies,
    *,
    peer_trusted: bool | None = None,
) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy (see module docstring).

    Walking `X-Forwarded-For` from the right, the first hop that is not a trusted proxy is the
    client; an entry that is not an IP address ends the walk at the proxy that wrote it (it
    cannot be checked, so it is not believed). `peer_trusted` overrides the check of the peer
    itself (for a peer known only as one of a set). Returns "" when nothing is known.
    """
    address = parse_address(peer)
    if address is None:
        return ""
    current = str(address)
    if not (trusted.trusts(current) if peer_trusted is None else peer_trusted):
        return current
    for hop in reversed(forwarded_hops(forwarded_for)):
        parsed = parse_address(hop)
        if parsed is None:
            return current
        current = str(parsed)
        if not trusted.trusts(current):
            return current
    return current


def forwarded_https(
    peer: str | None,
    forwarded_proto: str | None,
    trusted: TrustedProxies,
    connection_https: bool,
    *,
    peer_trusted: bool | None = None,
) -> bool:
    """Whether the browser's request was https: the connection's own scheme, or what a trusted
    proxy says in `X-Forwarded-Proto` (its first entry: the proxy nearest the browser)."""
    believed = trusted.trusts(peer) if peer_trusted is None else peer_trusted
    if forwarded_proto and believed:
        first = forwarded_proto.split(",", 1)[0].strip().lower()
        return first in ("https", "wss")
    return connection_https


__all__ = [
    "CLIENT_ADDRESS_HEADER",
    "MAX_HEADER_CHARS",
    "TrustedProxies",
    "client_address",
    "forwarded_hops",
    "forwarded_https",
    "parse_address",
]
