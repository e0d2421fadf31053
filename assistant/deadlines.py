"""Hanging up one request from another thread: stream deadlines, cancel, and the watchdog.

A read blocked on a server that sends nothing cannot be woken by httpx: its read timeout is
either long (a backstop) or, if short, closes the response on the first quiet tick. What does
wake it is shutting down its socket from another thread: the blocked `recv` (or `connect`, or
TLS handshake) returns at once, and the server sees the connection close. So each request
attempt has a `Deadline` that holds its socket, and two things may hang it up:

- the watchdog thread (one per client) expires a stream whose content deadline passed. The
  reading side checks the deadline itself after every read (a server sending only keep-alives
  is never silent), and sets `suspended` while the consumer holds control, so time spent
  outside our reads never counts as a stall;
- a `Cancellation` (assistant/cancellation.py) calls `cancel()`, whatever the request is doing.

The socket is handed over by the transport (assistant/transport.py) as soon as it exists, which
is before the request is even sent, and taken back (`detach`) before the connection may return
to the pool or be closed: under the lock, so a hang-up never reaches a socket that another
request reuses, nor a file descriptor number that the system has given to someone else.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

__all__ = ["WATCHDOG_TICK", "Deadline", "Watchdog"]

WATCHDOG_TICK = 0.05


def _shut_down(sock: socket.socket) -> None:
    # The plain-socket method also works under TLS (no close_notify to write, which could
    # block), and it wakes a blocked recv, send or connect. An already closed socket raises.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Deadline:
    """One request attempt's socket and content deadline; shared with the watchdog and cancel."""

    __slots__ = ("_lock", "at", "cancelled", "expired", "sock", "suspended")

    def __init__(self, at: float, sock: socket.socket | None = None) -> None:
        self.at = at
        self.sock = sock
        self.suspended = False  # the consumer holds control: not reading, so not stalled
        self.expired = False  # hung up, by the watchdog or by cancel
        self.cancelled = False  # hung up by cancel: the reply ends without a final event
        self._lock = threading.Lock()

    def attach(self, sock: socket.socket) -> None:
        """The attempt's connection is `sock` now (a hang-up that came first applies at once)."""
        with self._lock:
            self.sock = sock
            if self.expired:
                _shut_down(sock)

    def detach(self, sock: socket.socket | None = None) -> None:
        """Let go of the socket (only if it is still `sock`, when given): it may be reused."""
        with self._lock:
            if sock is None or self.sock is sock:
                self.sock = None

    def expire(self) -> None:
        """Hang up now: the blocked read, write or connect of this attempt fails at once."""
        with self._lock:
            self.expired = True
            if self.sock is not None:
                _shut_down(self.sock)

    def cancel(self) -> None:
        """Hang up because the reply was stopped (see `Cancellation`)."""
        self.cancelled = True
        self.expire()


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
