"""Stream deadlines and the watchdog thread that enforces them on silent servers.

A read blocked on a server that sends nothing cannot be woken by httpx: its read timeout is
either long (a backstop) or, if short, closes the response on the first quiet tick. So each
stream registers a `Deadline` holding its socket, and one watchdog thread per client shuts that
socket down once the deadline passes, which makes the blocked read fail at once. The reading
side checks the deadline itself after every read (a server sending only keep-alives is never
silent), and sets `suspended` while the consumer holds control, so time spent outside our
reads never counts as a stall.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

__all__ = ["WATCHDOG_TICK", "Deadline", "Watchdog"]

WATCHDOG_TICK = 0.05


class Deadline:
    """When the current stream must have produced content by; shared with the watchdog."""

    __slots__ = ("at", "expired", "sock", "suspended")

    def __init__(self, at: float, sock: socket.socket | None = None) -> None:
        self.at = at
        self.sock = sock
        self.suspended = False  # the consumer holds control: not reading, so not stalled
        self.expired = False

    def expire(self) -> None:
        self.expired = True
        if self.sock is not None:
            # The plain-socket method also works under TLS, and it wakes a blocked recv.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self.sock, socket.SHUT_RDWR)


class Watchdog:
    """One lazily started thread per client that expires overdue stream deadlines."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._deadlines: set[Deadline] = set()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def watch(self, deadline: Deadline) -> None:
        with self._cond:
            self._deadlines.add(deadline)
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(
                    target=self._run, name="chat-stream-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def unwatch(self, deadline: Deadline) -> None:
        with self._cond:
            self._deadlines.discard(deadline)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                if not self._deadlines:
                    self._cond.wait()
                    continue
                now = self._clock()
                for deadline in list(self._deadlines):
                    if not deadline.suspended and now >= deadline.at:
                        self._deadlines.discard(deadline)
                        deadline.expire()
                self._cond.wait(WATCHDOG_TICK)
