"""A chat turn made durable: nothing the user wrote or the model sent is ever lost.

Write order (see safety.md, "Nothing lost"):
1. `start_turn` commits the user's message and its images before any model call, together with
   the empty reply row (status "streaming") in the same transaction; `start_reply` creates
   only the reply row, for a regenerated answer to a message already stored;
2. `persist_reply` wraps the reply's events: it checkpoints the text as it grows and, however
   the stream ends (finished, failed, or closed early because the user pressed stop), finalises
   the row as complete, error (with the sentence) or stopped, with its sentiment scores.

Scores travel in the same write as the text: one transaction fewer per message, which matters
when a hundred sessions write at once.

On SQLite these writes also queue on one lock per store in this process (`write_gate`). SQLite
has one writer at a time, and a writer that finds it taken sleeps in its busy handler (1, 2, 5,
... up to 100 ms) instead of being woken when it is free: with a hundred sessions streaming, a
new turn's first write waited seconds behind the others' checkpoints while the lock sat idle
(bench/bench_app.py, "100 streams at once": 8.3 s before the last request reached the model).
Queued on a Python lock, each writer starts the moment the previous one commits. A checkpoint
never waits for the gate: when it is taken, the checkpoint is tried again at the next delta,
so a busy database neither delays the tokens nor crowds out turns that are about to start.

Follow-up turns (a text message in a stored conversation, the common case) go further: they
are committed in groups. Each one joins a queue before taking the gate, and whoever holds the
gate writes the whole queue in one transaction of three statements. With the GIL shared by a
hundred threads, every statement (which lets go of the GIL) cost a wait, and one turn's 1 ms
write held the gate for 10 to 30 ms: the hundredth message reached the model after 1 to 3 s.

A process killed mid-reply leaves the row "streaming" with the last checkpoint;
`Store.recover_stale_replies` marks such rows interrupted at the next start.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence

from assistant.errors import AssistantError
from assistant.events import Event, ReasoningDelta, TextDelta, close_events
from assistant.reply import ERROR, STOPPED, STREAMING, Reply
from assistant.sentiment import score_text
from assistant.store import Message, Sentiment, Store, StoreError
from assistant.store.messages import NextTurn, TurnResult
from assistant.store.records import FinalStatus, ImageLike

log = logging.getLogger(__name__)

#: Seconds between checkpoints of a growing reply: at most this much is lost to a crash
#: (a little more while the database is busy with other writes).
CHECKPOINT_EVERY = 1.0

_gates: weakref.WeakKeyDictionary[Store, threading.Lock] = weakref.WeakKeyDictionary()
_gates_lock = threading.Lock()


class _NoGate:
    """PostgreSQL lets writers to different rows proceed at once: nothing to queue on."""

    def acquire(self, blocking: bool = True) -> bool:
        return True

    def release(self) -> None:
        pass

    def __enter__(self) -> bool:
        return True

    def __exit__(self, *exc_info: object) -> None:
        pass


def write_gate(store: Store) -> threading.Lock | _NoGate:
    """The lock this process's chat writes to `store` queue on (see the module docstring)."""
    if store.dialect != "sqlite":
        return _NoGate()
    with _gates_lock:
        gate = _gates.get(store)
        if gate is None:
            gate = _gates[store] = threading.Lock()
        return gate


def start_turn(
    store: Store,
    owner_id: int,
    conversation_id: str | None,
    text: str,
    images: Sequence[ImageLike],
    *,
    role_id: str,
    model: str,
) -> tuple[str, Message, str]:
    """Steps 1 and 2 in one write: the user's message (with its scores), then the empty reply
    row; returns (conversation id, the user's message, reply id)."""
    scores = _scores(text)
    if store.dialect != "sqlite" or conversation_id is None or images:
        with write_gate(store):
            return store.start_turn(
                owner_id, conversation_id, text, list(images), role_id, model, scores
            )
    return _start_together(store, NextTurn(owner_id, conversation_id, text, role_id, model, scores))


