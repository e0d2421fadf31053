"""The History page's parts: conversation rows, search hits, exports, and what their buttons do.

Buttons that only change what is shown (start renaming, ask to confirm a delete) set state in a
callback. Buttons that change stored data act during the run (`if st.button(...)`) and then
`st.rerun()`, so the list drawn afterwards already reflects the change.

Exports are deferred downloads: Streamlit calls the builder when the user clicks, in its own
thread, so drawing a long history builds no files. Each builder is bound to the owner id when
the button is drawn; it never reads session state, which that thread does not have.

Titles and snippets are user or model text: titles go through `make_safe` before Markdown (no
outside images, no script links), snippets are drawn as plain text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from assistant.errors import AssistantError
from assistant.roles import builtin_roles
from assistant.safe_markdown import escape_markdown, make_safe
from assistant.store import Conversation, ConversationNotFoundError, Store
from assistant.store.conversations import MAX_TITLE_LENGTH
from ui import conversation, failures, flash, links, services, state

RENAMING, DELETING, SHOWN = state.HISTORY_RENAMING, state.HISTORY_DELETING, state.HISTORY_SHOWN
PAGE_SIZE = state.HISTORY_PAGE_SIZE
SEARCH_LIMIT = 50
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9]+")


def _set(key: str, value: Any) -> None:
    st.session_state[key] = value


def show_more() -> None:
    st.session_state[SHOWN] += PAGE_SIZE


# -- exports -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    """One export: what the button says, the file it saves, and how to build its contents."""

    label: str
    file_name: str
    mime: str
    build: Callable[[], str]


def export_filename(title: str, extension: str) -> str:
    """An ASCII file name from a title: letters, digits and dashes only, never empty."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    stem = _UNSAFE_NAME.sub("-", ascii_title).strip("-")[:60].rstrip("-")
    return f"{stem or 'conversation'}.{extension}"


def conversation_downloads(
    store: Store, owner_id: int, conversation: Conversation
) -> tuple[Download, Download]:
    cid = conversation.id
    return (
        Download(
            "Markdown",
            export_filename(conversation.title, "md"),
            "text/markdown",
            lambda: store.export_markdown(owner_id, cid),
        ),
        Download(
            "JSON",
            export_filename(conversation.title, "json"),
            "application/json",
            lambda: store.export_json(owner_id, cid),
        ),
    )


def all_messages_download(store: Store, owner_id: int) -> Download:
    return Download(
        "Download all messages (CSV)",
        "my-messages.csv",
        "text/csv",
        lambda: store.export_csv(owner_id),
    )


def draw_download(download: Download, key: str) -> None:
    st.download_button(
        make_safe(download.label),
        download.build,
        file_name=download.file_name,
        mime=download.mime,
        key=key,
        on_click="ignore",
        icon=":material/download:",
    )


# -- actions -------------------------------------------------------------------------------


def open_in_chat(store: Store, owner_id: int, conversation_id: str) -> None:
    """Load the conversation into the chat page and go there, its id kept in the URL."""
    if not conversation.open_conversation(services.current(), owner_id, conversation_id):
        failures.show(ConversationNotFoundError(), icon=":material/search_off:")
        return
    st.switch_page(links.CHAT, query_params={conversation.QUERY_KEY: conversation_id})


def rename(store: Store, owner_id: int, conversation_id: str, title: str) -> None:
    if not title.strip():
        st.error("A title needs at least one character.", icon=":material/edit_off:")
        return
    try:
        store.rename_conversation(owner_id, conversation_id, title)
    except AssistantError as exc:
        failures.show(exc, icon=":material/error:")
        return
    st.session_state[RENAMING] = ""
    st.rerun()


def delete(store: Store, owner_id: int, chat: Conversation) -> None:
    try:
        store.delete_conversation(owner_id, chat.id)
    except AssistantError as exc:
        failures.show(exc, icon=":material/error:")
        return
    if st.session_state[state.CONVERSATION_ID] == chat.id:
        state.new_chat()  # the chat page must not keep showing what no longer exists
    st.session_state[DELETING] = ""
    flash.remember(f"Deleted “{escape_markdown(chat.title)}”.")
    st.rerun()


