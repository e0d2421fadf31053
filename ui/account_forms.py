"""The Account page's forms: register, sign in, change password, sign out, delete the account.

Every failure shows the sentence of the error the core raised (`str(exc)`), nothing else: sign-in
says "incorrect" the same way whether or not the account exists, and throttling says how long
to wait. A success that changes who this browser is (register, sign in, sign out, delete) ends
with `st.rerun()`, so the whole page is drawn again for the new user, with the outcome kept in
`flash` for that run.

Throttling needs a client key besides the account. `client_key()` uses the connection's IP
address when Streamlit knows it, else this browser session's id. The core hashes the key before
storing it. The session id alone would be weak (a new tab is a new session), the IP alone is
missing on localhost; behind a reverse proxy Streamlit sees the proxy's address, so all its
users share one client budget (20 free failures an hour, then a growing wait, never a lockout);
per-account throttling is unaffected either way.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from assistant.accounts import SignedIn
from assistant.errors import AssistantError
from assistant.safe_markdown import make_safe
from assistant.store import User
from ui import failures, flash, identity, services, state

MISMATCH = "The two passwords do not match."


def client_key() -> str:
    """Who is knocking, for the per-client throttle (see the module docstring)."""
    address = st.context.ip_address
    if isinstance(address, str) and address:
        return f"ip:{address}"
    ctx = get_script_run_ctx()
    return f"session:{ctx.session_id}" if ctx else ""


def _token() -> str:
    return str(st.session_state.get(state.TOKEN) or "")


def has_password(user: User) -> bool:
    """Accounts made by registering have a username and a password; single sign-on ones neither."""
    return user.username is not None


def _welcome(signed: SignedIn, sentence: str) -> None:
    identity.signed_in(signed)
    flash.remember(sentence)
    st.rerun()


def sign_in_form() -> None:
    with st.form("sign_in"):
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if not submitted:
        return
    try:
        signed = services.accounts().sign_in(
            username, password, client_key=client_key(), guest_token=_token()
        )
    except AssistantError as exc:
        failures.show(exc, icon=":material/lock:")
        return
    _welcome(signed, f"Welcome back, {make_safe(signed.user.label)}.")


def register_form() -> None:
    with st.form("register"):
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input(
            "Password",
            type="password",
            autocomplete="new-password",
            help="At least 8 characters; a few unrelated words make a strong one.",
        )
        confirm = st.text_input("Confirm password", type="password", autocomplete="new-password")
        submitted = st.form_submit_button(
            "Create account", type="primary", icon=":material/person_add:"
        )
    if not submitted:
        return
    if password != confirm:
        st.error(MISMATCH, icon=":material/password:")
        return
    try:
        signed = services.accounts().register(username, password, guest_token=_token())
    except AssistantError as exc:
        failures.show(exc, icon=":material/person_off:")
        return
    name = make_safe(signed.user.label)
    _welcome(signed, f"Your account {name} is ready, and your conversations are in it.")


def single_sign_on_button() -> None:
    """Offered only when `[auth]` is configured; `identity.current_user` adopts the result."""
    st.button(
        "Sign in with single sign-on",
        icon=":material/key:",
        on_click=st.login,  # the OpenID Connect redirect; nothing else to do in the callback
    )


def change_password_form() -> None:
    with st.form("change_password", clear_on_submit=True):
        current = st.text_input(
            "Current password", type="password", autocomplete="current-password"
        )
        new = st.text_input("New password", type="password", autocomplete="new-password")
        confirm = st.text_input(
            "Confirm new password", type="password", autocomplete="new-password"
        )
        submitted = st.form_submit_button("Change password", icon=":material/password:")
    if not submitted:
        return
    if new != confirm:
        st.error(MISMATCH, icon=":material/password:")
        return
    try:
        services.accounts().change_password(_token(), current, new, client_key=client_key())
    except AssistantError as exc:
        failures.show(exc, icon=":material/lock:")
        return
    st.success(
        "Your password was changed. Every other session of this account was signed out.",
        icon=":material/check_circle:",
    )


def sign_out_button() -> None:
    if st.button("Sign out", icon=":material/logout:"):
        identity.sign_out()
        flash.remember("You are signed out. You are chatting as a guest again.", "info")
        st.rerun()


def confirmation_phrase(user: User) -> str:
    return user.username or "delete my account"


def delete_account_form(user: User) -> None:
    phrase = confirmation_phrase(user)
    shown = make_safe(phrase)  # a username may hold * or _
    st.warning(
        "This deletes your account with every conversation, message, image and role in it. "
        "It cannot be undone.",
        icon=":material/warning:",
    )
    with st.form("delete_account", clear_on_submit=True):
        typed = st.text_input(f"Type `{shown}` to confirm")
        password = ""
        if has_password(user):
            password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button(
            "Delete my account", type="primary", icon=":material/delete_forever:"
        )
    if not submitted:
        return
    if typed.strip() != phrase:
        st.error(f"Type {shown} exactly to confirm.", icon=":material/block:")
        return
    try:
        services.accounts().delete_account(_token(), password, client_key=client_key())
    except AssistantError as exc:
        failures.show(exc, icon=":material/lock:")
        return
    identity.sign_out()
    flash.remember("Your account and everything in it were deleted.", "info")
    st.rerun()