class _Waiting:
    """Follow-up turns queued for a store's write gate, and what became of each."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.turns: list[NextTurn] = []
        self.outcomes: dict[int, TurnResult | AssistantError] = {}  # id(turn) -> outcome


_waiting: weakref.WeakKeyDictionary[Store, _Waiting] = weakref.WeakKeyDictionary()


def _start_together(store: Store, turn: NextTurn) -> TurnResult:
    """Group commit: whoever gets the gate writes every turn queued by then, in one transaction.

    A hundred sessions sending at once used to take the gate one after the other, each for a
    transaction that, with the GIL shared among all their threads, lasted ten times its 1 ms
    of work; the last message reached the model after a second or more. Now the first writer
    takes the whole queue and the others find their turn written when the gate comes to them.
    """
    with _gates_lock:
        waiting = _waiting.get(store)
        if waiting is None:
            waiting = _waiting[store] = _Waiting()
    with waiting.lock:
        waiting.turns.append(turn)
    with write_gate(store):
        with waiting.lock:
            batch, waiting.turns = waiting.turns, []
        if batch:
            try:
                outcomes: list[TurnResult | AssistantError] = store.start_turns(batch)
            except AssistantError as exc:
                outcomes = [exc] * len(batch)
            except Exception as exc:  # a bug must not leave the other writers without an answer
                log.exception("writing %d turns failed", len(batch))
                outcomes = [StoreError(detail=repr(exc))] * len(batch)
            with waiting.lock:
                for queued, outcome in zip(batch, outcomes, strict=True):
                    waiting.outcomes[id(queued)] = outcome
        with waiting.lock:
            outcome = waiting.outcomes.pop(id(turn))
    if isinstance(outcome, AssistantError):
        raise outcome
    return outcome


def start_reply(store: Store, owner_id: int, conversation_id: str, model: str) -> str:
    """Commit the empty "streaming" reply row the events will fill; returns its id."""
    with write_gate(store):
        return store.start_reply(owner_id, conversation_id, model)


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
                if now - last_checkpoint >= checkpoint_every and _checkpoint(
                    store, owner_id, reply_id, reply
                ):
                    last_checkpoint = now
            yield event
    finally:
        close_events(events)
        if reply.status == STREAMING:
            reply.stop()  # closed before the end: the user pressed stop
        _finish(store, owner_id, reply_id, reply)


def _checkpoint(store: Store, owner_id: int, reply_id: str, reply: Reply) -> bool:
    """Save the text so far unless another write holds the gate; True when it was tried."""
    gate = write_gate(store)
    if not gate.acquire(blocking=False):
        return False
    try:
        store.checkpoint_reply(owner_id, reply_id, reply.text, reply.reasoning)
    except AssistantError:
        # A busy database must not break the stream; the final write tries again.
        log.warning("checkpoint of reply %s failed", reply_id, exc_info=True)
    finally:
        gate.release()
    return True


def _finish(store: Store, owner_id: int, reply_id: str, reply: Reply) -> None:
    usage = reply.usage
    status: FinalStatus = (
        "error" if reply.status == ERROR else ("stopped" if reply.status == STOPPED else "complete")
    )
    scores = _scores(reply.text)  # before taking the gate: scoring a long reply takes a while
    try:
        with write_gate(store):
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
                sentiment=scores,
            )
    except AssistantError:
        # The row keeps its last checkpoint and is recovered as interrupted later.
        log.error("finalising reply %s failed", reply_id, exc_info=True)


def _scores(text: str) -> Sentiment:
    scores = score_text(text)
    return Sentiment(scores.compound, scores.pos, scores.neu, scores.neg)


__all__ = [
    "CHECKPOINT_EVERY",
    "persist_reply",
    "start_reply",
    "start_turn",
    "write_gate",
]
