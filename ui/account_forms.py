"""The Account page's forms: register, sign in, change password, sign out, delete the account.

Every failure shows the sentence of the error the core raised (`str(exc)`), nothing else: sign-in
says "incorrect" the same way whether or not the account exists, and throttling says how long
to wait. A success that changes who this browser is (register, sign in, sign out, delete) ends
with `st.rerun()`, so the whole page is drawn again for the new user, with the outcome kept in
`flash` for that run; the new session cookie reaches the browser through `identity`.

Throttling counts failures per account and per client address (`identity.client_key`, resolved
by the server behind trusted proxies only); a browser that signed in to the account before
presents its device cookie (`identity.device_token`) and is judged by its own failures alone.
Text fields are capped in the browser a little above what the server accepts, so an over-long
value reaches the server's check (and its sentence) instead of being cut silently.
"""

from __future__ import annotations

import streamlit as st

from assistant.accounts import SignedIn
from assistant.credentials import FIELD_CHARS
from assistant.errors import AssistantError
from assistant.safe_markdown import make_safe
from assistant.store import User
from ui import failures, flash, identity, services

MISMATCH = "The two passwords do not match."
USERNAME_CHARS = FIELD_CHARS["username"]
PASSWORD_CHARS = FIELD_CHARS["password"]
#: The confirmation phrase box: the longest phrase is a username or "delete my account".
PHRASE_CHARS = FIELD_CHARS["username"]
#: The Account page's "Delete account" section (an expander that remembers being open).
DELETE_SECTION = "delete_account_open"


def has_password(user: User) -> bool:
    """Accounts made by registering have a username and a password; single sign-on ones neither."""
    return user.username is not None


def _welcome(signed: SignedIn, sentence: str) -> None:
    identity.signed_in(signed)
    flash.remember(sentence)
    st.rerun()


def sign_in_form() -> None:
    with st.form("sign_in"):
        username = st.text_input("Username", autocomplete="username", max_chars=USERNAME_CHARS)
        password = st.text_input(
            "Password",
            type="password",
            autocomplete="current-password",
            max_chars=PASSWORD_CHARS,
        )
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if not submitted:
        return
    try:
        signed = services.accounts().sign_in(
            username,
            password,
            client_key=identity.client_key(),
            guest_token=identity.token(),
            device_token=identity.device_token(),
        )
    except AssistantError as exc:
        failures.show(exc, icon=":material/lock:")
        return
    _welcome(signed, f"Welcome back, {make_safe(signed.user.label)}.")


def register_form() -> None:
    with st.form("register"):
        username = st.text_input("Username", autocomplete="username", max_chars=USERNAME_CHARS)
        password = st.text_input(
            "Password",
            type="password",
            autocomplete="new-password",
            max_chars=PASSWORD_CHARS,
            help="At least 8 characters; a few unrelated words make a strong one.",
        )
        confirm = st.text_input(
            "Confirm password",
            type="password",
            autocomplete="new-password",
            max_chars=PASSWORD_CHARS,
        )
        submitted = st.form_submit_button(
            "Create account", type="primary", icon=":material/person_add:"
        )
    if not submitted:
        return
    if password != confirm:
        st.error(MISMATCH, icon=":material/password:")
        return
    try:
        signed = services.accounts().register(username, password, guest_token=identity.token())
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
            "Current password",
            type="password",
            autocomplete="current-password",
            max_chars=PASSWORD_CHARS,
        )
        new = st.text_input(
            "New password",
            type="password",
            autocomplete="new-password",
            max_chars=PASSWORD_CHARS,
        )
        confirm = st.text_input(
            "Confirm new password",
            type="password",
            autocomplete="new-password",
            max_chars=PASSWORD_CHARS,
        )
        submitted = st.form_submit_button("Change password", icon=":material/password:")
    if not submitted:
        return
    if new != confirm:
        st.error(MISMATCH, icon=":material/password:")
        return
    try:
        services.accounts().change_password(
            identity.token(),
            current,
            new,
            client_key=identity.client_key(),
            device_token=identity.device_token(),
        )
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
        typed = st.text_input(f"Type `{shown}` to confirm", max_chars=PHRASE_CHARS)
        password = ""
        if has_password(user):
            password = st.text_input(
                "Password",
                type="password",
                autocomplete="current-password",
                max_chars=PASSWORD_CHARS,
            )
        submitted = st.form_submit_button(
            "Delete my account", type="primary", icon=":material/delete_forever:"
        )
    if not submitted:
        return
    if typed.strip() != phrase:
        st.error(f"Type {shown} exactly to confirm.", icon=":material/block:")
        return
    try:
        services.accounts().delete_account(
            identity.token(),
            password,
            client_key=identity.client_key(),
            device_token=identity.device_token(),
        )
    except AssistantError as exc:
        failures.show(exc, icon=":material/lock:")
        return
    identity.sign_out()
    flash.remember("Your account and everything in it were deleted.", "info")
    st.rerun()
