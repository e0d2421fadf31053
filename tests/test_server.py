"""The server around the app: the first-visit session cookie, cookie tickets and their route.

In-process tests run the real middleware and route (Starlette, as `st.App` runs them) on a real
database, SQLite and PostgreSQL; the last tests start the real app with `streamlit run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from streamlit.web.server.app_discovery import discover_asgi_app

from assistant.cookie_tickets import (
    DEVICE_COOKIE,
    SESSION_COOKIE,
    Cookies,
    CookieTickets,
)
from assistant.settings import Settings
from assistant.store import Store
from assistant.store import models as m
from assistant.tokens import new_token
from server import ticket_route
from server.client_address import ClientAddressMiddleware, ServerTrust
from server.context import ServerContext
from server.session_cookie import SessionCookieMiddleware
from server.upload_names import REFUSED as UPLOAD_REFUSED
from server.upload_names import UploadNameMiddleware
from tests.served_app import served_app
from tests.store_fixtures import FakeClock, run_threads

PAGE = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Dest": "document"}
SAME_ORIGIN = {"Origin": "http://app.test", "Sec-Fetch-Site": "same-origin"}
REPO = Path(__file__).resolve().parent.parent


async def page(_: Request) -> Response:
    return HTMLResponse("<html>the app</html>")


async def health(_: Request) -> Response:
    return PlainTextResponse("ok")


@pytest.fixture
def context(store: Store, migrated_url: str) -> Iterator[ServerContext]:
    """The server's context on the test's (migrated) database."""
    opened = ServerContext()
    opened.open(Settings(database_url=migrated_url, trusted_proxies=("10.0.0.0/8",)))
    yield opened
    opened.close()


class Browser:
    """Requests to the in-process server, from one peer address."""

    def __init__(self, context: ServerContext, peer: str = "198.51.100.4") -> None:
        app = Starlette(
            routes=[
                *ticket_route.routes(context),
                Route("/_stcore/health", health),
                Route("/{path:path}", page),
            ],
            middleware=[
                Middleware(
                    ClientAddressMiddleware, context=context, server_trust=ServerTrust.parse("")
                ),
                Middleware(SessionCookieMiddleware),
            ],
        )
        self.transport = httpx.ASGITransport(app=app, client=(peer, 50123))

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=self.transport, base_url="http://app.test"
            ) as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(send())

    def redeem(
        self, ticket: str, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        return self.request(
            "POST",
            "/auth/session",
            json={"ticket": ticket},
            headers={**SAME_ORIGIN, **(headers or {})},
            **kw,
        )


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Cookie name -> its whole Set-Cookie line."""
    return {line.split("=", 1)[0]: line for line in response.headers.get_list("set-cookie")}


def stored_rows(store: Store) -> int:
    with store._db.engine.connect() as connection:
        return sum(
            len(connection.execute(select(model)).all())
            for model in (m.User, m.AuthSession, m.CookieTicket)
        )


# -- the first page ---------------------------------------------------------------------------


def test_a_first_page_load_gets_an_http_only_strict_cookie_and_nothing_is_stored(
    context: ServerContext, store: Store
) -> None:
    response = Browser(context).request("GET", "/history", headers=PAGE)
    line = set_cookies(response)[SESSION_COOKIE]
    value = line.split(";")[0].split("=", 1)[1]
    assert len(value) == 43
    attributes = {part.strip() for part in line.split(";")[1:]}
    assert attributes == {"Path=/", "Max-Age=2592000", "HttpOnly", "SameSite=Strict"}
    assert stored_rows(store) == 0


def test_the_cookie_is_secure_whenever_the_browser_came_over_https(
    context: ServerContext,
) -> None:
    https = {**PAGE, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    via_proxy = Browser(context, peer="10.0.0.5").request("GET", "/", headers=https)
    assert "Secure" in set_cookies(via_proxy)[SESSION_COOKIE]
    # From a peer nobody listed: the claim can only make the requester's own cookie stricter.
    unlisted = Browser(context).request("GET", "/", headers=https)
    assert "Secure" in set_cookies(unlisted)[SESSION_COOKIE]
    downgrade = {**PAGE, "X-Forwarded-Proto": "http"}  # cannot take Secure off a TLS request
    tls = Browser(context).request("GET", "https://app.test/", headers=downgrade)
    assert "Secure" in set_cookies(tls)[SESSION_COOKIE]
    plain = Browser(context).request("GET", "/", headers=PAGE)
    assert "Secure" not in set_cookies(plain)[SESSION_COOKIE]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/_stcore/health", PAGE),  # Streamlit's endpoints
        ("/static/js/main.js", {"Sec-Fetch-Dest": "script"}),
        ("/", {"Sec-Fetch-Dest": "image", "Accept": "image/*"}),
        ("/", {**PAGE, "Sec-Fetch-Site": "cross-site"}),  # the jar's cookie was withheld
        ("/", {**PAGE, "Referer": "https://elsewhere.example/"}),  # the same, older browsers
    ],
    ids=["stcore", "script", "image", "cross-site", "cross-site-referer"],
)
def test_no_cookie_for_anything_but_a_same_site_page_load(
    context: ServerContext, path: str, headers: dict[str, str]
) -> None:
    response = Browser(context).request("GET", path, headers=headers)
    assert SESSION_COOKIE not in set_cookies(response)


