"""A request to stop one reply, made from any thread.

The thread that reads a reply is often blocked inside an HTTP read (waiting for response
headers, for a first token behind keep-alive comments, or for the next chunk) when someone
else, a script run or a signal handler, decides to stop it. Closing the generator only works
from the thread that iterates it, so stopping goes through a `Cancellation` instead: the reader
registers what must happen on stop (the client shuts down the socket of the request in flight,
see assistant/deadlines.py) and whoever stops calls `cancel()`.

Callbacks run in the thread that calls `cancel()`, at once and outside any lock, so they must be
quick and must not block (shutting down a socket is); one that raises is logged and the others
still run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Cancellation"]

logger = logging.getLogger(__name__)


class Cancellation:
    """A request to stop one reply, made from any thread."""

    __slots__ = ("_callbacks", "_event", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._callbacks: dict[object, Callable[[], None]] = {}

    def cancel(self) -> None:
        """Stop the reply: run the registered callbacks once. Idempotent and thread-safe."""
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in callbacks:
            _run(callback)

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def add_callback(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run `callback` on cancel (at once if already cancelled); returns a remover."""
        token = object()
        with self._lock:
            if not self._event.is_set():
                self._callbacks[token] = callback
                return lambda: self._remove(token)
        _run(callback)
        return _nothing

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds, waking at once on cancel; True if cancelled."""
        return self._event.wait(timeout)

    def _remove(self, token: object) -> None:
        with self._lock:
            self._callbacks.pop(token, None)


def _run(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:  # one broken callback must not keep the others from stopping their work
        logger.exception("cancellation callback %r failed", callback)


def _nothing() -> None:
    pass
