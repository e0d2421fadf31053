"""Who is using this browser session: a guest at first, an account after signing in.

The session token lives in an HttpOnly cookie that only the server sets (server/): a first
page load gets a random one, and this module reads it from `st.context.cookies` (what the
browser sent when its WebSocket opened). No page script can read it, and it is never sent to
the page. Without a browser (AppTest, bare mode) a random token is kept in session state.

Guests cost nothing until they write. For a token with no stored session `current_user()`
returns an unsaved guest (`User.is_saved` is false; its id, 0, belongs to no row, so every
read finds nothing) and writes nothing. `stored_user()` saves it (a user and a session row for
this token) when there is something to keep, within a per-address limit.

When the cookie must change (sign-in, registration, single sign-on, sign-out, account
deletion, a guest saved by a browser that holds no cookie), a cookie ticket is issued and a
tiny trusted component (no user data, only the ticket) posts it to the server, which sets the
cookie (`assistant.cookie_tickets`, server/ticket_route.py). Until the browser has redeemed it
(or it has expired) the ticket is offered again on every run.

The client address for per-client limits comes from the server (`client_key`), which alone
knows the connection and the trusted proxies.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
import streamlit.components.v2 as components
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.url_util import make_url_path

from assistant.accounts import SignedIn
from assistant.cookie_tickets import DEVICE_COOKIE, SESSION_COOKIE, TICKET_PATH, Cookies
from assistant.proxies import CLIENT_ADDRESS_HEADER
from assistant.store import User
from assistant.store.database import utc_now
from assistant.store.records import unsaved_guest
from assistant.tokens import looks_like_token, new_token
from ui import services, state

_TICKET_JS = """
const sent = new Set();
export default function (component) {
  const data = component.data || {};
  if (!data.ticket || sent.has(data.ticket)) return;
  sent.add(data.ticket);
  fetch(data.url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ticket: data.ticket }),
  }).catch(() => sent.delete(data.ticket));
}
"""
_ticket_poster = components.component("assistant_cookie_ticket", js=_TICKET_JS)


@dataclass(frozen=True, slots=True)
class _Pending:
    ticket: str
    cookies: Cookies
    number: int  # names the component, so each ticket is a new element


def _cookie(name: str) -> str | None:
    try:
        value = st.context.cookies.get(name)
    except Exception:  # no browser behind this session (tests, bare mode)
        return None
    return value if looks_like_token(value) else None


def _browser_token() -> str | None:
    """The session cookie the browser holds: what its WebSocket carried, until a ticket this
    session handed over was redeemed."""
    if state.BROWSER_TOKEN not in st.session_state:
        st.session_state[state.BROWSER_TOKEN] = _cookie(SESSION_COOKIE)
    value = st.session_state[state.BROWSER_TOKEN]
    return value if isinstance(value, str) else None


def token() -> str:
    """This browser session's token: the cookie's, or a new one (kept for the session)."""
    value = st.session_state.get(state.TOKEN)
    if not looks_like_token(value):
        value = _browser_token() or new_token()
        st.session_state[state.TOKEN] = value
    return str(value)


def device_token() -> str | None:
    """The browser's device cookie (see `assistant.accounts`), newest first."""
    value = st.session_state.get(state.DEVICE_TOKEN)
    return value if looks_like_token(value) else _cookie(DEVICE_COOKIE)


def client_key() -> str:
    """Who is knocking, for per-client limits: the address the server resolved (behind
    trusted proxies only), else Streamlit's view of the connection, else this session."""
    try:
        forwarded = st.context.headers.get_all(CLIENT_ADDRESS_HEADER)
    except Exception:  # no browser behind this session
        forwarded = []
    if forwarded and forwarded[-1]:
        return f"ip:{forwarded[-1]}"
    address = st.context.ip_address
    if isinstance(address, str) and address:
        return f"ip:{address}"
    ctx = get_script_run_ctx()
    return f"session:{ctx.session_id}" if ctx else ""


def _show(user: User) -> User:
    """Make `user` the one this session shows; a different saved person starts a new chat."""
    before = st.session_state.get(state.USER_ID)
    if before not in (None, 0, user.id):
        state.new_chat()  # never show the previous user's conversation
    st.session_state[state.USER_ID] = user.id
    st.session_state[state.USER] = user
    return user