def test_a_page_load_renews_the_cookie_it_came_with(context: ServerContext) -> None:
    token = new_token()
    headers = {**PAGE, "Cookie": f"{SESSION_COOKIE}={token}"}
    line = set_cookies(Browser(context).request("GET", "/", headers=headers))[SESSION_COOKIE]
    assert line.startswith(f"{SESSION_COOKIE}={token};") and "Max-Age=2592000" in line


def test_a_cookie_that_is_not_a_token_is_replaced(context: ServerContext) -> None:
    headers = {**PAGE, "Cookie": f"{SESSION_COOKIE}=planted"}
    assert SESSION_COOKIE in set_cookies(Browser(context).request("GET", "/", headers=headers))


# -- cookie tickets ----------------------------------------------------------------------------


def test_a_ticket_sets_the_cookies_once_and_the_database_never_holds_the_token(
    context: ServerContext, store: Store
) -> None:
    session, device = new_token(), new_token()
    ticket = CookieTickets(store).issue(Cookies(session, device), bound_to=None)
    with store._db.engine.connect() as connection:
        stored = repr(connection.execute(select(m.CookieTicket.__table__)).all())
    assert session not in stored and device not in stored and ticket not in stored

    browser = Browser(context)
    answer = browser.redeem(ticket)
    assert answer.status_code == 204 and answer.headers["cache-control"] == "no-store"
    cookies = set_cookies(answer)
    assert cookies[SESSION_COOKIE].startswith(f"{SESSION_COOKIE}={session};")
    assert cookies[DEVICE_COOKIE].startswith(f"{DEVICE_COOKIE}={device};")
    assert all("HttpOnly" in line and "SameSite=Strict" in line for line in cookies.values())
    assert "Max-Age=31536000" in cookies[DEVICE_COOKIE]

    replay = browser.redeem(ticket)
    assert replay.status_code == 410 and not set_cookies(replay)


def test_a_ticket_from_another_origin_is_refused_and_stays_usable(
    context: ServerContext, store: Store
) -> None:
    ticket = CookieTickets(store).issue(Cookies(new_token()), bound_to=None)
    browser = Browser(context)
    for headers in (
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example"},  # no Fetch Metadata
        {"Origin": "http://app.test", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "", "Sec-Fetch-Site": ""},
    ):
        refused = browser.request("POST", "/auth/session", json={"ticket": ticket}, headers=headers)
        assert refused.status_code == 403 and not set_cookies(refused)
    assert browser.redeem(ticket).status_code == 204


def test_an_expired_ticket_is_refused(context: ServerContext, store: Store) -> None:
    clock = FakeClock()
    old = CookieTickets(store, clock=lambda: clock() - timedelta(days=1))
    assert (
        Browser(context).redeem(old.issue(Cookies(new_token()), bound_to=None)).status_code == 410
    )


def test_a_bound_ticket_needs_the_browsers_cookie(context: ServerContext, store: Store) -> None:
    current = new_token()
    ticket = CookieTickets(store).issue(Cookies(new_token()), bound_to=current)
    browser = Browser(context)
    assert browser.redeem(ticket).status_code == 410  # copied out of the page: useless
    other = {"Cookie": f"{SESSION_COOKIE}={new_token()}"}
    assert browser.redeem(ticket, headers=other).status_code == 410
    mine = {"Cookie": f"{SESSION_COOKIE}={current}"}
    assert browser.redeem(ticket, headers=mine).status_code == 204


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"ticket": 5}', "application/json"),
        (b"ticket=abc", "application/x-www-form-urlencoded"),  # a plain form post
        (b'{"ticket": "' + b"x" * 5000 + b'"}', "application/json"),
        (b"not json", "application/json"),
    ],
)
def test_anything_but_a_small_json_ticket_is_a_bad_request(
    context: ServerContext, body: bytes, content_type: str
) -> None:
    answer = Browser(context).request(
        "POST",
        "/auth/session",
        content=body,
        headers={**SAME_ORIGIN, "Content-Type": content_type},
    )
    assert answer.status_code == 400


