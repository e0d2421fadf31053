"""How this process shares the Python interpreter among its sessions and API streams.

Every session's script runs in its own thread, and CPython runs Python in one thread at a time
(the GIL). A thread that lets go of the GIL for I/O (each SQLite statement, each element handed
to the server's event loop, each read of a reply's socket) must then win it back, and a thread
running Python keeps it for up to the switch interval, 5 ms by default, before handing it over.
With a hundred sessions streaming, a new message's database write, which lets go of the GIL a
dozen times, took ten times its work, and new messages queued behind it. A 1 ms interval hands
the GIL over sooner; the cost is more frequent switching. The "100 streams at once" figures of
bench/bench_app.py, before and after, are in docs/benchmarks.md.

The chat API's replies are threads too, so the API sets the same policy when it starts serving
(`server.api_context`), whether or not a page has run in the process yet.
"""

from __future__ import annotations

import sys

SWITCH_INTERVAL = 0.001  # seconds a thread may hold the GIL while others wait for it


def share_fairly() -> None:
    """Hand the GIL over more often (process-wide; idempotent and cheap, so safe every run)."""
    if sys.getswitchinterval() != SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)


__all__ = ["SWITCH_INTERVAL", "share_fairly"]
