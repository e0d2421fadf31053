"""Following server-side replies from the event loop, and the API streams a process serves.

A reply is a `ReplyTask` on a thread of its own (`assistant.replies`). The API serves many
streams from one event loop, so it never blocks a thread per watcher: `TaskWatch` asks the task
to call back after each change and hands itself one wake-up through the loop
(`call_soon_threadsafe`), however many tokens arrive before the loop gets to it.

`updates` turns that into batches of new text. The first text goes out the moment it arrives
(time to first token); after that, text is gathered for `flush_every` seconds before the next
event, which keeps the envelope around each event small next to the text it carries (a lone
token is a few bytes in an envelope of about 150).

`OpenStreams` is every API stream and socket this process serves. Once a second it asks the
database which of their keys were revoked (one query for all of them, whichever replica
revoked the key) and ends those; every `renew_every` seconds it renews the rows that hold
their keys' stream slots, so a crashed replica's slots expire on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from assistant.api_keys import ApiKeys
from assistant.errors import AssistantError
from assistant.replies import ReplyTask
from assistant.reply import Reply

log = logging.getLogger(__name__)

#: Seconds text is gathered between two events of one stream, after the first.
FLUSH_EVERY = 0.05
#: Seconds between two checks for revoked keys (how long a revoked key's stream goes on).
CHECK_EVERY = 1.0
#: Seconds between two renewals of the stream slots this process holds.
RENEW_EVERY = 20.0


class TaskWatch:
    """Wake-ups from a reply task, on an event loop (see the module docstring).

    The task's thread only marks the watch dirty, and hands the loop a wake-up only while the
    watcher is actually waiting: a stream that is gathering text for its next event costs no
    wake-up per token. The flags are read and written under the GIL, each by one side only
    except `_dirty`; whichever side comes second sees the other's write, so a change is never
    missed (at worst the watcher wakes once for nothing)."""

    def __init__(self, task: ReplyTask, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._task = task
        self._loop = loop or asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._dirty = False
        self._waiting = False
        self._pending = False
        task.add_listener(self._poke)

    def _poke(self) -> None:  # on the task's thread
        self._dirty = True
        if not self._waiting or self._pending:
            return
        self._pending = True
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is watching
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self._pending = False
        self._event.set()

    async def changed(self, timeout: float | None = None) -> None:
        """Return after the next change (or `timeout`); changes since the last call count."""
        self._waiting = True
        try:
            if not self._dirty:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._event.wait(), timeout)
        finally:
            self._waiting = False
            self._dirty = False
            self._event.clear()

    def close(self) -> None:
        self._task.remove_listener(self._poke)


@dataclass(frozen=True, slots=True)
class Update:
    """New text since the last update, and the reply as it stands (final when `done`)."""

    text: str
    reasoning: str
    reply: Reply
    done: bool


async def updates(
    task: ReplyTask,
    *,
    text_from: int = 0,
    reasoning_from: int = 0,
    flush_every: float = FLUSH_EVERY,
) -> AsyncGenerator[Update, None]:
    """Batches of a reply's new text until the task has ended (the last one is `done`).

    `text_from` / `reasoning_from`: what the watcher has already seen."""
    loop = asyncio.get_running_loop()
    watch = TaskWatch(task, loop)
    sent_text, sent_reasoning = text_from, reasoning_from
    try:
        while True:
            done = task.done  # read first: once it is true, the snapshot below is final
            _, reply = task.snapshot()
            text = reply.text[sent_text:]
            reasoning = reply.reasoning[sent_reasoning:]
            if not (text or reasoning or done):
                await watch.changed()
                continue
            sent_text, sent_reasoning = len(reply.text), len(reply.reasoning)
            if done:
                yield Update(text, reasoning, reply, True)
                return
            yield Update(text, reasoning, reply, False)
            next_at = loop.time() + flush_every
            await watch.changed()
            delay = next_at - loop.time()
            if delay > 0 and not task.done:
                await asyncio.sleep(delay)
    finally:
        watch.close()


async def first_update(task: ReplyTask) -> Update:
    """Wait for the reply's first text (or its end) without consuming it."""
    watch = TaskWatch(task)
    try:
        while True:
            done = task.done
            _, reply = task.snapshot()
            if reply.text or reply.reasoning or done:
                return Update("", "", reply, done)
            await watch.changed()
    finally:
        watch.close()


async def finished(task: ReplyTask) -> Reply:
    """Wait for the task to end; the reply as it was kept."""
    watch = TaskWatch(task)
    try:
        while not task.done:
            await watch.changed()
        return task.snapshot()[1]
    finally:
        watch.close()


@dataclass(eq=False)
class OpenStream:
    """One stream or socket: its key, the slot it holds (if any), what ends it."""

    key_id: str
    slot: int | None
    on_revoked: Callable[[], object]


class OpenStreams:
    """The API streams and sockets of this process (see the module docstring)."""

    def __init__(
        self,
        keys: ApiKeys,
        *,
        check_every: float = CHECK_EVERY,
        renew_every: float = RENEW_EVERY,
    ) -> None:
        self._keys = keys
        self._check_every = check_every
        self._renew_every = renew_every
        self._open: set[OpenStream] = set()
        self._watcher: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._open)

    def open(self, key_id: str, slot: int | None, on_revoked: Callable[[], object]) -> OpenStream:
        """Watch a stream's key from now on (call on the event loop)."""
        stream = OpenStream(key_id, slot, on_revoked)
        self._open.add(stream)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch())
        return stream

    async def close(self, stream: OpenStream) -> None:
        """Stop watching and give back the stream's slot."""
        self._open.discard(stream)
        if stream.slot is not None:
            try:
                await run_in_threadpool(self._keys.release, [stream.slot])
            except AssistantError:  # the row expires on its own
                log.warning("could not give back API stream %s", stream.slot, exc_info=True)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while self._open:
            await asyncio.sleep(self._check_every)
            streams = list(self._open)
            try:
                gone = await run_in_threadpool(
                    self._keys.inactive_among, sorted({s.key_id for s in streams})
                )
                for stream in streams:
                    if stream.key_id in gone and stream in self._open:
                        self._open.discard(stream)
                        stream.on_revoked()
                if loop.time() - renewed >= self._renew_every:
                    renewed = loop.time()
                    slots = [s.slot for s in self._open if s.slot is not None]
                    await run_in_threadpool(self._keys.renew, slots)
            except AssistantError:  # the database is away: try again at the next round
                log.warning("checking the keys of open API streams failed", exc_info=True)


__all__ = [
    "CHECK_EVERY",
    "FLUSH_EVERY",
    "OpenStream",
    "OpenStreams",
    "TaskWatch",
    "Update",
    "finished",
    "first_update",
    "updates",
]
