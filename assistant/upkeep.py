"""Periodic upkeep of the shared database: interrupted replies and expired sessions.

A reply whose process died stays "streaming" until someone notices. Live replies are touched
by a heartbeat (`assistant.replies`), so a reply not touched for `STALE_AFTER` has no writer
left: it is marked interrupted, its text kept. Expired sessions and abandoned guests are
purged by the same job. It runs at start-up and then every `EVERY`, in one process at a time:
several replicas sharing a database take turns through a lease row, so the work is done once.
Opening a conversation also recovers its own stale replies at once (`Store.recover_stale_replies`
with the conversation), so nobody waits for the next round to see an interrupted reply.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

from assistant.errors import AssistantError
from assistant.replies import HEARTBEAT_EVERY
from assistant.store import Store

log = logging.getLogger(__name__)

#: A reply whose heartbeat stopped this long ago has no writer left.
STALE_AFTER = timedelta(seconds=4 * HEARTBEAT_EVERY)
#: How often the job runs (in whichever process holds the lease).
EVERY = timedelta(minutes=1)
LEASE = "upkeep"


class Upkeep:
    """Runs `run_once` now and then every `every` on a daemon thread, while it holds the lease."""

    def __init__(
        self,
        store: Store,
        purge: Callable[[], object] | None = None,
        *,
        every: timedelta = EVERY,
        stale_after: timedelta = STALE_AFTER,
    ) -> None:
        self._store = store
        self._purge = purge
        self._every = every
        self._stale_after = stale_after
        self._holder = uuid.uuid4().hex
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> bool:
        """Do the upkeep if this process holds the lease; True when it did."""
        if not self._store.take_lease(LEASE, self._holder, self._every * 2):
            return False
        recovered = self._store.recover_stale_replies(self._stale_after)
        if recovered:
            log.info("upkeep: %d interrupted replies recovered", recovered)
        if self._purge is not None:
            self._purge()
        return True

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="upkeep", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            try:
                self.run_once()
            except AssistantError:
                log.warning("upkeep failed; trying again later", exc_info=True)
            except Exception:
                log.exception("upkeep failed; trying again later")
            self._stopped.wait(self._every.total_seconds())


__all__ = ["EVERY", "STALE_AFTER", "Upkeep"]
