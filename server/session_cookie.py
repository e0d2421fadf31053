"""The session cookie: set by the server, HttpOnly, never seen by page script.

`SessionCookieMiddleware` gives a browser that opens a page of the app without a valid-looking
session cookie a new random token, in the page's own response (a browser that has one gets the
same token again, so the cookie lives `SESSION_MAX_AGE` past the last visit, as the session
does past its last use):

    Set-Cookie: assistant_session=<token>; Path=/; Max-Age=2592000; HttpOnly; SameSite=Strict
    (; Secure when the browser came over https: see `secure_for`)

Nothing is stored then: a token names a guest only once the guest writes something (see
`assistant.accounts.Accounts.start_guest`). Later changes of the cookie (sign-in, sign-out...)
go through cookie tickets (`server.ticket_route`).

Only page loads get one: not Streamlit's own endpoints, static files, media, components or
the app's API. And not a navigation from another site: a SameSite=Strict cookie is withheld
from such a request even when the browser has one, so a new token there would replace the
visitor's session (the WebSocket the page opens next is same-site and does carry it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import cookie_parser

from assistant.cookie_tickets import SESSION_COOKIE, SESSION_MAX_AGE
from assistant.tokens import looks_like_token, new_token
from server.client_address import client_of

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Paths (under the base URL path) that are never a page of the app.
NOT_PAGES = ("_stcore/", "static/", "media/", "component/", "api/", "auth/", "oauth2callback")


def secure_for(scope: Scope) -> bool:
    """Whether the app's cookies get `Secure` for this request: it came over https as far as
    we believe (the connection, or a trusted proxy), or any `X-Forwarded-Proto` says https.

    The second is believed from anyone on purpose: it can only make the requester's own cookie
    stricter (a browser never sends the header itself, and no other site can add it to a
    navigation), and it keeps `Secure` behind a proxy nobody listed as trusted.
    """
    if client_of(scope).https:
        return True
    proto = _header(scope, b"x-forwarded-proto") or ""
    return proto.split(",", 1)[0].strip().lower() == "https"


def cookie_header(name: str, value: str, max_age: timedelta, *, secure: bool) -> bytes:
    """A `Set-Cookie` value for one of the app's cookies (see the module docstring)."""
    parts = [
        f"{name}={value}",
        "Path=/",
        f"Max-Age={int(max_age.total_seconds())}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def is_page_request(scope: Scope, base_path: str = "") -> bool:
    """A browser loading a page of the app (a document, not an asset or an API call)."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return False
    path = str(scope["path"])
    prefix = "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"
    if not path.startswith(prefix) and path != prefix.rstrip("/"):
        return False
    if path[len(prefix) :].startswith(NOT_PAGES):
        return False
    destination = _header(scope, b"sec-fetch-dest")
    if destination is not None:
        return destination == "document"
    return "text/html" in (_header(scope, b"accept") or "")


def is_cross_site(scope: Scope) -> bool:
    """A navigation from another site (Fetch Metadata, or the Referer for older browsers)."""
    site = _header(scope, b"sec-fetch-site")
    if site is not None:
        return site == "cross-site"
    referer = _header(scope, b"referer")
    if not referer:
        return False
    return urlsplit(referer).netloc.lower() != (_header(scope, b"host") or "").lower()


def session_cookie(scope: Scope) -> str | None:
    value = cookie_parser(_header(scope, b"cookie") or "").get(SESSION_COOKIE)
    return value if looks_like_token(value) else None


class SessionCookieMiddleware:
    """Pure ASGI: a page load gets (or renews) its session cookie (see the module docstring)."""

    def __init__(self, app: ASGIApp, base_path: str = "") -> None:
        self.app = app
        self.base_path = base_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_page_request(scope, self.base_path) or is_cross_site(scope):
            await self.app(scope, receive, send)
            return
        token = session_cookie(scope) or new_token()
        cookie = cookie_header(SESSION_COOKIE, token, SESSION_MAX_AGE, secure=secure_for(scope))

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and _is_html_page(message):
                headers: list[Any] = list(message.get("headers", []))
                headers.append((b"set-cookie", cookie))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _is_html_page(message: Message) -> bool:
    if message.get("status") == 304:  # the cached page, revalidated: still a page load
        return True
    if message.get("status") != 200:
        return False
    for key, value in message.get("headers", []):
        if key.lower() == b"content-type":
            return bytes(value).startswith(b"text/html")
    return False


__all__ = [
    "NOT_PAGES",
    "SessionCookieMiddleware",
    "cookie_header",
    "is_cross_site",
    "is_page_request",
    "secure_for",
    "session_cookie",
]