def _hand_over(cookies: Cookies) -> bool:
    """Have the browser's cookies set to `cookies`, through a ticket (module docstring);
    False when a pending ticket already carries them."""
    pending = st.session_state.get(state.COOKIE_TICKET)
    if isinstance(pending, _Pending) and pending.cookies == cookies:
        return False
    ticket = services.tickets().issue(cookies, bound_to=_browser_token())
    number = pending.number + 1 if isinstance(pending, _Pending) else 0
    st.session_state[state.COOKIE_TICKET] = _Pending(ticket, cookies, number)
    return True


def _adopt(signed: SignedIn) -> User:
    """After register, sign-in or single sign-on: this browser now belongs to that account,
    with a new session token (and a device token after a password)."""
    st.session_state[state.TOKEN] = signed.token
    if signed.device_token:
        st.session_state[state.DEVICE_TOKEN] = signed.device_token
    _hand_over(Cookies(signed.token, signed.device_token or device_token()))
    return _show(signed.user)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def current_user() -> User:
    """The signed-in user, this browser's saved guest, or an unsaved guest; checked against
    the database every run, and never written for a browser that has stored nothing."""
    accounts = services.accounts()
    session = token()
    user = accounts.current_user(session)
    if services.sso_configured() and st.user.is_logged_in and (user is None or user.is_guest):
        info = st.user.to_dict()
        signed = accounts.sign_in_with_oidc(
            str(info.get("iss", "")),
            str(info.get("sub", "")),
            _text(info.get("email")),
            _text(info.get("name")),
            guest_token=session,
        )
        return _adopt(signed)
    return _show(user or unsaved_guest(utc_now()))


def checked_user() -> User:
    """The user `current_user` found earlier in this run: app.py checks it before any page
    runs, so a page need not ask the database again (a read per run saved; under load each
    read costs far more than its query). Outside the app's navigation, checks it now."""
    user = st.session_state.get(state.USER)
    return user if isinstance(user, User) else current_user()


def stored_user() -> User:
    """The same person as `checked_user`, saved if they were not yet: call it before storing
    anything of theirs. Over the per-address limit on new guests: GuestLimitError."""
    user = checked_user()
    if user.is_saved:
        return user
    session = token()
    signed = services.accounts().start_guest(session, client_key=client_key())
    # A browser that came without a cookie gets this one now, not after the reply.
    if _browser_token() != session and _hand_over(Cookies(session, device_token())):
        deliver_cookies()
    return _show(signed.user)


def signed_in(signed: SignedIn) -> None:
    """After register or sign-in: this browser now belongs to that account."""
    _adopt(signed)


def sign_out() -> None:
    """End this session; the browser gets a fresh token and becomes an unsaved guest."""
    services.accounts().sign_out(token())
    fresh = new_token()
    st.session_state[state.TOKEN] = fresh
    for key in (state.USER, state.USER_ID):
        st.session_state.pop(key, None)
    state.new_chat()
    _hand_over(Cookies(fresh, device_token()))
    if services.sso_configured() and st.user.is_logged_in:
        st.logout()


def deliver_cookies() -> None:
    """Offer a pending cookie ticket to the browser until it has been redeemed.

    A few bytes, drawn only while a ticket is pending: the browser posts it once (the script
    remembers the tickets it sent) and the next run finds it redeemed and stops drawing it.
    A ticket that expired unredeemed is dropped: the browser keeps the cookie it had.
    """
    pending = st.session_state.get(state.COOKIE_TICKET)
    if not isinstance(pending, _Pending):
        return
    status = services.tickets().status(pending.ticket)
    if status == "redeemed":
        st.session_state[state.BROWSER_TOKEN] = pending.cookies.session
        del st.session_state[state.COOKIE_TICKET]
        return
    if status == "lost":  # never redeemed (the browser could not post it): stop offering it
        del st.session_state[state.COOKIE_TICKET]
        return
    url = make_url_path(str(st.get_option("server.baseUrlPath") or ""), TICKET_PATH)
    with st.sidebar:
        _ticket_poster(
            data={"ticket": pending.ticket, "url": url}, key=f"cookie_ticket_{pending.number}"
        )
