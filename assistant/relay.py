"""Run a reply's event iterator on a worker thread so the caller can wake up regularly.

A Streamlit script can only notice the stop button at its next `st.*` call, and a slow first token
or a stall would otherwise leave it blocked inside the HTTP read. Relaying the events through a
queue lets the page tick (show "thinking… 4 s" and check for stop) while nothing arrives.
Closing the relay asks the worker to close the source, which closes the HTTP connection.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass

from assistant.errors import UnexpectedError
from assistant.events import Event, Failed

_END = object()


@dataclass(frozen=True, slots=True)
class Tick:
    """Nothing arrived for a while; `waited` is seconds since the last event (or the start)."""

    waited: float


def relay(events: Iterator[Event], *, tick: float = 0.25) -> Generator[Event | Tick, None, None]:
    items: queue.SimpleQueue[object] = queue.SimpleQueue()
    cancelled = threading.Event()

    def pump() -> None:
        try:
            for event in events:
                items.put(event)
                if cancelled.is_set():
                    break
        except Exception as exc:  # the source broke its contract; the user still gets a sentence
            items.put(Failed(UnexpectedError(detail=repr(exc))))
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
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
            last = time.monotonic()
            yield item  # type: ignore[misc]
    finally:
        cancelled.set()


__all__ = ["Tick", "relay"]
