"""The chat page's choices: New chat and the conversation list in the sidebar, the role and
model pickers above the conversation, and the image uploader.

The conversation list is made of page links (`?c=<id>`), not buttons: links keep no widget
state, so a long list costs an idle session nothing. It is read from the store once per
session and again when this session changes it (a new conversation, a finished first reply
that may have brought a title).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from assistant.catalogue import ModelInfo
from assistant.chat import Assistant
from assistant.errors import AssistantError
from assistant.limits import MAX_IMAGES_PER_MESSAGE
from assistant.roles import DEFAULT_ROLE_ID, Role
from assistant.safe_markdown import escape_markdown, make_safe, sentence
from assistant.store import Conversation, Store, User
from ui import links, state
from ui.uploads import IMAGE_TYPES, prepare_uploads

LISTED = 30  # conversations in the sidebar; the rest are on the History page
MAX_MODEL_ID = 200


@dataclass(frozen=True)
class ChatList:
    """The sidebar's conversations as last read, and whose they were."""

    owner_id: int
    chats: tuple[Conversation, ...]


def current_role(roles: dict[str, Role]) -> Role:
    """The role the picker shows (its widget state is set before the run starts)."""
    if st.session_state[state.ROLE_ID] not in roles:
        st.session_state[state.ROLE_ID] = DEFAULT_ROLE_ID
    return roles[st.session_state[state.ROLE_ID]]


def current_model(assistant: Assistant) -> str:
    """The model the picker shows: the one picked in this run's widget state, else the last one
    used, else the default. A model the catalogue does not list is kept when there is no
    catalogue to check it against (it was typed in)."""
    known = assistant.catalogue.models()
    for candidate in (
        st.session_state.get(state.MODEL_PICKER),
        st.session_state.get(state.MODEL_TYPED),
        st.session_state[state.MODEL_ID],
    ):
        if not isinstance(candidate, str) or not candidate.strip():
            continue
        if not known or assistant.catalogue.get(candidate) is not None:
            return candidate.strip()
    return assistant.default_model


def current_choice(assistant: Assistant, roles: dict[str, Role]) -> tuple[Role, str]:
    """Role and model for this run without drawing anything, so a message can be sent before
    the page is drawn; `draw_pickers` then shows the same choice."""
    return current_role(roles), current_model(assistant)


def remember_choice(store: Store, user: User, role: Role, model: str) -> None:
    """Keep a changed role or model with the conversation, so a refresh or another device
    finds the same choice."""
    conversation_id = st.session_state[state.CONVERSATION_ID]
    chosen = (role.id, model)
    if not conversation_id or st.session_state.get(_CHOSEN) == (conversation_id, *chosen):
        return
    previous = st.session_state.get(_CHOSEN)
    st.session_state[_CHOSEN] = (conversation_id, *chosen)
    if previous is None or previous[0] != conversation_id:
        return  # the choice came with the conversation: nothing changed
    try:
        store.set_conversation_choice(user.id, conversation_id, role.id, model)
    except AssistantError as exc:
        state.notify(str(exc))


_CHOSEN = "chosen_for_conversation"


# -- pickers above the conversation --------------------------------------------------------------


def draw_pickers(assistant: Assistant, roles: dict[str, Role]) -> None:
    with st.container(horizontal=True, gap="small", vertical_alignment="bottom"):
        current_role(roles)
        st.selectbox(
            "Role",
            list(roles),
            format_func=lambda rid: make_safe(roles[rid].label),
            key=state.ROLE_ID,
            width=260,
        )
        choose_model(assistant)


def _model_label(info: ModelInfo) -> str:
    eye = "🖼 " if info.reads_images else ""
    return f"{eye}{info.name} · {info.price_label(short=True)}"


def choose_model(assistant: Assistant) -> str:
    """The model menu. Its list (hundreds of models from the catalogue) is built and sent only
    while the menu is open: drawn on every run, it cost every session its options in memory and
    every rerun its labels on the wire."""
    current = current_model(assistant)
    menu = st.popover(
        f"Model: {make_safe(current)}",
        icon=":material/tune:",
        on_change="rerun",
        key=state.MODEL_MENU,
        help="Pick the model that answers",
    )
    choice = current
    if menu.open:
        with menu:
            choice = _model_list(assistant, current)
    st.session_state[state.MODEL_ID] = choice
    return choice


