"""The stored conversation behind the chat page: open it, load it, keep its id in the URL.

The transcript in session state is a view of the database: every message is written there
first (see `assistant.turns`). After a refresh the `c` query parameter names the conversation
and it is loaded again; a new tab opens the person's latest conversation. Access is always
scoped to the current user by the store.
"""

from __future__ import annotations

import streamlit as st

from assistant.errors import AssistantError
from assistant.images import PreparedImage
from assistant.reply import Reply
from assistant.services import Services
from assistant.store import ConversationDetail, Message, Store, User
from assistant.upkeep import STALE_AFTER
from ui import state
from ui.state import ChatMessage

QUERY_KEY = "c"
_LATEST_CHECKED = "latest_conversation_checked"


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


def to_chat_messages(store: Store, owner_id: int, detail: ConversationDetail) -> list[ChatMessage]:
    """The conversation's shown branch as the page draws it; replies exactly as stored."""
    out: list[ChatMessage] = []
    for message in detail.messages:
        versions = detail.versions.get(message.id, ())
        if message.role == "user":
            images = _images(store, owner_id, message)
            out.append(ChatMessage("user", message.text, images, id=message.id, versions=versions))
        else:
            out.append(
                ChatMessage(
                    "assistant",
                    message.text,
                    reply=Reply.from_message(message),
                    id=message.id,
                    feedback=message.feedback,
                    versions=versions,
                )
            )
    return out


def _read(app: Services, owner_id: int, conversation_id: str) -> ConversationDetail | None:
    """The conversation, after marking interrupted any reply of it still "streaming" that no
    process is producing any more (its heartbeat stopped), so none looks alive for good."""
    store = app.store
    try:
        detail = store.get_conversation(owner_id, conversation_id)
        stale = [
            m
            for m in detail.messages
            if m.is_streaming and app.replies.find(owner_id, m.id) is None
        ]
        if stale and store.recover_stale_replies(
            STALE_AFTER, owner_id=owner_id, conversation_id=conversation_id
        ):
            detail = store.get_conversation(owner_id, conversation_id)
    except AssistantError:
        return None
    return detail


def load(app: Services, owner_id: int, conversation_id: str) -> bool:
    """Show `conversation_id` again, as stored; False if it is not this user's."""
    detail = _read(app, owner_id, conversation_id)
    if detail is None:
        return False
    st.session_state[state.MESSAGES] = to_chat_messages(app.store, owner_id, detail)
    st.session_state[state.CONVERSATION_ID] = conversation_id
    return True


def open_conversation(app: Services, owner_id: int, conversation_id: str) -> bool:
    """Make `conversation_id` the chat page's conversation, with the role and model it last
    used; False if it is not this user's."""
    detail = _read(app, owner_id, conversation_id)
    if detail is None:
        return False
    state.new_chat()
    st.session_state[state.MESSAGES] = to_chat_messages(app.store, owner_id, detail)
    st.session_state[state.CONVERSATION_ID] = conversation_id
    st.session_state[state.ROLE_ID] = detail.conversation.role_id
    st.session_state[state.MODEL_ID] = detail.conversation.model
    st.session_state.pop(state.MODEL_PICKER, None)
    st.query_params[QUERY_KEY] = conversation_id
    return True


def restore(app: Services, user: User) -> None:
    """Show what the URL names (after a refresh, or a link); a new tab with no conversation in
    its URL shows the person's latest conversation."""
    wanted = st.query_params.get(QUERY_KEY, "")
    if wanted:
        if wanted != st.session_state[state.CONVERSATION_ID] and not open_conversation(
            app, user.id, wanted
        ):
            st.query_params.pop(QUERY_KEY, None)
        return
    if st.session_state.get(_LATEST_CHECKED):
        return
    st.session_state[_LATEST_CHECKED] = True  # an unsaved guest has none: checked too
    if not user.is_saved or st.session_state[state.CONVERSATION_ID] or state.messages():
        return
    latest = app.store.list_conversations(user.id, limit=1)
    if latest:
        open_conversation(app, user.id, latest[0].id)


def remember(conversation_id: str) -> None:
    st.session_state[state.CONVERSATION_ID] = conversation_id
    if st.query_params.get(QUERY_KEY) != conversation_id:
        st.query_params[QUERY_KEY] = conversation_id
