"""`POST /auth/session`: the browser redeems a cookie ticket; the answer sets its cookies.

The page script never sets a cookie. When it must change one (sign-in, registration, single
sign-on, sign-out, account deletion), it issues a ticket (`assistant.cookie_tickets`) and a
tiny component posts that ticket here with the browser's own `fetch`:

    POST /auth/session    Content-Type: application/json    {"ticket": "<ticket>"}
    204 No Content        Set-Cookie: assistant_session=...; HttpOnly; SameSite=Strict ...

Refused, and nothing set: a request from another origin (`Origin` must match `Host`, and
`Sec-Fetch-Site` must be same-origin when sent), anything but a small JSON body naming a
ticket (400), and a ticket that is unknown, already used, expired or bound to a session cookie
this request does not carry (410). With the database away: 503, and the ticket stays usable.
The route answers `Cache-Control: no-store`.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Route

from assistant.cookie_tickets import (
    DEVICE_COOKIE,
    DEVICE_MAX_AGE,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    TICKET_PATH,
)
from assistant.errors import AssistantError
from server.session_cookie import cookie_header, secure_for

if TYPE_CHECKING:
    from starlette.requests import Request

    from server.context import ServerContext

log = logging.getLogger(__name__)

#: A ticket is 43 characters; anything much bigger is not a ticket request.
MAX_BODY = 1024


def same_origin(request: Request) -> bool:
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("origin")
    host = request.headers.get("host")
    if not origin or not host:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()


async def _ticket(request: Request) -> str | None:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    try:
        ticket = json.loads(body).get("ticket")
    except (ValueError, AttributeError):
        return None
    return ticket if isinstance(ticket, str) else None


def _answer(status: int) -> Response:
    return Response(status_code=status, headers={"Cache-Control": "no-store"})


def routes(context: ServerContext, base_path: str = "") -> list[Route]:
    async def redeem(request: Request) -> Response:
        if not same_origin(request):
            return _answer(403)
        ticket = await _ticket(request)
        if ticket is None:
            return _answer(400)
        presented = request.cookies.get(SESSION_COOKIE)
        try:
            cookies = await run_in_threadpool(
                lambda: context.tickets.redeem(ticket, presented=presented)
            )
        except (AssistantError, SQLAlchemyError):
            # The database is away; the page offers the ticket again.
            log.warning("cookie ticket not redeemed: the store failed", exc_info=True)
            return _answer(503)
        if cookies is None:
            log.info("cookie ticket refused (unknown, used, expired or not this browser's)")
            return _answer(410)
        secure = secure_for(request.scope)
        values = [(SESSION_COOKIE, cookies.session, SESSION_MAX_AGE)]
        if cookies.device is not None:
            values.append((DEVICE_COOKIE, cookies.device, DEVICE_MAX_AGE))
        response = _answer(204)
        for name, value, max_age in values:
            header = cookie_header(name, value, max_age, secure=secure)
            response.raw_headers.append((b"set-cookie", header))
        return response

    prefix = "/" + base_path.strip("/") if base_path.strip("/") else ""
    return [Route(f"{prefix}/{TICKET_PATH}", redeem, methods=["POST"])]


__all__ = ["MAX_BODY", "routes", "same_origin"]