def _model_list(assistant: Assistant, current: str) -> str:
    catalogue = assistant.catalogue
    models = catalogue.models()
    if not models:
        if catalogue.loading and catalogue.last_error is None:
            why = "The model list is still loading"
        else:
            why = "The model list could not be loaded from the server"
        st.caption(f"{why}, so any model id can be typed here (as the server names it).")
        typed = st.text_input(
            "Model id", value=current, key=state.MODEL_TYPED, max_chars=MAX_MODEL_ID
        )
        return typed.strip() or assistant.default_model
    default = assistant.default_model
    only_free = st.toggle("Free models only", key="only_free")
    only_images = st.toggle("Reads images", key="only_images", help="🖼 marks these")
    shown = [
        m for m in models if (not only_free or m.is_free) and (not only_images or m.reads_images)
    ]
    if not shown:
        wanted = " and ".join(
            what for what, on in (("free", only_free), ("able to read images", only_images)) if on
        )
        st.info(f"No model on this server is {wanted}. Turn a filter off to see the others.")
        return current
    ids = [m.id for m in shown]
    by_id = {m.id: m for m in models}
    if default not in ids and not (only_free or only_images):
        ids.insert(0, default)
    if current not in ids:
        current = ids[0]
    choice = st.selectbox(
        "Model (type to search)",
        ids,
        index=ids.index(current),
        format_func=lambda mid: _model_label(by_id[mid]) if mid in by_id else mid,
        key=state.MODEL_PICKER,
    )
    chosen = by_id.get(str(choice))
    if chosen is not None:
        what = "reads images" if chosen.reads_images else "text only"
        st.caption(
            make_safe(
                f"`{chosen.id}` · {chosen.price_label()} · "
                f"{chosen.context_length:,} tokens of context · {what}"
            )
        )
    return str(choice)


# -- the sidebar ---------------------------------------------------------------------------------


def _uploader_key() -> str:
    return f"uploader_{st.session_state[state.UPLOADER_NONCE]}"


def refresh_attachments() -> None:
    """Put the uploader's images in state before the page is drawn, for a message sent in this
    run to take (prepared uploads are cached, so drawing the uploader later costs nothing)."""
    files = st.session_state.get(_uploader_key()) or []
    st.session_state[state.PENDING_IMAGES] = prepare_uploads(list(files))[0]


def attach_images() -> None:
    """The sidebar uploader: its images go with the next message, like the input's own clip."""
    files = st.sidebar.file_uploader(
        f"Attach images (up to {MAX_IMAGES_PER_MESSAGE})",
        type=IMAGE_TYPES,
        accept_multiple_files=True,
        key=_uploader_key(),
    )
    images, problems = prepare_uploads(files or [])  # cached: `refresh_attachments` kept them
    for problem in problems:
        st.sidebar.warning(make_safe(problem), icon=":material/image_not_supported:")
    if images:
        st.sidebar.image([i.data for i in images], width=80)
        st.sidebar.caption("These go with your next message.")


def forget_chat_list() -> None:
    """Read the conversation list again at the next run (this session changed it)."""
    st.session_state.pop(state.CHATS, None)


def _chat_list(store: Store, user: User) -> tuple[Conversation, ...]:
    listed = st.session_state.get(state.CHATS)
    if isinstance(listed, ChatList) and listed.owner_id == user.id:
        return listed.chats
    chats: tuple[Conversation, ...] = ()
    if user.id:
        try:
            chats = tuple(store.list_conversations(user.id, limit=LISTED + 1))
        except AssistantError as exc:
            st.sidebar.caption(sentence(exc))
            return ()
    st.session_state[state.CHATS] = ChatList(user.id, chats)
    return chats


def draw(store: Store, user: User) -> None:
    """New chat, then this person's conversations newest first, then the uploader."""
    st.sidebar.button(
        "New chat",
        icon=":material/add_comment:",
        on_click=state.new_chat,
        width="stretch",
        type="primary",
        key="new_chat",
    )
    chats = _chat_list(store, user)
    current = st.session_state[state.CONVERSATION_ID]
    if chats:
        st.sidebar.caption("Your conversations")
        for chat in chats[:LISTED]:
            st.sidebar.page_link(
                links.CHAT,
                label=escape_markdown(chat.title)
                if chat.id != current
                else f"**{escape_markdown(chat.title)}**",
                query_params={"c": chat.id},
                icon=":material/chat_bubble:" if chat.id == current else None,
                width="stretch",
            )
        if len(chats) > LISTED:
            st.sidebar.page_link(
                links.HISTORY, label="All conversations", icon=":material/history:"
            )
    attach_images()


__all__ = [
    "ChatList",
    "attach_images",
    "choose_model",
    "current_choice",
    "current_model",
    "current_role",
    "draw",
    "draw_pickers",
    "forget_chat_list",
    "refresh_attachments",
    "remember_choice",
]
