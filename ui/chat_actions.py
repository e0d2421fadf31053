"""What the chat page does when someone sends a message or presses a button on a turn.

Each action is one call to the core's turn service (`assistant.turns`), which stores first and
then starts the reply as a server-side task; this module only turns the page's input into that
call and keeps the transcript in session state in step. Failures become a sentence shown above
the input (`state.notify`); nothing typed is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from assistant.context import ChatTurn
from assistant.errors import AssistantError
from assistant.images import PreparedImage
from assistant.replies import ReplyTask
from assistant.reply import Reply
from assistant.roles import Role
from assistant.services import Services
from assistant.store import User
from ui import conversation, identity, state
from ui.state import ChatMessage
from ui.uploads import prepare_uploads

log = logging.getLogger(__name__)


@dataclass
class Chat:
    """What a turn needs: the process's services, who, with which role and model."""

    app: Services
    user: User
    role: Role
    model: str

    # -- input ------------------------------------------------------------------------------

    def send(self, value: Any) -> bool:
        """Store the submitted message (text + images) and start its reply; True if it was."""
        text = getattr(value, "text", value) or ""
        images, problems = prepare_uploads(list(getattr(value, "files", None) or []))
        for problem in problems:
            state.notify(problem)
        if not self._send(text, [*st.session_state[state.PENDING_IMAGES], *images]):
            return False
        st.session_state[state.PENDING_IMAGES] = []
        st.session_state[state.UPLOADER_NONCE] += 1
        return True

    def _send(self, text: str, images: Sequence[PreparedImage]) -> bool:
        try:
            self.user = identity.stored_user()  # a guest is saved with their first message
            sent = self.app.turns.send(
                self.user.id,
                st.session_state[state.CONVERSATION_ID] or None,
                text,
                images,
                role=self.role,
                model=self.model,
                history=_history(),
            )
        except AssistantError as exc:
            _failed(exc)
            if text.strip():
                give_back(text)  # not sent: nothing typed is lost
            return False
        if sent.conversation_id != st.session_state[state.CONVERSATION_ID]:
            st.session_state.pop(state.CHATS, None)  # a new conversation for the sidebar list
        conversation.remember(sent.conversation_id)
        messages = state.messages()
        messages.append(ChatMessage("user", text, tuple(images), id=sent.message.id))
        messages.append(self._reply_message(sent.task))
        state.scroll_to_newest()
        return True

    def _reply_message(self, task: ReplyTask) -> ChatMessage:
        return ChatMessage(
            "assistant",
            reply=Reply(requested_model=self.model),
            id=task.reply_id,
            structured=self.role.structured,
        )

    # -- buttons ----------------------------------------------------------------------------

    def apply(self, action: tuple[Any, ...]) -> None:
        """Act on a button's queued request."""
        kind, *args = action
        try:
            if kind == "send":
                self._send(str(args[0]), ())
            elif kind == "regenerate":
                self._regenerate(str(args[0]))
            elif kind == "edit":
                self._edit(str(args[0]), str(args[1]))
            elif kind == "continue":
                self._continue(str(args[0]))
            elif kind == "stop":
                self.app.turns.stop(self.user.id, str(args[0]))
                self._reload()
            elif kind == "version":
                self.app.turns.select_version(self.user.id, str(args[0]))
                self._reload()
        except AssistantError as exc:
            _failed(exc)

    def _regenerate(self, reply_id: str) -> None:
        self.app.turns.regenerate(
            self.user.id, _conversation(), reply_id, role=self.role, model=self.model
        )
        self._reload()
        state.scroll_to_newest()

    def _edit(self, message_id: str, text: str) -> None:
        original = next((m for m in state.messages() if m.id == message_id), None)
        try:
            self.app.turns.edit(
                self.user.id,
                _conversation(),
                message_id,
                text,
                has_images=bool(original and original.images),
                role=self.role,
                model=self.model,
            )
        except AssistantError:
            state.start_editing(message_id, text)  # keep the box open with what was typed
            raise
        self._reload()
        state.scroll_to_newest()

    def _continue(self, reply_id: str) -> None:
        self.app.turns.continue_reply(self.user.id, _conversation(), reply_id, role=self.role)
        self._reload()

    def _reload(self) -> None:
        conversation_id = _conversation()
        if conversation_id:
            conversation.load(self.app, self.user.id, conversation_id)

    def feedback(self, message: ChatMessage, value: str | None) -> None:
        try:
            self.app.store.set_feedback(self.user.id, message.id, value)  # type: ignore[arg-type]
        except AssistantError as exc:
            _failed(exc)
            return
        message.feedback = value

    def running(self, message_id: str) -> ReplyTask | None:
        """The task producing this reply in this process, if it is still running."""
        return self.app.replies.find(self.user.id, message_id)


def give_back(text: str) -> None:
    """Show a message that was not sent again, in a box where it can be changed and resent."""
    st.session_state[state.RETURNED] = text
    st.session_state[state.RETURNED_BOX] = text


def resend_returned() -> None:
    """The returned box's Send: a queued send of what is in it now."""
    text = st.session_state.get(state.RETURNED_BOX, "")
    st.session_state[state.RETURNED] = ""
    state.queue_action("send", text)


def discard_returned() -> None:
    st.session_state[state.RETURNED] = ""


def _conversation() -> str:
    return str(st.session_state[state.CONVERSATION_ID])


def _history() -> list[ChatTurn]:
    """The transcript as the model sees it: failed replies with no text are left out."""
    return [
        ChatTurn(m.role, m.text, tuple(m.images))
        for m in state.messages()
        if m.role == "user" or m.text
    ]


def _failed(error: AssistantError) -> None:
    """Show the sentence; log once, with the detail the sentence leaves out."""
    log.warning("chat action refused: %s (%s)", type(error).__name__, error.detail or str(error))
    state.notify(str(error))


__all__ = ["Chat"]
