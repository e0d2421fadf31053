"""Who sent each request, decided once, at the edge: the address and whether it came over https.

`ClientAddressMiddleware` resolves every HTTP and WebSocket request with
`assistant.proxies` (X-Forwarded-For and X-Forwarded-Proto believed only from
ASSISTANT_TRUSTED_PROXIES), keeps the result in the request's scope for the other middleware
and routes (`client_of`), and hands the address to the page script in the
`X-Assistant-Client-Address` header, removing any copy the client sent.

The ASGI server gets there first. uvicorn (which `streamlit run` uses) applies its own proxy
handling before the app sees a request: for a peer it trusts (loopback by default, or
FORWARDED_ALLOW_IPS) it replaces the client address with one taken from X-Forwarded-For, and
the scheme with X-Forwarded-Proto. So any local process, or a local proxy that passes the
header through, could name any address. `ServerTrust` repeats uvicorn's rule to recognise a
replaced address: the true peer was then one of uvicorn's trusted hosts, and what the header
says counts only if we trust those hosts too.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.proxies import (
    CLIENT_ADDRESS_HEADER,
    TrustedProxies,
    client_address,
    forwarded_https,
)

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from server.context import ServerContext

_SCOPE_KEY = "assistant.client"
_HEADER = CLIENT_ADDRESS_HEADER.encode("latin-1")
#: uvicorn's default for FORWARDED_ALLOW_IPS.
UVICORN_DEFAULT = "127.0.0.1,::1"


@dataclass(frozen=True, slots=True)
class Client:
    address: str  # "" when unknown
    https: bool


@dataclass(frozen=True, slots=True)
class ServerTrust:
    """The hosts whose X-Forwarded-For uvicorn itself believes (its FORWARDED_ALLOW_IPS)."""

    everyone: bool
    proxies: TrustedProxies
    literals: frozenset[str]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ServerTrust:
        return cls.parse(environ.get("FORWARDED_ALLOW_IPS", UVICORN_DEFAULT))

    @classmethod
    def parse(cls, spec: str) -> ServerTrust:
        entries = [entry.strip() for entry in spec.split(",")]
        networks, literals = [], set()
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                literals.add(entry)  # uvicorn compares anything else as a plain string
        return cls("*" in entries, TrustedProxies(tuple(networks)), frozenset(literals))

    def trusts(self, host: str) -> bool:
        if self.everyone:
            return True
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host in self.literals
        return any(address in network for network in self.proxies.networks)

    def believed_by(self, trusted: TrustedProxies) -> bool:
        """Whether a peer known only as "one of the hosts uvicorn trusts" is one we trust too.

        uvicorn's default trusts this machine only (127.0.0.1 and ::1); every loopback address
        is the same machine, so trusting any of them (a local HAProxy on 127.0.0.1) is enough.
        Otherwise every host uvicorn trusts must be trusted here.
        """
        if self.everyone:
            return False
        networks = self.proxies.networks
        if networks and all(net.network_address.is_loopback for net in networks):
            return any(trusted.trusts(str(net.network_address)) for net in networks)
        return trusted.covers(self.proxies)

    @property
    def stand_in(self) -> str:
        """The address a replaced client is counted as: the first host uvicorn trusts."""
        if self.everyone or not self.proxies.networks:
            return "0.0.0.0"
        return str(self.proxies.networks[0].network_address)

    def picked(self, forwarded_for: list[str]) -> tuple[str, int]:
        """What uvicorn puts in the scope's client for these X-Forwarded-For values."""
        hops = [hop.strip() for hop in ", ".join(forwarded_for).split(",")]
        if self.everyone:
            return _host_port(hops[0])
        for hop in reversed(hops):
            host, port = _host_port(hop)
            if not self.trusts(host):
                return host, port
        return _host_port(hops[0])


def _host_port(value: str) -> tuple[str, int]:
    """uvicorn's reading of one X-Forwarded-For entry (bare, host:port or [v6]:port)."""
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return value, 0
        host, rest = value[1:end], value[end + 1 :]
        if not rest:
            return host, 0
        if not rest.startswith(":"):
            return value, 0
        try:
            return host, int(rest[1:])
        except ValueError:
            return host, 0
    if value.count(":") == 1:
        host, port = value.rsplit(":", 1)
        try:
            return host, int(port)
        except ValueError:
            return value, 0
    return value, 0


def _headers(scope: Scope, name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in scope["headers"] if key == name]


def resolve(
    scope: Scope, trusted: TrustedProxies, server: ServerTrust, *, own_tls: bool = False
) -> Client:
    """The client of this request, as far as our trusted proxies vouch for it.

    `own_tls` says whether the server itself terminates TLS: the connection's real scheme,
    for when uvicorn has replaced the scheme with what an untrusted peer claimed.
    """
    forwarded_for = _headers(scope, b"x-forwarded-for")
    protos = _headers(scope, b"x-forwarded-proto")
    forwarded_proto = protos[-1] if protos else None
    peer: str | None = None
    port = 0
    if scope.get("client"):
        peer, port = scope["client"][0], scope["client"][1]
    # Whether uvicorn replaced the client (then the true peer was one of its trusted hosts),
    # or at least may have replaced the scheme (the peer is one of them).
    replaced = bool(forwarded_for and peer) and server.picked(forwarded_for) == (peer, port)
    via_server = replaced or bool(peer and server.trusts(peer))
    peer_trusted: bool | None = None
    if replaced:
        peer, peer_trusted = server.stand_in, server.believed_by(trusted)
    scheme_https = scope.get("scheme") in ("https", "wss")
    if via_server and forwarded_proto:
        scheme_https = own_tls  # uvicorn took the scheme from the header: not a fact
    address = client_address(peer, forwarded_for, trusted, peer_trusted=peer_trusted)
    https = forwarded_https(peer, forwarded_proto, trusted, scheme_https, peer_trusted=peer_trusted)
    return Client(address, https)


def client_of(scope: Scope) -> Client:
    """The client `ClientAddressMiddleware` found for this request (or the bare connection)."""
    found = scope.get(_SCOPE_KEY)
    if isinstance(found, Client):
        return found
    client = scope.get("client")
    return Client(client[0] if client else "", scope.get("scheme") in ("https", "wss"))


class ClientAddressMiddleware:
    """Pure ASGI: stamps every request with its `Client` (see the module docstring)."""

    def __init__(
        self, app: ASGIApp, context: ServerContext, server_trust: ServerTrust | None = None
    ) -> None:
        self.app = app
        self.context = context
        self.server_trust = server_trust or ServerTrust.from_environment()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = resolve(
            scope, self.context.proxies, self.server_trust, own_tls=self.context.own_tls
        )
        headers: list[Any] = [item for item in scope["headers"] if item[0] != _HEADER]
        headers.append((_HEADER, client.address.encode("latin-1")))
        await self.app({**scope, "headers": headers, _SCOPE_KEY: client}, receive, send)


__all__ = ["Client", "ClientAddressMiddleware", "ServerTrust", "client_of", "resolve"]
