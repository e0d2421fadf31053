"""One HTTP request at the ASGI level: its body read within a limit, its client's hang-up
noticed, its answer sent (JSON, or a stream compressed as it goes).

Why not Starlette's Request and StreamingResponse: the API must notice a client that leaves
while it is still waiting for the model's first token (to stop the reply and the billing), must
answer a too-large body without reading all of it into memory, and must still let the client
finish sending before answering, or the client would see a broken connection instead of the
413 (so the rest of the body is read and dropped, up to `DRAIN_LIMIT`).

A stream is gzip-compressed when the client accepts it (the `openai` package and browsers do;
curl without --compressed does not), flushed after every event so nothing waits in the
compressor: the envelope every event repeats then costs a few bytes instead of about 150.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import zlib
from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from server.api_requests import RequestTooLargeError, UnsupportedMediaTypeError

#: Bytes of an over-large body read and dropped so the client can read the 413.
DRAIN_LIMIT = 128 * 1024 * 1024
DRAIN_SECONDS = 10.0


class Exchange:
    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self.headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope.get("headers", [])
        }
        self.gone = asyncio.Event()
        self._body_done = False
        self._started = False
        self._gzip: Any = None

    # -- the request -------------------------------------------------------------------------

    def bearer(self) -> str | None:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None

    def require_json(self) -> None:
        kind = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise UnsupportedMediaTypeError()

    async def _next(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self._body_done = True
            self.gone.set()
        elif not message.get("more_body", False):
            self._body_done = True
        return message

    async def body(self, limit: int) -> bytes:
        """The whole body; `RequestTooLargeError` past `limit` bytes (the rest stays unread
        until `drain`)."""
        declared = self.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise RequestTooLargeError()
        parts: list[bytes] = []
        size = 0
        while not self._body_done:
            message = await self._next()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestTooLargeError()
            parts.append(chunk)
        return b"".join(parts)

    async def drain(self) -> None:
        """Read and drop what is left of the body, within bounds."""
        left, deadline = DRAIN_LIMIT, time.monotonic() + DRAIN_SECONDS
        while not self._body_done and left > 0 and time.monotonic() < deadline:
            try:
                message = await asyncio.wait_for(self._next(), deadline - time.monotonic())
            except TimeoutError:
                return
            left -= len(message.get("body", b""))

    def watch(self, on_gone: Callable[[], object]) -> asyncio.Task[None]:
        """Call `on_gone()` when the client hangs up (cancel the task when done)."""

        async def listen() -> None:
            while not self.gone.is_set():
                await self._next()
            on_gone()

        return asyncio.get_running_loop().create_task(listen())

    # -- the answer --------------------------------------------------------------------------

    async def json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        """Answer with a JSON document (after dropping any unread body)."""
        await self.drain()
        payload = json.dumps(body, ensure_ascii=False).encode()
        raw = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"cache-control", b"no-store"),
        ]
        raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        await self._send({"type": "http.response.start", "status": status, "headers": raw})
        await self._send({"type": "http.response.body", "body": payload})

    async def start_stream(self, headers: Mapping[str, str]) -> None:
        """Begin a `text/event-stream` answer (gzip when the client accepts it)."""
        raw = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),  # proxies such as nginx must not hold events back
            (b"vary", b"accept-encoding"),
        ]
        if "gzip" in self.headers.get("accept-encoding", "").lower():
            # A 4 kB window holds several events: enough to find the repeated envelope.
            self._gzip = zlib.compressobj(6, zlib.DEFLATED, 16 + 12, 5)
            raw.append((b"content-encoding", b"gzip"))
        raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        await self._send({"type": "http.response.start", "status": 200, "headers": raw})
        self._started = True

    async def write(self, data: bytes) -> None:
        if self._gzip is not None:
            data = self._gzip.compress(data) + self._gzip.flush(zlib.Z_SYNC_FLUSH)
        try:
            await self._send({"type": "http.response.body", "body": data, "more_body": True})
        except OSError:  # the client left between two events (uvicorn's ClientDisconnected)
            self.gone.set()

    async def end(self) -> None:
        tail = self._gzip.flush(zlib.Z_FINISH) if self._gzip is not None else b""
        with contextlib.suppress(OSError):
            await self._send({"type": "http.response.body", "body": tail})

    @property
    def started(self) -> bool:
        return self._started


__all__ = ["DRAIN_LIMIT", "Exchange"]
