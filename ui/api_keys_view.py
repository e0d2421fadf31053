"""The Account page's API keys: make one (shown once), see them, revoke them.

A new key's token is drawn only in the run that made it: it is kept in no session state, so
the next click, refresh or page switch loses it for good (the database keeps only its hash).
Making and revoking act during the run (`if st.button(...)`); asking to confirm a revoke only
sets state in a callback, as on the History page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import streamlit as st

from assistant.api_keys import MAX_LABEL, ApiKeyRecord, ApiKeys, NewApiKey
from assistant.errors import AssistantError
from assistant.safe_markdown import make_safe, sentence
from assistant.store import User
from ui import flash, state
from ui.history_view import local_time

REVOKING = state.API_KEY_REVOKING
API_DOCS = "docs/api.md"


def api_base_url() -> str:
    """The address an OpenAI client is given: this app's, with /api/v1."""
    url = st.context.url
    origin = "http://localhost:8501"
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"{origin}/{base + '/' if base else ''}api/v1"


def _set_revoking(key_id: str) -> None:
    st.session_state[REVOKING] = key_id


def _show_new(made: NewApiKey) -> None:
    st.success(
        f"Your key **{make_safe(made.key.label)}** is ready. Copy it now: it is shown only "
        "this once.",
        icon=":material/key:",
    )
    st.code(made.token, language=None)
    st.code(
        "from openai import OpenAI\n\n"
        f'client = OpenAI(base_url="{api_base_url()}", api_key="{made.token}")\n'
        'reply = client.chat.completions.create(model="gadget", messages=[\n'
        '    {"role": "user", "content": "My phone battery drains fast"}])\n'
        "print(reply.choices[0].message.content)",
        language="python",
    )


def _create_form(keys: ApiKeys, user: User) -> None:
    with st.form("api_key_create", clear_on_submit=True):
        label = st.text_input(
            "Name", max_chars=MAX_LABEL, placeholder="e.g. laptop script, phone app"
        )
        submitted = st.form_submit_button("Create key", icon=":material/add:")
    if not submitted:
        return
    try:
        made = keys.create(user, label)
    except AssistantError as exc:
        st.error(sentence(exc), icon=":material/block:")
        return
    _show_new(made)


def _revoke(keys: ApiKeys, user: User, key: ApiKeyRecord) -> None:
    try:
        keys.revoke(user.id, key.id)
    except AssistantError as exc:
        st.error(sentence(exc), icon=":material/block:")
        return
    st.session_state[REVOKING] = ""
    flash.remember(f"Revoked the key “{make_safe(key.label)}”. It stops working at once.")
    st.rerun()


def _draw_key(keys: ApiKeys, user: User, key: ApiKeyRecord) -> None:
    with st.container(border=True):
        st.markdown(f"**{make_safe(key.label)}** · `mra_{make_safe(key.id)}_…`")
        used = f"last used {local_time(key.last_used_at)}" if key.last_used_at else "never used"
        st.caption(f"Created {local_time(key.created_at)} · {used}")
        if st.session_state[REVOKING] != key.id:
            st.button(
                "Revoke",
                key=f"revoke_key_{key.id}",
                icon=":material/key_off:",
                on_click=_set_revoking,
                args=(key.id,),
            )
            return
        st.warning("Programs using this key will stop working at once.", icon=":material/warning:")
        confirm, cancel = st.columns(2)
        if confirm.button("Confirm revoke", key=f"confirm_revoke_{key.id}", type="primary"):
            _revoke(keys, user, key)
        cancel.button("Cancel", key=f"cancel_revoke_{key.id}", on_click=_set_revoking, args=("",))


def draw(keys: ApiKeys, user: User) -> None:
    """The section for a signed-in user (guests have no keys)."""
    st.subheader("API keys")
    address = make_safe(api_base_url())  # from the browser's own address bar
    st.write(
        "Reach this assistant, its roles and your history from scripts, apps and any tool "
        f"that speaks the OpenAI chat API, at `{address}`. Conversations made with a key "
        f"appear in your History. See {API_DOCS} in the project for the details."
    )
    _create_form(keys, user)
    try:
        active = [key for key in keys.list(user.id) if key.active]
    except AssistantError as exc:
        st.error(sentence(exc), icon=":material/cloud_off:")
        return
    if not active:
        st.caption("You have no API keys.")
    for key in active:
        _draw_key(keys, user, key)


__all__ = ["api_base_url", "draw"]
