"""What a front end does to a conversation, one call each: send, regenerate, edit, continue,
stop, show another version. The app's pages and the chat API call these; none of them writes
a message or starts a model call itself.

Every call checks its input first and then writes in one transaction (see `Store`), so a
refused edit changes nothing and an accepted one keeps the earlier version. The reply is then
produced by a server-side task (`assistant.replies`) that outlives the call and the page run
that made it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.context import ChatTurn
from assistant.errors import InputError
from assistant.images import PreparedImage
from assistant.limits import check_text, check_turn
from assistant.replies import Replies, ReplyJob, ReplyTask
from assistant.reply import Reply, ReplyStatus
from assistant.roles import Role
from assistant.sentiment import score_text
from assistant.store import Message, NewTurn, Sentiment, StartedTurn, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    """A stored turn and the task producing its reply."""

    conversation_id: str
    message: Message  # the user's message (for a regenerated reply, the one it answers)
    task: ReplyTask


class StoredReply:
    """Keeps a reply in the store: checkpoints as it grows, its final state and scores."""

    def __init__(self, store: Store, owner_id: int, reply_id: str) -> None:
        self._store = store
        self._owner_id = owner_id
        self._reply_id = reply_id

    def checkpoint(self, reply: Reply) -> bool:
        return self._store.checkpoint_reply(
            self._owner_id, self._reply_id, reply.text, reply.reasoning, wait=False
        )

    def finish(self, reply: Reply) -> None:
        scores = sentiment_of(reply.text)  # before the write: scoring a long text takes a while
        self._store.finish_reply(self._owner_id, self._reply_id, reply, scores)

    def heartbeat_ids(self) -> tuple[int, str]:
        return self._owner_id, self._reply_id


def sentiment_of(text: str) -> Sentiment:
    scores = score_text(text)
    return Sentiment(scores.compound, scores.pos, scores.neu, scores.neg)


def turns_of(store: Store, owner_id: int, messages: Sequence[Message]) -> list[ChatTurn]:
    """Stored messages as the model sees them: failed replies with no text are left out."""
    out: list[ChatTurn] = []
    for message in messages:
        if message.role == "assistant" and not message.text:
            continue
        images: list[PreparedImage] = []
        for ref in message.images:
            found = store.image_bytes(owner_id, ref.sha256)
            if found is not None:
                images.append(PreparedImage(found[0], found[1], ref.width, ref.height, ref.sha256))
        out.append(ChatTurn(message.role, message.text, tuple(images)))
    return out


class Turns:
    """The turn service over one store and the process's replies. Thread-safe; one per
    process."""

    def __init__(
        self,
        store: Store,
        replies: Replies,
        *,
        titles: Callable[[int, str, str], object] | None = None,
    ) -> None:
        """`titles(owner_id, conversation_id, first_message)` names a new conversation after
        its first reply (see `assistant.titles`)."""
        self.store = store
        self.replies = replies
        self.titles = titles

    # -- starting replies -------------------------------------------------------------------

    def send(
        self,
        owner_id: int,
        conversation_id: str | None,
        text: str,
        images: Sequence[PreparedImage] = (),
        *,
        role: Role,
        model: str,
        history: Sequence[ChatTurn] | None = None,
    ) -> Sent:
        """Store the user's message and start its reply.

        `history` (the conversation as the caller shows it, without the new message) saves a
        read when no earlier reply of the conversation is still running; otherwise the reply
        reads its context from the store when its turn comes.
        """
        check_turn(text, len(images))
        self.replies.check_open()  # before anything is written: nothing is left half-done
        started = self.store.start_turn(
            NewTurn(
                owner_id,
                conversation_id,
                text,
                role.id,
                model,
                images=tuple(images),
                sentiment=sentiment_of(text),
            )
        )
        known: tuple[ChatTurn, ...] | None = None
        if history is not None and not self.replies.in_conversation(
            owner_id, started.conversation_id
        ):
            known = (*history, ChatTurn("user", text, tuple(images)))
        on_end = None
        if conversation_id is None and self.titles is not None:
            on_end = self._titler(owner_id, started.conversation_id, text)
        return self._start(owner_id, started, role, model, known, on_end)

    def _titler(self, owner_id: int, conversation_id: str, first: str) -> Callable[[Reply], None]:
        """After the first reply of a new conversation, ask for a short title."""
        titles = self.titles
        assert titles is not None

        def title(reply: Reply) -> None:
            if reply.text and reply.status == ReplyStatus.COMPLETE:
                titles(owner_id, conversation_id, first)

        return title

    def regenerate(
        self, owner_id: int, conversation_id: str, reply_id: str, *, role: Role, model: str
    ) -> Sent:
        """A new version of a reply (also "Retry" after an error); the old one is kept."""
        self.replies.check_open()
        self.replies.stop_conversation(owner_id, conversation_id)
        started = self.store.revise_turn(
            owner_id, reply_id, text=None, role_id=role.id, model=model
        )
        return self._start(owner_id, started, role, model, None)

    def edit(
        self,
        owner_id: int,
        conversation_id: str,
        message_id: str,
        text: str,
        *,
        has_images: bool,
        role: Role,
        model: str,
    ) -> Sent:
        """Send an edited copy of one of the user's messages, earlier ones included: the turns
        after it become an earlier version. Refused edits (blank, too long) change nothing."""
        check_text(text, has_images=has_images)
        self.replies.check_open()
        self.replies.stop_conversation(owner_id, conversation_id)
        started = self.store.revise_turn(
            owner_id,
            message_id,
            text=text,
            role_id=role.id,
            model=model,
            sentiment=sentiment_of(text),
        )
        return self._start(owner_id, started, role, model, None)

    def continue_reply(
        self, owner_id: int, conversation_id: str, reply_id: str, *, role: Role
    ) -> ReplyTask:
        """Ask the model that wrote a stopped (or cut) reply to carry on from where it ended;
        the new text is appended to the same reply."""
        self.replies.check_open()
        if self.replies.in_conversation(owner_id, conversation_id):
            raise InputError("Wait for the current reply to finish, or stop it, first.")
        resumed = self.store.resume_reply(owner_id, reply_id)
        model = resumed.model or resumed.requested_model
        job = ReplyJob(
            owner_id,
            conversation_id,
            reply_id,
            role,
            model,
            load_history=self._history_loader(owner_id, reply_id, through_reply=True),
            keeper=StoredReply(self.store, owner_id, reply_id),
            resumed=resumed,
        )
        return self.replies.start(job)

    def _start(
        self,
        owner_id: int,
        started: StartedTurn,
        role: Role,
        model: str,
        history: tuple[ChatTurn, ...] | None,
        on_end: Callable[[Reply], None] | None = None,
    ) -> Sent:
        job = ReplyJob(
            owner_id,
            started.conversation_id,
            started.reply_id,
            role,
            model,
            history=history,
            load_history=self._history_loader(owner_id, started.reply_id),
            keeper=StoredReply(self.store, owner_id, started.reply_id),
            on_end=on_end,
        )
        return Sent(started.conversation_id, started.message, self.replies.start(job))

    def _history_loader(
        self, owner_id: int, reply_id: str, *, through_reply: bool = False
    ) -> Callable[[], list[ChatTurn]]:
        def load() -> list[ChatTurn]:
            path = self.store.reply_context(owner_id, reply_id, through_reply=through_reply)
            return turns_of(self.store, owner_id, path)

        return load

    # -- the rest -----------------------------------------------------------------------------

    def stop(self, owner_id: int, reply_id: str) -> None:
        """Stop a reply this process is producing (an unknown id changes nothing)."""
        task = self.replies.find(owner_id, reply_id)
        if task is not None:
            task.stop()
            task.join(2.0)

    def select_version(self, owner_id: int, message_id: str) -> str:
        """Show the branch through this version of a turn; returns the conversation id."""
        return self.store.select_version(owner_id, message_id)


__all__ = ["Sent", "StoredReply", "Turns", "sentiment_of", "turns_of"]