# -- drawing -------------------------------------------------------------------------------


def _zone() -> tzinfo:
    name = st.context.timezone  # the browser's zone; None in tests and old browsers
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def local_time(moment: datetime) -> str:
    zone = _zone()
    text = moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return f"{text} UTC" if zone is UTC else text


def role_labels(store: Store, owner_id: int) -> dict[str, str]:
    """Role id -> label for the built-in roles and the user's own (made safe for Markdown)."""
    labels = {role_id: role.label for role_id, role in builtin_roles().items()}
    labels.update({role.role_id: f"{role.icon} {role.name}" for role in store.list_roles(owner_id)})
    return {role_id: make_safe(label) for role_id, label in labels.items()}


def _draw_rename_form(store: Store, owner_id: int, chat: Conversation) -> None:
    with st.form(f"rename_form_{chat.id}"):
        title = st.text_input("New title", value=chat.title, max_chars=MAX_TITLE_LENGTH)
        save, cancel = st.columns(2)
        saved = save.form_submit_button("Save", type="primary", icon=":material/check:")
        cancel.form_submit_button("Cancel", on_click=_set, args=(RENAMING, ""))
    if saved:
        rename(store, owner_id, chat.id, title)


def _draw_delete_confirmation(store: Store, owner_id: int, chat: Conversation) -> None:
    st.warning(
        f"Delete “{escape_markdown(chat.title)}” and all its messages? This cannot be undone.",
        icon=":material/warning:",
    )
    confirm, cancel = st.columns(2)
    if confirm.button("Confirm delete", key=f"confirm_delete_{chat.id}", type="primary"):
        delete(store, owner_id, chat)
    cancel.button("Cancel", key=f"cancel_delete_{chat.id}", on_click=_set, args=(DELETING, ""))


def draw_row(
    store: Store, owner_id: int, chat: Conversation, role_labels: Mapping[str, str]
) -> None:
    """One conversation: title, role and time, then its buttons (or the step in progress)."""
    with st.container(border=True):
        if st.session_state[RENAMING] == chat.id:
            _draw_rename_form(store, owner_id, chat)
        else:
            st.markdown(f"**{escape_markdown(chat.title)}**")
        role = role_labels.get(chat.role_id, "A deleted role")
        st.caption(f"{make_safe(role)} · updated {local_time(chat.updated_at)}")
        if st.session_state[DELETING] == chat.id:
            _draw_delete_confirmation(store, owner_id, chat)
            return
        open_, rename_, delete_, export = st.columns(4)
        if open_.button("Open", key=f"open_{chat.id}", icon=":material/open_in_new:"):
            open_in_chat(store, owner_id, chat.id)
        rename_.button(
            "Rename",
            key=f"rename_{chat.id}",
            icon=":material/edit:",
            on_click=_set,
            args=(RENAMING, chat.id),
        )
        delete_.button(
            "Delete",
            key=f"delete_{chat.id}",
            icon=":material/delete:",
            on_click=_set,
            args=(DELETING, chat.id),
        )
        with export.popover("Export", icon=":material/ios_share:"):
            markdown, json = conversation_downloads(store, owner_id, chat)
            draw_download(markdown, f"markdown_{chat.id}")
            draw_download(json, f"json_{chat.id}")


def draw_search(store: Store, owner_id: int, query: str) -> None:
    """Matches in the user's own messages, newest first, each with a way into its chat."""
    try:
        hits = store.search(owner_id, query, limit=SEARCH_LIMIT)
    except AssistantError as exc:
        failures.show(exc, icon=":material/error:")
        return
    if not hits:
        st.caption("No messages match.")
        return
    more = " (the newest shown)" if len(hits) == SEARCH_LIMIT else ""
    st.caption(f"{len(hits)} {'match' if len(hits) == 1 else 'matches'}{more}")
    for hit in hits:
        with st.container(border=True):
            speaker = "You" if hit.role == "user" else "Assistant"
            st.markdown(f"**{escape_markdown(hit.conversation_title)}** · {speaker}")
            st.text(hit.snippet)
            if st.button("Open", key=f"hit_{hit.message_id}", icon=":material/open_in_new:"):
                open_in_chat(store, owner_id, hit.conversation_id)
