"""A chat turn on the page: accept the input, stream the reply into a bubble, keep everything.

Every message is committed to the store before anything else happens to it (see
`assistant.turns`), and the transcript in session state is updated as events arrive, so a stop
(which ends the script at its next `st.*` call), an error or a closed tab never loses what
arrived.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import streamlit as st

from assistant.chat import Assistant
from assistant.context import ChatTurn
from assistant.errors import AssistantError
from assistant.images import PreparedImage
from assistant.limits import check_turn
from assistant.relay import Relay, Tick, relay
from assistant.reply import Reply
from assistant.roles import Role
from assistant.store import NotFoundError, Store
from assistant.titles import title_in_background
from assistant.turns import persist_reply, start_reply, start_turn
from ui import conversation, state
from ui.state import ChatMessage
from ui.stream_view import StreamView
from ui.transcript import AVATARS, draw_reply_footer
from ui.uploads import prepare_uploads


@dataclass(frozen=True)
class Chat:
    """What a turn needs: who, where it is stored, with which role and model."""

    assistant: Assistant
    store: Store
    owner_id: int
    role: Role
    model: str

    def feedback(self, message: ChatMessage, value: str | None) -> None:
        try:
            self.store.set_feedback(self.owner_id, message.id, value)  # type: ignore[arg-type]
        except AssistantError as exc:
            _notify(str(exc))
            return
        message.feedback = value


def _notify(sentence: str) -> None:
    st.session_state[state.NOTICE].append(sentence)


def _save(chat: Chat, text: str, images: Sequence[PreparedImage]) -> bool:
    """Store the user's message and, in the same write, the reply row the reply fills."""
    try:
        check_turn(text, len(images))
        conversation_id, saved, reply_id = start_turn(
            chat.store,
            chat.owner_id,
            st.session_state[state.CONVERSATION_ID] or None,
            text,
            images,
            role_id=chat.role.id,
            model=chat.model,
        )
    except AssistantError as exc:
        _notify(str(exc))
        return False
    conversation.remember(conversation_id)
    state.messages().append(ChatMessage("user", text, tuple(images), id=saved.id))
    st.session_state[state.PENDING_REPLY] = reply_id
    return True


def drop_abandoned_reply(chat: Chat) -> None:
    """A reply row whose run ended between storing the message and calling the model (stop
    pressed, or another run asked for) holds nothing: delete it, as if never started. Once the
    model is called, `persist_reply` owns the row and finalises it however the run ends."""
    reply_id = st.session_state[state.PENDING_REPLY]
    if not reply_id:
        return
    st.session_state[state.PENDING_REPLY] = ""
    messages = state.messages()
    if messages and messages[-1].id == reply_id:
        messages.pop()
    try:
        chat.store.delete_message(chat.owner_id, reply_id)
    except NotFoundError:
        pass  # already gone with its conversation
    except AssistantError as exc:
        _notify(str(exc))


def accept_input(chat: Chat, value: Any) -> bool:
    """Store the submitted message (text + images); True if a reply is due."""
    text = getattr(value, "text", value) or ""
    images, problems = prepare_uploads(list(getattr(value, "files", None) or []))
    for problem in problems:
        _notify(problem)
    if not _save(chat, text, [*st.session_state[state.PENDING_IMAGES], *images]):
        return False
    st.session_state[state.PENDING_IMAGES] = []
    st.session_state[state.UPLOADER_NONCE] += 1
    return True


def _drop_last(chat: Chat, role: str) -> ChatMessage | None:
    messages = state.messages()
    if not messages or messages[-1].role != role:
        return None
    message = messages.pop()
    if message.id:
        try:
            chat.store.delete_message(chat.owner_id, message.id)
        except NotFoundError:
            pass  # already gone (deleted in another tab): nothing to undo
        except AssistantError as exc:
            _notify(str(exc))
    return message


def apply_action(chat: Chat, action: tuple[Any, ...]) -> bool:
    """Act on a button's queued request; True if a reply is due."""
    kind = action[0]
    if kind == "send":
        return accept_input(chat, action[1])
    _drop_last(chat, "assistant")
    if kind == "edit":
        old = _drop_last(chat, "user")
        if old is not None:
            return _save(chat, str(action[1]), old.images)
    messages = state.messages()
    return bool(messages) and messages[-1].role == "user"


def history() -> list[ChatTurn]:
    """The transcript as the model sees it: failed replies with no text are left out."""
    return [
        ChatTurn(m.role, m.text, tuple(m.images))
        for m in state.messages()
        if m.role == "user" or m.text
    ]


@dataclass
class OpenReply:
    """A reply whose request is on its way: its message, what the model saw, and its events."""

    message: ChatMessage
    reply: Reply  # the message's reply, filled as events arrive
    turns: list[ChatTurn]
    events: Relay


def _open_reply(chat: Chat) -> OpenReply | None:
    """Call the model for the transcript so far; the reply row is made first if need be."""
    turns = history()
    reply_id = st.session_state[state.PENDING_REPLY]
    if not reply_id:  # regenerate: the user's message is stored already
        try:
            reply_id = start_reply(
                chat.store, chat.owner_id, st.session_state[state.CONVERSATION_ID], chat.model
            )
        except AssistantError as exc:
            _notify(str(exc))
            return None
    source = chat.assistant.stream_reply(chat.role, turns, model=chat.model)
    events = relay(persist_reply(source, chat.store, chat.owner_id, reply_id))
    # From here persist_reply owns the row and finalises it however the stream ends.
    st.session_state[state.PENDING_REPLY] = ""
    reply = Reply()
    message = ChatMessage("assistant", reply=reply, id=reply_id, structured=chat.role.structured)
    return OpenReply(message, reply, turns, events)


@contextmanager
def reply_opened(chat: Chat, *, due: bool) -> Iterator[OpenReply | None]:
    """Send the request now (when a reply is due) and draw the page inside the block.

    Under load every element drawn before the request delays it: each hands the server's
    event loop a message and waits its turn for the interpreter lock again. Leaving the block
    closes the reply, which hangs up if the run ended (stop pressed) before it was streamed.
    """
    opened = _open_reply(chat) if due else None
    try:
        yield opened
    finally:
        if opened is not None:
            opened.events.close()
            if not any(m is opened.message for m in state.messages()):
                # Stopped before it was drawn: the transcript shows what the store keeps.
                opened.reply.stop()
                state.messages().append(opened.message)


def stream_reply(chat: Chat, opened: OpenReply) -> None:
    """Draw the reply as it streams, into a new bubble below the transcript."""
    message, reply, turns, events = opened.message, opened.reply, opened.turns, opened.events
    state.messages().append(message)
    with st.chat_message("assistant", avatar=AVATARS["assistant"]):
        view = StreamView(hide_text=bool(chat.role.structured))
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
        if len(state.messages()) == 2 and reply.text:  # the first exchange: name it
            title_in_background(
                chat.assistant,
                chat.store,
                chat.owner_id,
                st.session_state[state.CONVERSATION_ID],
                turns[-1].text,
            )
        draw_reply_footer(message, last=True, user_text=turns[-1].text, on_feedback=chat.feedback)
