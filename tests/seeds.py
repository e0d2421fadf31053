"""Stored conversations for tests, written through the store's public calls only."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant.reply import Reply, ReplyStatus
from assistant.store import ImageLike, NewTurn, Sentiment, StartedTurn, Store


@dataclass(frozen=True)
class Picture:
    """An attached image as the store takes it (`ImageLike`); the sizes are made up: the store
    keeps what it is told."""

    data: bytes
    mime: str = "image/png"
    width: int = 2
    height: int = 3

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def ask(
    store: Store,
    owner_id: int,
    conversation_id: str | None,
    text: str,
    images: Sequence[ImageLike] = (),
    *,
    role_id: str = "r",
    model: str = "m",
    sentiment: Sentiment | None = None,
) -> StartedTurn:
    """A user's message with its empty "streaming" reply row, as a turn starts."""
    return store.start_turn(
        NewTurn(owner_id, conversation_id, text, role_id, model, tuple(images), sentiment)
    )


def answer(
    store: Store,
    owner_id: int,
    reply_id: str,
    text: str = "",
    *,
    status: str = "complete",
    error: str = "",
    sentiment: Sentiment | None = None,
    **fields: Any,
) -> Reply:
    """Finish a reply as `status` with `text` (and any other `Reply` fields)."""
    reply = Reply(text=text, status=ReplyStatus(status), error=error, **fields)
    store.finish_reply(owner_id, reply_id, reply, sentiment)
    return reply


def exchange(
    store: Store,
    owner_id: int,
    conversation_id: str | None,
    question: str,
    reply: str,
    *,
    role_id: str = "r",
    model: str = "m",
    **reply_fields: Any,
) -> StartedTurn:
    """A question and its complete answer (with any other `Reply` fields); returns the turn."""
    started = ask(store, owner_id, conversation_id, question, role_id=role_id, model=model)
    answer(store, owner_id, started.reply_id, reply, **reply_fields)
    return started


__all__ = ["Picture", "answer", "ask", "exchange"]
