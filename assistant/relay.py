"""Wait for a reply's first words on a worker thread so the caller can wake up regularly.

A Streamlit script can only notice the stop button at its next `st.*` call, and a slow first token
(or a long reasoning phase) would otherwise leave it blocked inside the HTTP read. Until the
answer's first text arrives, the events come through a queue from a worker thread, so the page
ticks: it shows "Thinking… 4 s" and notices stop. Once text flows, the worker hands the
iterator back and the caller reads it directly: tokens then arrive often enough to be the
ticks, and a hundred streaming sessions need a hundred threads instead of two hundred
(bench/bench_app.py, "100 streams at once").

The worker starts when the relay is made, not when it is first read: the chat page makes it
right after the user's message is committed, so the request is on its way while the page
draws (under load, every element drawn before the request delayed it).

Closing the relay closes the source, which closes the HTTP connection: at once after the
hand-over, and at the worker's next event before it. A relay closed before it was read at all
(the run was stopped while drawing) is closed the same way.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass

from assistant.errors import UnexpectedError
from assistant.events import Event, Failed, TextDelta, close_events

_END = object()
_HANDOVER = object()


@dataclass(frozen=True, slots=True)
class Tick:
    """Nothing arrived for a while; `waited` is seconds since the last event (or the start)."""

    waited: float


def _direct(events: Iterator[Event]) -> Generator[Event, None, None]:
    try:
        yield from events
    except Exception as exc:  # the source broke its contract; the user still gets a sentence
        yield Failed(UnexpectedError(detail=repr(exc)))


class Relay:
    """The events of `events` (and ticks while none come), read on a worker until the first text.

    The worker always starts reading `events` at once, so a source that finalises itself when
    closed (`assistant.turns.persist_reply`) is sure to run its cleanup however the relay ends.
    """

    def __init__(self, events: Iterator[Event], *, tick: float = 0.25) -> None:
        self._events = events
        self._tick = tick
        self._items: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self._handed = threading.Event()  # the worker let go of an open source
        self._taken = False  # ... and the caller took it over
        self._worker = threading.Thread(target=self._pump, name="reply-relay", daemon=True)
        self._worker.start()
        self._started = time.monotonic()
        self._reader = self._read()

    def __iter__(self) -> Relay:
        return self

    def __next__(self) -> Event | Tick:
        return next(self._reader)

    def close(self) -> None:
        self._reader.close()  # after the hand-over, this closes the source too
        self._cancelled.set()
        if not self._taken:
            self._worker.join(timeout=0.05)
            if self._handed.is_set():  # closed right after the hand-over, before taking it
                close_events(self._events)

    def _pump(self) -> None:
        handed_over = False
        try:
            for event in self._events:
                self._items.put(event)
                if self._cancelled.is_set():
                    break
                if isinstance(event, TextDelta):
                    handed_over = True
                    break
        except Exception as exc:  # the source broke its contract; the user still gets a sentence
            self._items.put(Failed(UnexpectedError(detail=repr(exc))))
        finally:
            if handed_over:
                self._handed.set()
                self._items.put(_HANDOVER)  # the caller carries on with the open source
            else:
                close_events(self._events)
                self._items.put(_END)

    def _read(self) -> Generator[Event | Tick, None, None]:
        last = self._started
        while True:
            try:
                item = self._items.get(timeout=self._tick)
            except queue.Empty:
                yield Tick(time.monotonic() - last)
                continue
            if item is _END:
                return
            if item is _HANDOVER:
                self._worker.join()  # the source is no longer running in the worker
                self._taken = True
                yield from _direct(self._events)  # closing this generator closes the source
                return
            last = time.monotonic()
            yield item  # type: ignore[misc]


def relay(events: Iterator[Event], *, tick: float = 0.25) -> Relay:
    """Start relaying `events` now; iterate the result, and close it when done with it."""
    return Relay(events, tick=tick)


__all__ = ["Relay", "Tick", "relay"]
