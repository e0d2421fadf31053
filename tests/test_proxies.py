"""Client addresses: X-Forwarded-For believed from trusted proxies only, never from clients,
and not through uvicorn's own proxy handling either."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from assistant.errors import ConfigurationError
from assistant.proxies import (
    CLIENT_ADDRESS_HEADER,
    TrustedProxies,
    client_address,
    forwarded_https,
)
from assistant.settings import Settings
from server.client_address import ClientAddressMiddleware, ServerTrust, client_of
from server.context import ServerContext

HAPROXY = TrustedProxies.parse(["10.0.0.0/8"])


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address("198.51.100.4", ["203.0.113.9"], TrustedProxies()) == "198.51.100.4"


def test_a_spoofed_header_from_an_untrusted_peer_is_ignored() -> None:
    assert client_address("198.51.100.4", ["203.0.113.9"], HAPROXY) == "198.51.100.4"


def test_from_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() -> None:
    # The client sent "1.2.3.4" itself; the proxy appended the address it saw.
    assert client_address("10.0.0.5", ["1.2.3.4, 203.0.113.9"], HAPROXY) == "203.0.113.9"
    # Two trusted proxies in a row, and the header split over two lines.
    assert client_address("10.0.0.5", ["1.2.3.4", "203.0.113.9, 10.0.0.7"], HAPROXY) == (
        "203.0.113.9"
    )
    assert client_address("10.0.0.5", [], HAPROXY) == "10.0.0.5"  # nothing forwarded


def test_a_hop_that_is_not_an_address_ends_the_walk_at_the_proxy_that_wrote_it() -> None:
    assert client_address("10.0.0.5", ["unknown"], HAPROXY) == "10.0.0.5"
    assert client_address("10.0.0.5", ["203.0.113.9, x" * 10_000], HAPROXY) == "10.0.0.5"


def test_addresses_are_normalised_so_one_client_is_one_key() -> None:
    assert client_address("::ffff:198.51.100.4", [], TrustedProxies()) == "198.51.100.4"
    assert client_address("10.0.0.5", ["[2001:db8::1]:443"], HAPROXY) == "2001:db8::1"


def test_https_is_believed_only_from_a_trusted_proxy() -> None:
    assert forwarded_https("10.0.0.5", "https", HAPROXY, connection_https=False)
    assert not forwarded_https("198.51.100.4", "https", HAPROXY, connection_https=False)
    assert forwarded_https("198.51.100.4", None, HAPROXY, connection_https=True)


def test_the_setting_is_a_comma_list_and_a_typo_is_a_clear_error() -> None:
    settings = Settings.from_env({"ASSISTANT_TRUSTED_PROXIES": "10.0.0.7, 192.168.0.0/16"})
    assert settings.proxies.trusts("192.168.4.4") and settings.proxies.trusts("10.0.0.7")
    assert not settings.proxies.trusts("10.0.0.8")
    assert Settings.from_env({}).proxies == TrustedProxies()
    with pytest.raises(ConfigurationError, match="ASSISTANT_TRUSTED_PROXIES"):
        Settings.from_env({"ASSISTANT_TRUSTED_PROXIES": "10.0.0.0/8, haproxy"})


# -- the ASGI edge: our middleware behind uvicorn's own proxy handling -----------------------


async def probe(scope: Any, receive: Any, send: Any) -> None:
    """An app that answers with what it was told about the client."""
    headers = dict(scope["headers"])
    body = json.dumps(
        {
            "address": client_of(scope).address,
            "https": client_of(scope).https,
            "header": headers.get(CLIENT_ADDRESS_HEADER.encode(), b"").decode(),
        }
    ).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def served(trusted: str, peer: str, **headers: str) -> dict[str, Any]:
    """One request through uvicorn's ProxyHeadersMiddleware (as `streamlit run` configures it:
    trusting loopback) and then ours, from `peer`."""
    context = ServerContext()
    context.proxies = TrustedProxies.parse(trusted.split(",")) if trusted else TrustedProxies()
    ours = ClientAddressMiddleware(probe, context, ServerTrust.parse("127.0.0.1,::1"))
    app = ProxyHeadersMiddleware(ours, trusted_hosts="127.0.0.1,::1")  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, client=(peer, 50123))

    async def get() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
            return dict((await client.get("/", headers=headers)).json())

    return asyncio.run(get())


def test_uvicorn_alone_takes_the_address_from_the_header_of_a_loopback_peer() -> None:
    """The premise: `streamlit run` serves through uvicorn with proxy headers on and loopback
    trusted (its defaults), so without the app's own check this would be the client."""
    seen: dict[str, Any] = {}

    async def record(scope: Any, receive: Any, send: Any) -> None:
        seen["client"] = scope["client"][0]
        await probe(scope, receive, send)

    app = ProxyHeadersMiddleware(record, trusted_hosts="127.0.0.1,::1")  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50123))

    async def get() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
            await client.get("/", headers={"X-Forwarded-For": "203.0.113.66"})

    asyncio.run(get())
    assert seen["client"] == "203.0.113.66"


def test_a_local_client_cannot_name_its_address_through_uvicorn() -> None:
    # uvicorn alone would believe this (it trusts loopback): the app must not.
    seen = served("", "127.0.0.1", **{"X-Forwarded-For": "203.0.113.66"})
    assert seen["address"] == "127.0.0.1"
    assert seen["header"] == "127.0.0.1"
    assert not served("", "127.0.0.1", **{"X-Forwarded-Proto": "https"})["https"]


def test_a_remote_client_cannot_name_its_address_either() -> None:
    seen = served("", "198.51.100.4", **{"X-Forwarded-For": "203.0.113.66"})
    assert seen["address"] == "198.51.100.4"


def test_a_configured_proxy_is_believed() -> None:
    seen = served(
        "10.0.0.0/8",
        "10.0.0.5",
        **{"X-Forwarded-For": "1.2.3.4, 203.0.113.9", "X-Forwarded-Proto": "https"},
    )
    assert seen == {"address": "203.0.113.9", "https": True, "header": "203.0.113.9"}


def test_a_local_proxy_is_believed_once_configured() -> None:
    # As `make cluster` runs it: HAProxy on 127.0.0.1, ASSISTANT_TRUSTED_PROXIES=127.0.0.1.
    seen = served("127.0.0.1", "127.0.0.1", **{"X-Forwarded-For": "203.0.113.9"})
    assert seen["address"] == "203.0.113.9"


def test_a_server_trusting_a_wider_network_than_ours_is_not_believed() -> None:
    server = ServerTrust.parse("10.0.0.0/8")  # FORWARDED_ALLOW_IPS set wider than our list
    assert not server.believed_by(TrustedProxies.parse(["10.0.0.5"]))
    assert server.believed_by(TrustedProxies.parse(["10.0.0.0/8"]))
    assert not ServerTrust.parse("*").believed_by(TrustedProxies.parse(["0.0.0.0/0"]))


def test_a_client_cannot_send_the_apps_own_address_header() -> None:
    seen = served("", "198.51.100.4", **{CLIENT_ADDRESS_HEADER: "203.0.113.66"})
    assert seen["header"] == "198.51.100.4"
