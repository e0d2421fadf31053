"""Who is using this browser session: a guest at first, an account after signing in.

The session token lives in a first-party cookie so a refresh (or a new tab) finds the same
user and conversation. Streamlit reads cookies (`st.context.cookies`) but cannot set them, so a
few lines of trusted JavaScript (a v2 component, no user data in it) write the cookie. The
token is random and only its hash is stored server-side; the cookie is SameSite=Strict and
Secure on https. JavaScript can read it, which is the price of Streamlit having no server-side
cookie API; the app renders no HTML from users or models, which is what would expose it.
"""

from __future__ import annotations

import streamlit as st
import streamlit.components.v2 as components

from assistant.accounts import SignedIn
from assistant.store import User
from ui import services, state

COOKIE = "assistant_session"
COOKIE_MAX_AGE = 30 * 24 * 3600  # matches the accounts' idle expiry

_COOKIE_JS = """
export default function (component) {
  const data = component.data || {};
  if (!data.name) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  const value = data.value ? encodeURIComponent(data.value) : "";
  const age = data.value ? data.max_age : 0;
  document.cookie = `${data.name}=${value}; Path=/; Max-Age=${age}; SameSite=Strict${secure}`;
}
"""
_cookie_writer = components.component("assistant_session_cookie", js=_COOKIE_JS)


def _adopt(signed: SignedIn) -> User:
    if st.session_state.get(state.USER_ID) not in (None, signed.user.id):
        state.new_chat()  # a different person: never show the previous user's conversation
    st.session_state[state.TOKEN] = signed.token
    st.session_state[state.USER_ID] = signed.user.id
    st.session_state[state.USER] = signed.user
    return signed.user


def _cookie() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # no browser behind this session (tests, bare mode)
        return None
    return value if isinstance(value, str) and value else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def current_user() -> User:
    """The signed-in user or this browser's guest, checked against the database every run."""
    accounts = services.accounts()
    token = st.session_state.get(state.TOKEN) or _cookie()
    user = accounts.current_user(token) if token else None
    if user is None or token is None:
        return _adopt(accounts.start_guest())
    if services.sso_configured() and st.user.is_logged_in and user.is_guest:
        info = st.user.to_dict()
        signed = accounts.sign_in_with_oidc(
            str(info.get("iss", "")),
            str(info.get("sub", "")),
            _text(info.get("email")),
            _text(info.get("name")),
            guest_token=token,
        )
        return _adopt(signed)
    return _adopt(SignedIn(user, token))


def checked_user() -> User:
    """The user `current_user` found earlier in this run: app.py checks it before any page
    runs, so a page need not ask the database again (a read per run saved; under load each
    read costs far more than its query). Outside the app's navigation, checks it now."""
    user = st.session_state.get(state.USER)
    return user if isinstance(user, User) else current_user()


def stored_user() -> User:
    """The user `checked_user` finds, saved in the database (a guest's row exists already)."""
    return checked_user()


def signed_in(signed: SignedIn) -> None:
    """After register or sign-in: this browser now belongs to that account."""
    _adopt(signed)


def sign_out() -> None:
    token = st.session_state.get(state.TOKEN)
    if token:
        services.accounts().sign_out(token)
    for key in (state.TOKEN, state.USER, state.USER_ID):
        st.session_state.pop(key, None)
    state.new_chat()
    if services.sso_configured() and st.user.is_logged_in:
        st.logout()


def write_cookie() -> None:
    """Keep the browser's cookie equal to this session's token (idempotent, a few bytes).

    Nothing is drawn when the browser connected with this very cookie, as returning visitors
    do: the writer is a stateful element that would cost the session memory and every run
    time. `st.context.cookies` is what the browser sent when it connected, so after a sign-in,
    a sign-out or a new guest the writer stays until the next page load brings the new cookie.
    """
    token = st.session_state.get(state.TOKEN, "")
    if token and _cookie() == token:
        return
    with st.sidebar:
        _cookie_writer(
            data={"name": COOKIE, "value": token, "max_age": COOKIE_MAX_AGE},
            key="session_cookie",
        )
