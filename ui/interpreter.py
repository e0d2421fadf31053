"""How this process shares the Python interpreter among its sessions.

Every session's script runs in its own thread, and CPython runs Python in one thread at a time
(the GIL). A thread that lets go of the GIL for I/O (each SQLite statement, each element handed
to the server's event loop, each read of a reply's socket) must then win it back, and a thread
running Python keeps it for up to the switch interval, 5 ms by default, before handing it over.
With a hundred sessions streaming, a new message's database write, which lets go of the GIL a
dozen times, took about 30 ms instead of 3, while other new messages queued behind it: the last
of 100 requests reached the model 4 to 5 s after they were sent (bench/bench_app.py, "100
streams at once", 1.38 to 1.55 times the ideal). At 1 ms the last one left after 1.7 s, and
the figure fell to 1.17 to 1.20. The cost is more frequent switching, which the streaming lag
and long-chat figures of the same benchmark show to be negligible.
"""

from __future__ import annotations

import sys

SWITCH_INTERVAL = 0.001  # seconds a thread may hold the GIL while others wait for it


def share_fairly() -> None:
    """Hand the GIL over more often (process-wide; idempotent and cheap, so safe every run)."""
    if sys.getswitchinterval() != SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)