def test_of_many_redeemers_at_once_exactly_one_gets_the_cookies(
    migrated_url: str, store: Store
) -> None:
    ticket = CookieTickets(store).issue(Cookies(new_token()), bound_to=None)
    replicas = [Store(migrated_url) for _ in range(4)]  # as if on four processes
    results: list[Cookies | None] = []

    def redeem(n: int) -> None:
        results.append(CookieTickets(replicas[n % 4]).redeem(ticket, presented=None))

    try:
        assert run_threads(8, redeem) == []
    finally:
        for replica in replicas:
            replica.close()
    assert len([r for r in results if r is not None]) == 1


# -- the real server -------------------------------------------------------------------------


def test_streamlit_run_finds_the_server_in_app_py() -> None:
    found = discover_asgi_app(REPO / "app.py")
    assert found.is_asgi_app and found.import_string == "app:app"


def test_the_served_app_sets_the_cookie_and_serves_the_ticket_route(tmp_path: Path) -> None:
    with served_app({"ASSISTANT_DATA_DIR": str(tmp_path)}) as url:
        first = httpx.get(url, headers=PAGE)
        assert first.status_code == 200 and "HttpOnly" in set_cookies(first)[SESSION_COOKIE]
        health = httpx.get(f"{url}/_stcore/health", headers=PAGE)
        assert SESSION_COOKIE not in set_cookies(health)
        origin = {"Origin": url, "Sec-Fetch-Site": "same-origin"}
        unknown = httpx.post(f"{url}/auth/session", json={"ticket": new_token()}, headers=origin)
        assert unknown.status_code == 410
        foreign = httpx.post(
            f"{url}/auth/session",
            json={"ticket": new_token()},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403


# -- upload names --------------------------------------------------------------------------


def upload_body(filename: bytes, data: bytes = b"\x89PNG\r\n\x1a\n" + b"0" * 40_000) -> bytes:
    return (
        b"--BOUNDARY\r\n"
        b'Content-Disposition: form-data; name="file"; ' + filename + b"\r\n"
        b"Content-Type: image/png\r\n\r\n" + data + b"\r\n--BOUNDARY--\r\n"
    )


def echo_uploads() -> Starlette:
    async def upload(request: Request) -> Response:
        form = await request.form()
        file = form["file"]
        assert not isinstance(file, str)
        return PlainTextResponse(f"{file.filename}:{len(await file.read())}")

    return Starlette(
        routes=[Route("/_stcore/upload_file/{session}/{file}", upload, methods=["PUT"])],
        middleware=[Middleware(UploadNameMiddleware)],
    )


@pytest.mark.parametrize(
    "filename",
    [b'filename="evil\x00.png"', b"filename*=UTF-8''evil%00.png", b'filename="a.png\x00.svg"'],
)
def test_an_upload_named_with_a_nul_is_refused_before_streamlit_stores_it(filename: bytes) -> None:
    async def put() -> httpx.Response:
        transport = httpx.ASGITransport(app=echo_uploads())
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.put(
                "/_stcore/upload_file/s/f",
                content=upload_body(filename),
                headers={"Content-Type": "multipart/form-data; boundary=BOUNDARY"},
            )

    answer = asyncio.run(put())
    assert answer.status_code == 400 and answer.text == UPLOAD_REFUSED


def test_an_upload_with_an_ordinary_name_reaches_streamlit_whole() -> None:
    async def put() -> httpx.Response:
        transport = httpx.ASGITransport(app=echo_uploads())
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.put(
                "/_stcore/upload_file/s/f",
                content=upload_body('filename="Café photo.png"'.encode()),
                headers={"Content-Type": "multipart/form-data; boundary=BOUNDARY"},
            )

    answer = asyncio.run(put())
    assert answer.status_code == 200 and answer.text == "Café photo.png:40008"


def test_the_served_app_refuses_an_upload_named_with_a_nul(tmp_path: Path) -> None:
    with served_app({"ASSISTANT_DATA_DIR": str(tmp_path)}) as url:
        answer = httpx.put(
            f"{url}/_stcore/upload_file/session/file",
            content=upload_body(b'filename="evil\x00.png"'),
            headers={"Content-Type": "multipart/form-data; boundary=BOUNDARY"},
        )
        assert answer.status_code == 400 and answer.text == UPLOAD_REFUSED
        ordinary = httpx.put(
            f"{url}/_stcore/upload_file/session/file",
            content=upload_body(b'filename="photo.png"'),
            headers={"Content-Type": "multipart/form-data; boundary=BOUNDARY"},
        )
        assert ordinary.status_code != 400  # Streamlit's own checks (XSRF) answer it
