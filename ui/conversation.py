"""The stored conversation behind the chat page: open it, load it, keep its id in the URL.

The transcript in session state is a view of the database: every message is written there
first (see `assistant.turns`). After a refresh the `c` query parameter names the conversation
and it is loaded again; access is always scoped to the current user by the store.
"""

from __future__ import annotations

import sys

import streamlit as st

from assistant.errors import AssistantError
from assistant.events import Usage
from assistant.images import PreparedImage
from assistant.reply import Reply
from assistant.roles import Role, builtin_roles, role_from_mapping
from assistant.store import Message, Store, User
from assistant.store.records import CustomRole
from ui import state
from ui.state import ChatMessage

QUERY_KEY = "c"


def _images(store: Store, owner_id: int, message: Message) -> tuple[PreparedImage, ...]:
    if not message.images:
        return ()
    images = []
    for ref in message.images:
        found = store.image_bytes(owner_id, ref.sha256)
        if found is not None:
            data, mime = found
            images.append(PreparedImage(data, mime, ref.width, ref.height, ref.sha256))
    return tuple(images)


def _reply(message: Message, had_images: bool) -> Reply:
    reason = ""
    if message.model and message.requested_model and message.model != message.requested_model:
        reason = "vision" if had_images else "fallback"
    usage = None
    if message.prompt_tokens is not None or message.completion_tokens is not None:
        usage = Usage(
            prompt_tokens=message.prompt_tokens or 0,
            completion_tokens=message.completion_tokens or 0,
            total_tokens=(message.prompt_tokens or 0) + (message.completion_tokens or 0),
            cost=message.cost,
        )
    return Reply(
        text=message.text,
        reasoning=message.reasoning,
        # Interned: every reply in a session repeats the same few model names.
        model=sys.intern(message.model or ""),
        requested_model=sys.intern(message.requested_model or ""),
        model_reason=reason,
        usage=usage,
        status=message.status,
        error=message.error or "",
    )


def to_chat_messages(
    store: Store, owner_id: int, messages: tuple[Message, ...]
) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for message in messages:
        if message.role == "user":
            out.append(
                ChatMessage("user", message.text, _images(store, owner_id, message), id=message.id)
            )
        else:
            had_images = bool(out and out[-1].images)
            reply = _reply(message, had_images)
            out.append(ChatMessage("assistant", message.text, reply=reply, id=message.id))
    return out


def open_conversation(store: Store, owner_id: int, conversation_id: str) -> bool:
    """Make `conversation_id` the chat page's conversation; False if it is not this user's."""
    try:
        detail = store.get_conversation(owner_id, conversation_id)
    except AssistantError:
        return False
    state.new_chat()
    st.session_state[state.MESSAGES] = to_chat_messages(store, owner_id, detail.messages)
    st.session_state[state.CONVERSATION_ID] = conversation_id
    st.session_state[state.ROLE_ID] = detail.conversation.role_id
    st.query_params[QUERY_KEY] = conversation_id
    return True


def restore_from_url(store: Store, owner_id: int) -> None:
    """After a refresh: reload the conversation the URL names, if it is this user's."""
    wanted = st.query_params.get(QUERY_KEY, "")
    if not wanted or wanted == st.session_state[state.CONVERSATION_ID]:
        return
    if not open_conversation(store, owner_id, wanted):
        st.query_params.pop(QUERY_KEY, None)


def remember(conversation_id: str) -> None:
    st.session_state[state.CONVERSATION_ID] = conversation_id
    if st.query_params.get(QUERY_KEY) != conversation_id:
        st.query_params[QUERY_KEY] = conversation_id


def custom_role(role: CustomRole) -> Role:
    return role_from_mapping(
        {
            "id": role.role_id,
            "name": role.name,
            "icon": role.icon,
            "description": role.description or "Your own role.",
            "system_prompt": role.system_prompt,
            "starters": list(role.starters),
            "temperature": role.temperature,
            "order": 1000,
        },
        custom=True,
    )


def available_roles(store: Store, user: User) -> dict[str, Role]:
    """Built-in roles, then the user's own, used exactly alike. Guests cannot have roles of
    their own, so their runs skip the query."""
    roles = dict(builtin_roles())
    if user.is_guest:
        return roles
    for stored in store.list_roles(user.id):
        role = custom_role(stored)
        roles[role.id] = role
    return roles
