"""Replies that live on the server: one task per reply, apart from whoever watches it.

A reply used to be produced inside the Streamlit script run that drew it, so anything that
reran the script (a click, a refresh, a page switch) ended it. Here a reply is a `ReplyTask`:
a thread owned by the process calls the model, applies the events to a `Reply`, checkpoints it
through its `ReplyKeeper` (the store, for the app and the API) and finalises it however it
ends. Any number of watchers (a page run, a second tab, an API stream, the terminal client)
read snapshots and wait for changes; a watcher that goes away changes nothing. Only `stop()`
ends a reply early, or, when `unwatched_after` is set, nobody watching it for that long (a
listener, such as an API stream's, counts as watching).

Replies of one conversation run one after the other: a message typed while a reply streams is
stored at once, and its reply starts when the earlier ones have ended (its context is then read
from the store, so it includes them).

One keeper thread per `Replies` writes for all of them: every `CHECKPOINT_EVERY` the text of
every reply that grew since its last checkpoint, in one transaction (a reply's own thread never
waits for the database while it streams, and a hundred replies cost one commit a second, not a
hundred), and every `HEARTBEAT_EVERY` a touch of the others' rows in one statement, so that
`Store.recover_stale_replies` can tell a reply whose process died (no heartbeat) from one that
is waiting for a slow first token. Without a store to write to (`heart` None), each reply
checkpoints itself through its keeper.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from assistant.cancellation import Cancellation
from assistant.chat import Assistant
from assistant.context import ChatTurn
from assistant.errors import AssistantError, UnexpectedError
from assistant.events import Failed, ReasoningDelta, TextDelta, close_events
from assistant.reply import Reply
from assistant.roles import Role

log = logging.getLogger(__name__)

#: Seconds between checkpoints of a growing reply: at most this much is lost to a crash.
CHECKPOINT_EVERY = 1.0
#: Seconds before a checkpoint the busy database refused is tried again (not at every token:
#: with many replies streaming, each try costs a copy of the reply and a turn at the gate).
CHECKPOINT_RETRY = 0.25
#: Seconds between heartbeats of running replies; three missed ones make a reply stale.
HEARTBEAT_EVERY = 5.0


class RestartingError(AssistantError):
    sentence = "The server is restarting. Please send your message again in a moment."


class ReplyKeeper(Protocol):
    """Where a reply is kept while it streams and once it has ended."""

    def checkpoint(self, reply: Reply) -> bool:
        """Save the text so far if that can be done without waiting; True when saved."""
        ...

    def finish(self, reply: Reply) -> None:
        """Save the final state (the reply is done)."""
        ...

    def heartbeat_ids(self) -> tuple[int, str] | None:
        """(owner id, reply id) whose row the heartbeat keeps fresh, or None."""
        ...


class Heart(Protocol):
    """Writes for all live replies at once (the `Store`)."""

    def touch_replies(self, replies: Sequence[tuple[int, str]]) -> int:
        """Heartbeat: keep these (owner id, reply id) rows fresh, in one write."""
        ...

    def checkpoint_replies(self, replies: Sequence[tuple[int, str, str, str]]) -> int:
        """Save (owner id, reply id, text, reasoning) of several replies in one write."""
        ...


@dataclass(frozen=True)
class ReplyJob:
    """What one reply answers, and where it is kept."""

    owner_id: int
    conversation_id: str
    reply_id: str
    role: Role
    model: str
    #: The conversation as the model sees it, ending with the message to answer (or, when
    #: continuing, with the reply so far). None: `load_history` reads it when the reply starts.
    history: tuple[ChatTurn, ...] | None = None
    load_history: Callable[[], Sequence[ChatTurn]] | None = None
    keeper: ReplyKeeper | None = None
    #: Continuing a stopped or cut reply: its state so far (new text is appended).
    resumed: Reply | None = None
    #: Called on the task's thread with the final reply, once it is kept.
    on_end: Callable[[Reply], None] | None = None


class ReplyTask:
    """One reply being produced on its own thread; watch it with `snapshot` and `wait`."""

    def __init__(self, job: ReplyJob, replies: Replies, after: ReplyTask | None) -> None:
        self.job = job
        self._replies = replies
        self._after = after  # the earlier reply of the conversation this one waits for
        self._cond = threading.Condition()
        self._reply = (
            job.resumed.copy() if job.resumed is not None else Reply(requested_model=job.model)
        )
        if job.resumed is not None:
            self._reply.resume()
        self._version = 0
        self._done = False
        #: Lengths of (text, reasoning) at the last checkpoint the keeper thread wrote.
        self.saved = (len(self._reply.text), len(self._reply.reasoning))
        self.cancel = Cancellation()
        self._listeners: list[Callable[[], object]] = []
        self.started_at = time.monotonic()
        self.last_watched = self.started_at
        self._thread = threading.Thread(target=self._run, name="reply", daemon=True)

    @property
    def reply_id(self) -> str:
        return self.job.reply_id

    @property
    def done(self) -> bool:
        return self._done

    @property
    def queued(self) -> bool:
        """Waiting for an earlier reply of the conversation to end."""
        after = self._after
        return after is not None and not after.done

    def snapshot(self) -> tuple[int, Reply]:
        """(version, a copy of the reply as it stands); the version grows with every change."""
        with self._cond:
            self.last_watched = time.monotonic()
            return self._version, self._reply.copy()

    def progress(self) -> tuple[str, str]:
        """(text, reasoning) so far, without copying the reply (for checkpoints; not a watch)."""
        with self._cond:
            return self._reply.text, self._reply.reasoning

    def wait(self, seen: int, timeout: float) -> int:
        """Block until the version passes `seen` (or the task ends, or `timeout` passes)."""
        with self._cond:
            self.last_watched = time.monotonic()
            if self._version == seen and not self._done:
                self._cond.wait(timeout)
            return self._version

    def unwatched_for(self, now: float) -> float:
        """Seconds since a watcher last looked; 0 while a listener follows the reply."""
        with self._cond:
            return 0.0 if self._listeners else now - self.last_watched

    def add_listener(self, listener: Callable[[], object]) -> None:
        """Call `listener()` after every change a watcher could see and once when the task
        ends (at once, if it has already ended). It runs on the task's thread, so it must be
        quick and must not block: an event loop's watcher hands itself a wake-up
        (`loop.call_soon_threadsafe`) instead of waiting on a thread of its own."""
        with self._cond:
            ended = self._done
            if not ended:
                self._listeners.append(listener)
        if ended:
            listener()

    def remove_listener(self, listener: Callable[[], object]) -> None:
        with self._cond, contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _notify(self) -> None:
        with self._cond:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener()
            except Exception:  # a watcher's bug must not end the reply
                log.exception("reply %s: a listener failed", self.reply_id)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the reply to end and be kept; True when it has."""
        self._thread.join(timeout)
        return self._done

    def stop(self) -> None:
        """End the reply now: the connection to the model closes, what arrived is kept."""
        self.cancel.cancel()
        with self._cond:
            self._cond.notify_all()
        self._notify()

    # -- the task's thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._wait_turn()
            if not self.cancel.cancelled:
                self._stream()
        except Exception as exc:  # a bug must still end the reply with a sentence
            log.exception("reply %s failed unexpectedly", self.reply_id)
            error = UnexpectedError(detail=repr(exc))
            self._change(lambda reply: _fail(reply, error))
        finally:
            self._change(lambda reply: reply.stop())  # a no-op unless it was cut short
            self._keep()
            with self._cond:
                self._done = True
                self._version += 1
                self._cond.notify_all()
            self._notify()
            with self._cond:
                self._listeners.clear()
            self._replies._finished(self)
            self._ended()

    def _ended(self) -> None:
        if self.job.on_end is None:
            return
        try:
            self.job.on_end(self.snapshot()[1])
        except Exception:  # an after-effect (a title) must never break the reply
            log.exception("after reply %s", self.reply_id)

    def _wait_turn(self) -> None:
        after = self._after
        while after is not None and not after.done and not self.cancel.cancelled:
            with self._cond:
                self._cond.wait(0.25)
        self._after = None

    def _stream(self) -> None:
        job = self.job
        history = job.history
        if history is None:
            if job.load_history is None:
                raise ValueError("a reply job needs its history or a way to read it")
            history = tuple(job.load_history())
        events = self._replies.assistant.stream_reply(
            job.role, history, model=job.model, cancel=self.cancel
        )
        # With a heart, the keeper thread checkpoints every reply of the process together.
        keeper = job.keeper if self._replies.heart is None else None
        every = self._replies.checkpoint_every
        last_checkpoint = time.monotonic()
        try:
            for event in events:
                if isinstance(event, Failed):  # the user reads the sentence; the log keeps why
                    log.warning(
                        "reply %s failed: %s: %s",
                        self.reply_id,
                        type(event.error).__name__,
                        event.error.detail or event.error,
                    )
                self._change(lambda reply, e=event: reply.apply(e))  # type: ignore[misc]
                if keeper is not None and isinstance(event, (TextDelta, ReasoningDelta)):
                    now = time.monotonic()
                    if now - last_checkpoint >= every:
                        _, reply = self.snapshot()
                        if _safely(keeper.checkpoint, reply):
                            last_checkpoint = now
                        else:
                            last_checkpoint = now - every + min(every, CHECKPOINT_RETRY)
        finally:
            close_events(events)  # hangs up: generation and billing stop

    def _change(self, change: Callable[[Reply], object]) -> None:
        with self._cond:
            before = self._reply.status, len(self._reply.text), len(self._reply.reasoning)
            change(self._reply)
            after = self._reply.status, len(self._reply.text), len(self._reply.reasoning)
            self._version += 1
            changed = before != after
            if changed:
                self._cond.notify_all()
        if changed:
            self._notify()

    def _keep(self) -> None:
        keeper = self.job.keeper
        if keeper is None:
            return
        _, reply = self.snapshot()
        try:
            keeper.finish(reply)
        except AssistantError:
            # The row keeps its last checkpoint and is recovered as interrupted later.
            log.error("keeping the end of reply %s failed", self.reply_id, exc_info=True)


