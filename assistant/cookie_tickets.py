"""Cookie tickets: how a new session token reaches the browser without passing through the page.

The session and device cookies are HttpOnly, so no page script can read them, and only the
server sets them. When the page script decides that the cookie must change (sign-in,
registration, single sign-on, sign-out, account deletion, a guest saved without a cookie), it
issues a ticket and hands the page only that ticket; the browser posts it to the app's own
route (`TICKET_PATH`), which redeems it once and answers with `Set-Cookie`.

    tickets = CookieTickets(store)
    ticket = tickets.issue(Cookies(session=token), bound_to=current_cookie)   # page side
    cookies = tickets.redeem(ticket, presented=request_cookie)                # server side

What makes a ticket safe to show to the page:

- It is random, single-use and short-lived (`TICKET_LIFETIME`); only its hash is stored, in the
  database, so whichever replica the browser's request reaches can redeem it.
- The cookie values it carries are sealed (AES-GCM) with a key derived from the ticket itself,
  which is never stored: reading the database reveals no token.
- A ticket issued while the browser held a session cookie is bound to that cookie: only a
  request carrying it can redeem the ticket, so a ticket copied out of the page is useless
  elsewhere (the cookie is HttpOnly). The route also refuses requests from other origins.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from assistant.store import Store
from assistant.store.browsers import TicketStatus
from assistant.store.database import utc_now
from assistant.tokens import looks_like_token, token_hash

SESSION_COOKIE = "assistant_session"
DEVICE_COOKIE = "assistant_device"
#: The session cookie lives as long as an idle session does (see `Accounts.session_idle`).
SESSION_MAX_AGE = timedelta(days=30)
#: A device stays trusted this long after its last password sign-in (see `Accounts`).
DEVICE_MAX_AGE = timedelta(days=365)
#: The route that redeems tickets, under the server's base URL path.
TICKET_PATH = "auth/session"
TICKET_LIFETIME = timedelta(minutes=5)

_NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class Cookies:
    """The cookie values a ticket sets: a session token, and a device token when one is due."""

    session: str = field(repr=False)
    device: str | None = field(default=None, repr=False)


def _ticket_id(ticket: str) -> str:
    return hashlib.sha256(b"cookie-ticket id\x00" + ticket.encode()).hexdigest()


def _ticket_key(ticket: str) -> bytes:
    # A key derived from 256 random bits needs no stretching; the label keeps it apart from
    # the id above, which is stored.
    return hashlib.sha256(b"cookie-ticket key\x00" + ticket.encode()).digest()


def seal(ticket: str, cookies: Cookies) -> bytes:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    plain = json.dumps({"s": cookies.session, "d": cookies.device}).encode()
    return nonce + AESGCM(_ticket_key(ticket)).encrypt(nonce, plain, _ticket_id(ticket).encode())


def unseal(ticket: str, sealed: bytes) -> Cookies | None:
    nonce, body = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    try:
        plain = AESGCM(_ticket_key(ticket)).decrypt(nonce, body, _ticket_id(ticket).encode())
    except (InvalidTag, ValueError):
        return None
    values = json.loads(plain)
    session, device = values.get("s"), values.get("d")
    if not looks_like_token(session) or (device is not None and not looks_like_token(device)):
        return None
    return Cookies(session, device)


class CookieTickets:
    """Issue and redeem tickets over a `Store`; one per process, shared by all sessions."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = utc_now,
        lifetime: timedelta = TICKET_LIFETIME,
    ) -> None:
        self._rows = store.browsers
        self._now = clock
        self.lifetime = lifetime

    def issue(self, cookies: Cookies, *, bound_to: str | None) -> str:
        """A ticket that sets `cookies`; `bound_to` is the session cookie the browser holds now
        (None when it holds none), which the redeeming request must carry."""
        ticket = secrets.token_urlsafe(32)
        now = self._now()
        binding = token_hash(bound_to) if bound_to else None
        self._rows.create_ticket(
            _ticket_id(ticket), seal(ticket, cookies), binding, now, now + self.lifetime
        )
        return ticket

    def redeem(self, ticket: str, *, presented: str | None) -> Cookies | None:
        """The cookies to set, once; None for an unknown, used, expired or foreign ticket.

        `presented` is the session cookie the redeeming request carried.
        """
        if not looks_like_token(ticket):
            return None
        presented_hash = None
        if presented and looks_like_token(presented):
            presented_hash = token_hash(presented)
        sealed = self._rows.redeem_ticket(_ticket_id(ticket), presented_hash, self._now())
        return None if sealed is None else unseal(ticket, sealed)

    def status(self, ticket: str) -> TicketStatus:
        """ "pending" until redeemed, then "redeemed"; "lost" once expired unused (or unknown)."""
        return self._rows.ticket_status(_ticket_id(ticket), self._now())


__all__ = [
    "DEVICE_COOKIE",
    "DEVICE_MAX_AGE",
    "SESSION_COOKIE",
    "SESSION_MAX_AGE",
    "TICKET_LIFETIME",
    "TICKET_PATH",
    "CookieTickets",
    "Cookies",
    "seal",
    "unseal",
]
