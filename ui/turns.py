"""A chat turn on the page: accept the input, stream the reply into a bubble, keep everything.

The reply's message is appended to the transcript before the first event, and its text is
updated as events arrive, so a stop (which ends the script at its next `st.*` call), an error or
a closed tab never loses what arrived.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from assistant.chat import Assistant
from assistant.context import ChatTurn
from assistant.errors import InputError
from assistant.limits import check_turn
from assistant.relay import Tick, relay
from assistant.reply import Reply
from assistant.roles import Role
from ui import state
from ui.state import ChatMessage
from ui.stream_view import StreamView
from ui.transcript import AVATARS, draw_actions, draw_status, footer_text
from ui.uploads import prepare_uploads


def accept_input(value: Any) -> bool:
    """Add the submitted message (text + images) to the transcript; True if a reply is due."""
    text = getattr(value, "text", value) or ""
    images, problems = prepare_uploads(list(getattr(value, "files", None) or []))
    images = [*st.session_state[state.PENDING_IMAGES], *images]
    notices: list[str] = st.session_state[state.NOTICE]
    notices.extend(problems)
    try:
        check_turn(text, len(images))
    except InputError as exc:
        notices.append(str(exc))
        return False
    state.messages().append(ChatMessage("user", text, images))
    st.session_state[state.PENDING_IMAGES] = []
    st.session_state[state.UPLOADER_NONCE] += 1
    return True


def apply_action(action: tuple[Any, ...]) -> bool:
    """Act on a button's queued request; True if a reply is due."""
    messages = state.messages()
    kind = action[0]
    if kind == "send":
        return accept_input(action[1])
    if messages and messages[-1].role == "assistant":
        messages.pop()
    if kind == "edit" and messages and messages[-1].role == "user":
        old = messages.pop()
        text = str(action[1])
        try:
            check_turn(text, len(old.images))
        except InputError as exc:
            messages.append(old)
            st.session_state[state.NOTICE].append(str(exc))
            return False
        messages.append(ChatMessage("user", text, old.images))
    return bool(messages) and messages[-1].role == "user"


def history() -> list[ChatTurn]:
    """The transcript as the model sees it: failed replies with no text are left out."""
    return [
        ChatTurn(m.role, m.text, tuple(m.images))
        for m in state.messages()
        if m.role == "user" or m.text
    ]


def stream_reply(assistant: Assistant, role: Role, model: str) -> None:
    turns = history()
    reply = Reply()
    message = ChatMessage("assistant", reply=reply)
    state.messages().append(message)
    with st.chat_message("assistant", avatar=AVATARS["assistant"]):
        view = StreamView()
        events = relay(assistant.stream_reply(role, turns, model=model))
        try:
            for item in events:
                if isinstance(item, Tick):
                    view.update(reply, item)
                    continue
                reply.apply(item)
                message.text = reply.text
                view.update(reply)
        finally:
            events.close()  # closes the upstream connection: generation and billing stop
            reply.stop()  # a no-op unless the user pressed stop mid-stream
            message.text = reply.text
        view.finish(reply)
        draw_status(reply)
        if footer := footer_text(reply):
            st.caption(footer)
        draw_actions(message, last=True)
