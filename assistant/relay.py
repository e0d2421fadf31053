"""Wait for a reply's first words on a worker thread so the caller can wake up regularly.

A Streamlit script can only notice the stop button at its next `st.*` call, and a slow first token
(or a long reasoning phase) would otherwise leave it blocked inside the HTTP read. Until the
answer's first text arrives, the events come through a queue from a worker thread, so the page
ticks: it shows "Thinking… 4 s" and notices stop. Once text flows, the worker hands the
iterator back and the caller reads it directly: tokens then arrive often enough to be the
ticks, and a hundred streaming sessions need a hundred threads instead of two hundred
(bench/bench_app.py, "100 streams at once").

Closing the relay closes the source, which closes the HTTP connection: at once after the
hand-over, and at the worker's next event before it.
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


def relay(events: Iterator[Event], *, tick: float = 0.25) -> Generator[Event | Tick, None, None]:
    items: queue.SimpleQueue[object] = queue.SimpleQueue()
    cancelled = threading.Event()
    handed = threading.Event()  # the worker let go of an open source
    taken = False  # ... and this generator took it over

    def pump() -> None:
        handed_over = False
        try:
            for event in events:
                items.put(event)
                if cancelled.is_set():
                    break
                if isinstance(event, TextDelta):
                    handed_over = True
                    break
        except Exception as exc:  # the source broke its contract; the user still gets a sentence
            items.put(Failed(UnexpectedError(detail=repr(exc))))
        finally:
            if handed_over:
                handed.set()
                items.put(_HANDOVER)  # the caller carries on with the open source
            else:
                close_events(events)
                items.put(_END)

    worker = threading.Thread(target=pump, name="reply-relay", daemon=True)
    worker.start()
    last = time.monotonic()
    try:
        while True:
            try:
                item = items.get(timeout=tick)
            except queue.Empty:
                yield Tick(time.monotonic() - last)
                continue
            if item is _END:
                return
            if item is _HANDOVER:
                worker.join()  # the source is no longer running in the worker
                taken = True
                yield from _direct(events)  # closing this generator closes the source too
                return
            last = time.monotonic()
            yield item  # type: ignore[misc]
    finally:
        cancelled.set()
        if not taken:
            worker.join(timeout=0.05)
            if handed.is_set():  # closed right after the hand-over, before taking it
                close_events(events)


__all__ = ["Tick", "relay"]
