"""A chat turn made durable: nothing the user wrote or the model sent is ever lost.

Write order (see safety.md, "Nothing lost"):
1. `save_user_message` commits the user's message and its images before any model call;
2. the caller creates the reply row (`Store.start_reply`, status "streaming");
3. `persist_reply` wraps the reply's events: it checkpoints the text as it grows and, however
   the stream ends (finished, failed, or closed early because the user pressed stop), finalises
   the row as complete, error (with the sentence) or stopped, with its sentiment scores.

Scores travel in the same write as the text: one transaction fewer per message, which matters
when a hundred sessions write at once.

A process killed mid-reply leaves the row "streaming" with the last checkpoint;
`Store.recover_stale_replies` marks such rows interrupted at the next start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence

from assistant.errors import AssistantError
from assistant.events import Event, ReasoningDelta, TextDelta
from assistant.reply import ERROR, STOPPED, STREAMING, Reply
from assistant.sentiment import score_text
from assistant.store import Message, Sentiment, Store
from assistant.store.records import FinalStatus, ImageLike

log = logging.getLogger(__name__)

#: Seconds between checkpoints of a growing reply: at most this much is lost to a crash.
CHECKPOINT_EVERY = 1.0


def save_user_message(
    store: Store,
    owner_id: int,
    conversation_id: str | None,
    text: str,
    images: Sequence[ImageLike],
    *,
    role_id: str,
    model: str,
) -> tuple[str, Message]:
    """Commit the user's message (creating the conversation on the first one), with its scores,
    in one write."""
    return store.add_user_message(
        owner_id, conversation_id, text, list(images), role_id, model, _scores(text)
    )


def persist_reply(
    events: Iterator[Event],
    store: Store,
    owner_id: int,
    reply_id: str,
    *,
    checkpoint_every: float = CHECKPOINT_EVERY,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Event]:
    """Pass `events` through, checkpointing the reply row and finalising it at the end."""
    reply = Reply()
    last_checkpoint = clock()
    try:
        for event in events:
            reply.apply(event)
            if isinstance(event, (TextDelta, ReasoningDelta)):
                now = clock()
                if now - last_checkpoint >= checkpoint_every:
                    _checkpoint(store, owner_id, reply_id, reply)
                    last_checkpoint = now
            yield event
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
        if reply.status == STREAMING:
            reply.stop()  # closed before the end: the user pressed stop
        _finish(store, owner_id, reply_id, reply)


def _checkpoint(store: Store, owner_id: int, reply_id: str, reply: Reply) -> None:
    try:
        store.checkpoint_reply(owner_id, reply_id, reply.text, reply.reasoning)
    except AssistantError:
        # A busy database must not break the stream; the final write tries again.
        log.warning("checkpoint of reply %s failed", reply_id, exc_info=True)


def _finish(store: Store, owner_id: int, reply_id: str, reply: Reply) -> None:
    usage = reply.usage
    status: FinalStatus = (
        "error" if reply.status == ERROR else ("stopped" if reply.status == STOPPED else "complete")
    )
    try:
        store.finish_reply(
            owner_id,
            reply_id,
            status=status,
            text=reply.text,
            reasoning=reply.reasoning,
            error=reply.error or None,
            model=reply.model or None,
            requested_model=reply.requested_model or None,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            cost=usage.cost if usage else None,
            sentiment=_scores(reply.text),
        )
    except AssistantError:
        # The row keeps its last checkpoint and is recovered as interrupted later.
        log.error("finalising reply %s failed", reply_id, exc_info=True)


def _scores(text: str) -> Sentiment:
    scores = score_text(text)
    return Sentiment(scores.compound, scores.pos, scores.neu, scores.neg)


__all__ = ["CHECKPOINT_EVERY", "persist_reply", "save_user_message"]
