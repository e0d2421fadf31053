"""What the chat API's routes share in one server process.

The services are the process's own (`assistant.services.shared`), built from the same
settings as the app's pages (environment, then `.streamlit/secrets.toml`), so a reply started
through the API is the same object the Chat page follows, and the other way round. They are
built at the first request, after the server has read its secrets, not when routes are made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from starlette.concurrency import run_in_threadpool

from assistant.interpreter import share_fairly
from assistant.replies import ReplyTask
from assistant.services import Services, shared
from assistant.settings import Settings
from server.api_streams import OpenStreams


class ApiContext:
    """One per server process (tests make one per simulated replica, with `services`)."""

    def __init__(
        self,
        settings: Callable[[], Settings] | None = None,
        *,
        services: Services | None = None,
    ) -> None:
        if settings is None and services is None:
            raise ValueError("an API context needs settings or services")
        self._settings = settings
        self._services = services
        self._streams: OpenStreams | None = None
        self._serving = False
        self._lock: asyncio.Lock | None = None
        #: Reply id -> how many sockets of this process follow it (see `server.chat_socket`).
        self._followers: dict[str, int] = {}
        self._background: set[asyncio.Task[None]] = set()

    def _build(self) -> Services:
        assert self._settings is not None
        return shared(self._settings())

    async def ready(self) -> Services:
        """The services, built at the first call (in a worker thread: it migrates the
        database and may start the bundled model)."""
        if not self._serving:
            self._serving = True
            share_fairly()  # the reply threads of many streams need it (assistant.interpreter)
        if self._services is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._services is None:
                    self._services = await run_in_threadpool(self._build)
        return self._services

    @property
    def streams(self) -> OpenStreams:
        """Every API stream and socket open in this process (after `ready`)."""
        if self._streams is None:
            if self._services is None:
                raise RuntimeError("the API context is not ready")
            self._streams = OpenStreams(self._services.api_keys)
        return self._streams

    def keep(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` on the loop, apart from any one connection (it is kept referenced)."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def follow(self, reply_id: str) -> None:
        self._followers[reply_id] = self._followers.get(reply_id, 0) + 1

    def unfollow(self, task: ReplyTask, *, grace: float) -> None:
        """One socket stopped following the reply; if none follows it `grace` seconds later
        and it is still running, it is stopped (nobody reads it any more)."""
        reply_id = task.reply_id
        left = self._followers.get(reply_id, 1) - 1
        if left > 0:
            self._followers[reply_id] = left
            return
        self._followers.pop(reply_id, None)
        if not task.done:
            asyncio.get_running_loop().call_later(grace, self._expire, task)

    def following(self, reply_id: str) -> bool:
        return reply_id in self._followers

    def _expire(self, task: ReplyTask) -> None:
        if not task.done and task.reply_id not in self._followers:
            task.stop()


__all__ = ["ApiContext"]