def _fail(reply: Reply, error: AssistantError) -> None:
    if not reply.done:
        reply.apply(Failed(error))


def _safely(checkpoint: Callable[[Reply], bool], reply: Reply) -> bool:
    try:
        return checkpoint(reply)
    except AssistantError:
        # A busy database must not break the stream; the final write tries again.
        log.warning("checkpoint failed", exc_info=True)
        return False


class Replies:
    """The replies this process is producing. Thread-safe; one per process and store.

    Lookups are scoped to the owner: another user's reply id finds nothing.
    """

    def __init__(
        self,
        assistant: Assistant,
        heart: Heart | None = None,
        *,
        checkpoint_every: float = CHECKPOINT_EVERY,
        heartbeat_every: float = HEARTBEAT_EVERY,
        unwatched_after: float | None = None,
    ) -> None:
        self.assistant = assistant
        self.checkpoint_every = checkpoint_every
        self.heartbeat_every = heartbeat_every
        self.unwatched_after = unwatched_after
        self.heart = heart
        self._lock = threading.Lock()
        self._tasks: dict[str, ReplyTask] = {}
        self._beating = False
        self._closed = False

    def check_open(self) -> None:
        """Raise `RestartingError` once the process has begun to stop (see `drain`)."""
        if self._closed:
            raise RestartingError()

    def start(self, job: ReplyJob) -> ReplyTask:
        """Start producing a reply now, or after the conversation's running replies."""
        with self._lock:
            if self._closed:
                raise RestartingError()
            earlier = [
                task
                for task in self._tasks.values()
                if task.job.owner_id == job.owner_id
                and task.job.conversation_id == job.conversation_id
            ]
            task = ReplyTask(job, self, earlier[-1] if earlier else None)
            self._tasks[job.reply_id] = task
            beat = self.heart is not None and not self._beating
            self._beating = self._beating or beat
        task._thread.start()
        if beat:
            threading.Thread(target=self._keep, name="reply-keeper", daemon=True).start()
        return task

    def find(self, owner_id: int, reply_id: str) -> ReplyTask | None:
        with self._lock:
            task = self._tasks.get(reply_id)
        return task if task is not None and task.job.owner_id == owner_id else None

    def in_conversation(self, owner_id: int, conversation_id: str) -> list[ReplyTask]:
        """The conversation's running and queued replies, oldest first."""
        with self._lock:
            return [
                task
                for task in self._tasks.values()
                if task.job.owner_id == owner_id and task.job.conversation_id == conversation_id
            ]

    def stop_conversation(self, owner_id: int, conversation_id: str, *, wait: float = 2.0) -> None:
        """Stop every reply of the conversation and wait (a little) for them to be kept."""
        tasks = self.in_conversation(owner_id, conversation_id)
        for task in tasks:
            task.stop()
        deadline = time.monotonic() + wait
        for task in tasks:
            task.join(max(0.0, deadline - time.monotonic()))

    def running(self) -> int:
        with self._lock:
            return len(self._tasks)

    def drain(self, timeout: float) -> int:
        """Refuse new replies, let running ones finish for up to `timeout` seconds, then stop
        the rest (kept as stopped); returns how many had to be stopped."""
        with self._lock:
            self._closed = True
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            left = list(self._tasks.values())
        for task in left:
            task.stop()
        for task in left:
            task.join(5.0)
        return len(left)

    def _finished(self, task: ReplyTask) -> None:
        with self._lock:
            self._tasks.pop(task.reply_id, None)

    def _keep(self) -> None:
        """Checkpoint the replies that grew, touch the others' rows now and then, and stop
        replies nobody has watched for `unwatched_after`."""
        heart = self.heart
        assert heart is not None
        tick = min(self.checkpoint_every, self.heartbeat_every)
        checkpointed = beaten = time.monotonic()
        while True:
            time.sleep(tick)
            with self._lock:
                tasks = list(self._tasks.values())
                if self._closed and not tasks:  # drained: nothing will start again
                    self._beating = False
                    return
            now = time.monotonic()
            if self.unwatched_after is not None:
                for task in tasks:
                    if task.unwatched_for(now) > self.unwatched_after:
                        log.info("stopping reply %s: nobody is watching it", task.reply_id)
                        task.stop()
            grown: list[tuple[ReplyTask, tuple[int, str, str, str]]] = []
            if now - checkpointed >= self.checkpoint_every - tick / 2:
                checkpointed = now
                grown = [(task, row) for task in tasks if (row := _grown(task)) is not None]
                if _write("checkpoint", heart.checkpoint_replies, [row for _, row in grown]):
                    for task, (_, _, text, reasoning) in grown:
                        task.saved = (len(text), len(reasoning))
                else:
                    grown = []  # not written: their rows still need the heartbeat
            if now - beaten >= self.heartbeat_every - tick / 2:
                beaten = now
                written = {task.reply_id for task, _ in grown}
                ids = [
                    ids
                    for task in tasks
                    if task.reply_id not in written and (ids := _beat_ids(task)) is not None
                ]
                _write("heartbeat", heart.touch_replies, ids)


def _beat_ids(task: ReplyTask) -> tuple[int, str] | None:
    keeper = task.job.keeper
    return keeper.heartbeat_ids() if keeper is not None else None


def _grown(task: ReplyTask) -> tuple[int, str, str, str] | None:
    """The checkpoint row of a reply whose text grew since its last one, else None."""
    ids = _beat_ids(task)
    if ids is None or task.done:
        return None  # an ended reply is kept whole by its own thread
    text, reasoning = task.progress()
    if (len(text), len(reasoning)) == task.saved:
        return None
    return (*ids, text, reasoning)


def _write(what: str, write: Callable[[list[Any]], int], rows: list[Any]) -> bool:
    """Write `rows` if there are any; False when the database refused (logged)."""
    if not rows:
        return True
    try:
        write(rows)
    except AssistantError:
        # A busy database must not stop the keeper; the next round tries again.
        log.warning("%s of %d replies failed", what, len(rows), exc_info=True)
        return False
    return True


__all__ = [
    "CHECKPOINT_EVERY",
    "CHECKPOINT_RETRY",
    "HEARTBEAT_EVERY",
    "Replies",
    "ReplyJob",
    "ReplyKeeper",
    "ReplyTask",
    "RestartingError",
]
