"""The chat page's sidebar: role, model, image attachments and "New chat"."""

from __future__ import annotations

import streamlit as st

from assistant.catalogue import ModelInfo
from assistant.chat import Assistant
from assistant.limits import MAX_IMAGES_PER_MESSAGE
from assistant.roles import DEFAULT_ROLE_ID, Role
from ui import state
from ui.uploads import IMAGE_TYPES, prepare_uploads


def current_role(roles: dict[str, Role]) -> Role:
    """The role the picker shows (its widget state is set before the run starts)."""
    if st.session_state[state.ROLE_ID] not in roles:
        st.session_state[state.ROLE_ID] = DEFAULT_ROLE_ID
    return roles[st.session_state[state.ROLE_ID]]


def current_model(assistant: Assistant) -> str:
    """The model the picker shows: the one picked in this run's widget state, else the last one
    used, else the default."""
    for candidate in (st.session_state.get(state.MODEL_PICKER), st.session_state[state.MODEL_ID]):
        if isinstance(candidate, str) and assistant.catalogue.get(candidate) is not None:
            return candidate
    return assistant.default_model


def current_choice(assistant: Assistant, roles: dict[str, Role]) -> tuple[Role, str]:
    """Role and model for this run without drawing anything, so a message can be sent before
    the page is drawn; `draw` then shows the same choice."""
    return current_role(roles), current_model(assistant)


def choose_role(roles: dict[str, Role]) -> Role:
    current_role(roles)
    role_id = st.sidebar.selectbox(
        "Role",
        list(roles),
        format_func=lambda rid: roles[rid].label,
        key=state.ROLE_ID,
    )
    role = roles[role_id]
    st.sidebar.caption(role.description)
    return role


def _model_label(info: ModelInfo) -> str:
    eye = "🖼 " if info.reads_images else ""
    return f"{eye}{info.name} · {info.price_label()}"


def choose_model(assistant: Assistant) -> str:
    """The model menu. Its list (hundreds of models from the catalogue) is built and sent only
    while the menu is open: drawn on every run, it cost every session its options in memory and
    every rerun its labels on the wire."""
    default = assistant.default_model
    if not assistant.catalogue.models():
        st.sidebar.caption(f"Model: `{default}` (the catalogue could not be loaded)")
        return default
    current = current_model(assistant)
    menu = st.sidebar.popover(
        f"Model: {current}",
        icon=":material/tune:",
        on_change="rerun",
        key=state.MODEL_MENU,
        width="stretch",
    )
    choice = current
    if menu.open:
        with menu:
            choice = _model_list(assistant, current)
    st.session_state[state.MODEL_ID] = choice
    return choice


def _model_list(assistant: Assistant, current: str) -> str:
    models = assistant.catalogue.models()
    default = assistant.default_model
    only_free = st.toggle("Free models only", key="only_free")
    only_images = st.toggle("Reads images", key="only_images", help="🖼 marks these")
    shown = [
        m for m in models if (not only_free or m.is_free) and (not only_images or m.reads_images)
    ]
    ids = [m.id for m in shown]
    by_id = {m.id: m for m in models}
    if default not in ids:
        ids.insert(0, default)
    if current not in ids:
        current = default
    choice = st.selectbox(
        "Model (type to search)",
        ids,
        index=ids.index(current),
        format_func=lambda mid: _model_label(by_id[mid]) if mid in by_id else mid,
        key=state.MODEL_PICKER,
    )
    return str(choice)


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
        st.sidebar.warning(problem, icon=":material/image_not_supported:")
    if images:
        st.sidebar.image([i.data for i in images], width=80)
        st.sidebar.caption("These go with your next message.")


def draw(assistant: Assistant, roles: dict[str, Role]) -> None:
    """Draw the sidebar; it shows the role and model of `current_choice`."""
    choose_role(roles)
    choose_model(assistant)
    attach_images()
    st.sidebar.button(
        "New chat", icon=":material/add_comment:", on_click=state.new_chat, width="stretch"
    )
