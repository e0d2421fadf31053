"""WS /api/v1/ws: one connection for many turns, in small JSON messages (see docs/api.md).

    client → server                                   server → client
    {"type": "auth", "key": "mra_..."}                {"type": "ready", "version": 1}
    {"type": "send", "ref", "conversation_id",        {"type": "accepted", "ref", "conversation_id",
     "model", "text", "images": [data URLs]}           "message_id", "reply_id"}
                                                      {"type": "delta", "reply_id", "text"}
                                                      {"type": "usage", "reply_id", ...tokens}
                                                      {"type": "done", "reply_id", "status", ...}
    {"type": "stop", "reply_id"}                      {"type": "stopped", "reply_id"}
    {"type": "resume", "conversation_id", "after"}    {"type": "message", ...} per stored message,
                                                       then {"type": "resumed", ...} and deltas
    {"type": "ping"}                                  {"type": "pong"}
                                                      {"type": "error", "ref", "code", "message"}

The key comes in the `Authorization: Bearer` header or, for clients that cannot set headers
(browsers), in an `auth` message first. The server's WebSocket pings keep the connection alive
(uvicorn's `ws_ping_interval`); `ping` is for clients that cannot send protocol pings.

A reply started here runs on the server, like one started in the browser. When the socket
closes, its replies go on for `RESUME_GRACE` seconds so that a client that reconnects and
sends `resume` gets them whole; a reply nobody follows after that is stopped (stored as
stopped, the model's connection closed). `resume` sends the conversation's stored messages
after the one named by `after` (all of them without it), then the deltas of a reply still
running: followed live when this process produces it, otherwise read from the store every
second as it is checkpointed (another replica produces it).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from assistant.api_keys import Caller, InvalidApiKeyError
from assistant.errors import AssistantError, InputError
from assistant.limits import check_turn
from assistant.replies import ReplyTask
from assistant.reply import Reply
from assistant.roles import DEFAULT_ROLE_ID, roles_for
from assistant.services import Services
from assistant.store import Message, NotFoundError
from assistant.turns import Sent
from assistant.upkeep import STALE_AFTER
from server import api_responses as responses
from server.api_context import ApiContext
from server.api_requests import (
    MAX_BODY_BYTES,
    RequestTooLargeError,
    choose,
    decode_json,
    image_from_url,
    unicode_text,
)
from server.api_streams import OpenStream, finished, updates

log = logging.getLogger(__name__)

VERSION = 1
#: Seconds a client has to send its `auth` message when the handshake carried no key.
AUTH_WAIT = 10.0
#: Seconds a reply goes on after its socket closed, waiting for the client to resume it.
RESUME_GRACE = 30.0
#: Seconds between two reads of a reply another replica produces.
POLL_EVERY = 1.0
CLOSE_UNAUTHORIZED = 4401


def message_json(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": message.id,
        "role": message.role,
        "text": message.text,
        "status": str(message.status),
        "created_at": message.created_at.isoformat(),
        "images": len(message.images),
    }
    if message.role == "assistant":
        out.update(
            model=message.model,
            finish_reason=message.finish_reason,
            error=message.error,
        )
    return out


def _done(reply_id: str, conversation_id: str, reply: Reply) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "done",
        "reply_id": reply_id,
        "conversation_id": conversation_id,
        "status": str(reply.status),
        "finish_reason": reply.finish_reason or None,
        "model": reply.model or reply.requested_model or None,
    }
    if reply.error:
        out["error"] = reply.error
        out["code"] = responses.classify_reply(reply)[2]
    return out


class ChatSocket:
    """The endpoint; one `Session` per connection."""

    def __init__(self, context: ApiContext) -> None:
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        socket = WebSocket(scope, receive, send)
        await socket.accept()
        try:
            services = await self.context.ready()
        except AssistantError as error:
            await _close_with(socket, error, 1011)
            return
        session = Session(self.context, services, socket)
        try:
            await session.run()
        except WebSocketDisconnect:
            pass
        except Exception:  # the boundary: log it, tell the client in a sentence
            log.exception("chat socket failed")
            await _close_with(socket, AssistantError(), 1011)
        finally:
            await session.end()


async def _close_with(socket: WebSocket, error: AssistantError, code: int) -> None:
    with contextlib.suppress(Exception):
        error_code = responses.classify(error)[2]
        await socket.send_text(
            json.dumps({"type": "error", "code": error_code, "message": str(error)})
        )
        await socket.close(code)


class Session:
    """One connection: who it is, what it follows, one writer at a time."""

    def __init__(self, context: ApiContext, services: Services, socket: WebSocket) -> None:
        self.context = context
        self.services = services
        self.socket = socket
        self._send_lock = asyncio.Lock()
        self._followers: set[asyncio.Task[None]] = set()
        self._caller: Caller | None = None
        self._token: str | None = None
        self._registration: OpenStream | None = None

    # -- plumbing -----------------------------------------------------------------------------

    async def send(self, message: Mapping[str, Any]) -> None:
        if self.socket.application_state != WebSocketState.CONNECTED:
            return
        async with self._send_lock:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
                await self.socket.send_text(json.dumps(message, ensure_ascii=False))

    async def error(self, error: AssistantError, ref: Any = None) -> None:
        status, _, code = responses.classify(error)
        message: dict[str, Any] = {"type": "error", "code": code, "status": status}
        message["message"] = str(error)
        if ref is not None:
            message["ref"] = ref
        wait = responses.retry_after(error)
        if wait is not None:
            message["retry_after"] = wait
        await self.send(message)

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._followers.add(task)
        task.add_done_callback(self._followers.discard)

    # -- the conversation ---------------------------------------------------------------------

    async def run(self) -> None:
        caller = await self._authenticate()
        if caller is None:
            return
        self._caller = caller
        self._registration = self.context.streams.open(caller.key_id, None, self._on_revoked)
        await self.send({"type": "ready", "version": VERSION})
        while True:
            raw = await self.socket.receive()
            if raw["type"] == "websocket.disconnect":
                return
            text = raw.get("text")
            if text is None:
                await self.error(InputError("Send JSON messages as text frames."))
                continue
            if len(text) > MAX_BODY_BYTES:
                await self.error(RequestTooLargeError())
                continue
            try:
                data = decode_json(text.encode("utf-8", "surrogatepass"))
            except AssistantError as error:
                await self.error(error)
                continue
            await self._handle(data)

    async def _authenticate(self) -> Caller | None:
        scheme, _, token = self.socket.headers.get("authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else ""
        if not key:
            try:
                raw = await asyncio.wait_for(self.socket.receive_text(), AUTH_WAIT)
                first = json.loads(raw)
            except (TimeoutError, ValueError, KeyError, RuntimeError):
                first = {}
            if isinstance(first, dict) and first.get("type") == "auth":
                key = str(first.get("key") or "")
        self._token = key or None
        try:
            return await run_in_threadpool(self.services.api_keys.admit, self._token)
        except AssistantError as error:
            code = CLOSE_UNAUTHORIZED if isinstance(error, InvalidApiKeyError) else 1008
            await self.error(error)
            await self.socket.close(code)
            return None

    def _on_revoked(self) -> None:
        asyncio.get_running_loop().create_task(self._close_revoked())

    async def _close_revoked(self) -> None:
        await self.error(InvalidApiKeyError("The API key was revoked."))
        with contextlib.suppress(Exception):
            await self.socket.close(CLOSE_UNAUTHORIZED)

    async def _handle(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        ref = data.get("ref")
        try:
            if kind == "send":
                await self._send_turn(data)
            elif kind == "stop":
                await self._stop(data)
            elif kind == "resume":
                await self._resume(data)
            elif kind == "ping":
                await self.send({"type": "pong"})
            else:
                raise InputError("Unknown message type. Send one of: send, stop, resume, ping.")
        except AssistantError as error:
            await self.error(error, ref)

    async def _send_turn(self, data: dict[str, Any]) -> None:
        keys = self.services.api_keys
        caller = await run_in_threadpool(keys.admit, self._token, stream=True)
        stream = self.context.streams.open(caller.key_id, caller.stream_id, lambda: None)
        try:
            sent = await run_in_threadpool(self._start, caller, data)
        except BaseException:
            await self.context.streams.close(stream)
            raise
        task = sent.task
        stream.on_revoked = task.stop
        self.context.keep(self._hold(stream, task))  # the slot is held until the reply ends
        accepted = {
            "type": "accepted",
            "conversation_id": sent.conversation_id,
            "message_id": sent.message.id,
            "reply_id": task.reply_id,
        }
        if data.get("ref") is not None:
            accepted["ref"] = data["ref"]
        await self.send(accepted)
        self._spawn(self._follow(task, sent.conversation_id))

    def _start(self, caller: Caller, data: Mapping[str, Any]) -> Sent:
        """Check a `send` message and store its turn (on a worker thread)."""
        unknown = sorted(set(data) - SEND_FIELDS)
        if unknown:
            raise InputError(f"Unrecognized field in a send message: {unknown[0]}")
        text = data.get("text", "")
        if not isinstance(text, str):
            raise InputError("The field 'text' must be a string.")
        urls = data.get("images") or []
        if not isinstance(urls, list):
            raise InputError("The field 'images' must be a list of data URLs.")
        check_turn(unicode_text(text, "The message"), len(urls))
        conversation_id = data.get("conversation_id")
        if conversation_id is not None and not isinstance(conversation_id, str):
            raise InputError("The field 'conversation_id' must be a string.")
        owner = caller.user
        roles = roles_for(self.services.store, owner)
        name = data.get("model")
        if name is None:
            name = self._stored_choice(owner.id, conversation_id, roles)
        choice = choose(name, roles, self.services.assistant)
        images = tuple(image_from_url(url, f"Image {n}") for n, url in enumerate(urls, 1))
        return self.services.turns.send(
            owner.id, conversation_id, text, images, role=choice.role, model=choice.model
        )

    def _stored_choice(
        self, owner_id: int, conversation_id: str | None, roles: Mapping[str, Any]
    ) -> str:
        """A `send` without a model goes on with the conversation's role and model."""
        if conversation_id is None:
            return DEFAULT_ROLE_ID
        stored = self.services.store.get_conversation(owner_id, conversation_id).conversation
        role_id = stored.role_id if stored.role_id in roles else DEFAULT_ROLE_ID
        catalogue = self.services.assistant.catalogue
        if stored.model and (not catalogue.loaded or catalogue.get(stored.model) is not None):
            return f"{role_id}@{stored.model}"
        return role_id

    async def _hold(self, stream: OpenStream, task: ReplyTask) -> None:
        try:
            await finished(task)
        finally:
            await self.context.streams.close(stream)

    async def _follow(
        self, task: ReplyTask, conversation_id: str, text_from: int = 0, reasoning_from: int = 0
    ) -> None:
        reply_id = task.reply_id
        self.context.follow(reply_id)
        try:
            async for update in updates(task, text_from=text_from, reasoning_from=reasoning_from):
                if update.text or update.reasoning:
                    delta: dict[str, Any] = {"type": "delta", "reply_id": reply_id}
                    delta["text"] = update.text
                    if update.reasoning:
                        delta["reasoning"] = update.reasoning
                    await self.send(delta)
                if update.done:
                    await self._finish(reply_id, conversation_id, update.reply)
        finally:
            self.context.unfollow(task, grace=RESUME_GRACE)

    async def _finish(self, reply_id: str, conversation_id: str, reply: Reply) -> None:
        usage = responses.usage_of(reply)
        if usage is not None:
            await self.send({"type": "usage", "reply_id": reply_id, **usage})
        await self.send(_done(reply_id, conversation_id, reply))

    async def _stop(self, data: Mapping[str, Any]) -> None:
        reply_id = data.get("reply_id")
        owner = self._owner()
        if not isinstance(reply_id, str) or self.services.replies.find(owner, reply_id) is None:
            raise ReplyNotRunningError()
        await run_in_threadpool(self.services.turns.stop, owner, reply_id)
        await self.send({"type": "stopped", "reply_id": reply_id})

    async def _resume(self, data: Mapping[str, Any]) -> None:
        conversation_id = data.get("conversation_id")
        after = data.get("after")
        if not isinstance(conversation_id, str) or (
            after is not None and not isinstance(after, str)
        ):
            raise InputError(
                "Resume needs a 'conversation_id', and 'after' (a message id) or none."
            )
        owner = self._owner()
        messages = await run_in_threadpool(self._read, owner, conversation_id)
        ids = [message.id for message in messages]
        start = ids.index(after) + 1 if after in ids else 0
        for message in messages[start:]:
            task = self.services.replies.find(owner, message.id) if message.is_streaming else None
            if task is not None:
                _, reply = task.snapshot()
                live = dataclasses.replace(message, text=reply.text, reasoning=reply.reasoning)
                await self.send(_message(conversation_id, live))
                self._spawn(
                    self._follow(task, conversation_id, len(reply.text), len(reply.reasoning))
                )
                continue
            await self.send(_message(conversation_id, message))
            if message.is_streaming:
                self._spawn(self._poll(owner, conversation_id, message))
        await self.send(
            {
                "type": "resumed",
                "conversation_id": conversation_id,
                "last_message_id": ids[-1] if ids else None,
                "from_start": after is not None and start == 0,
            }
        )

    def _read(self, owner_id: int, conversation_id: str) -> list[Message]:
        """The conversation's shown messages, after marking interrupted the replies whose
        writer died (no heartbeat), so none is followed for ever."""
        store = self.services.store
        detail = store.get_conversation(owner_id, conversation_id)
        if any(m.is_streaming for m in detail.messages):
            store.recover_stale_replies(
                STALE_AFTER, owner_id=owner_id, conversation_id=conversation_id
            )
            detail = store.get_conversation(owner_id, conversation_id)
        return list(detail.messages)

    async def _poll(self, owner_id: int, conversation_id: str, message: Message) -> None:
        """Follow a reply another replica produces, through its checkpoints in the store."""
        seen = message.text
        while True:
            await asyncio.sleep(POLL_EVERY)
            try:
                current = await run_in_threadpool(
                    self.services.store.get_message, owner_id, message.id
                )
            except AssistantError:
                return
            if current.text.startswith(seen) and len(current.text) > len(seen):
                await self.send(
                    {"type": "delta", "reply_id": message.id, "text": current.text[len(seen) :]}
                )
                seen = current.text
            if not current.is_streaming:
                await self._finish(message.id, conversation_id, Reply.from_message(current))
                return

    def _owner(self) -> int:
        assert self._caller is not None
        return self._caller.user.id

    async def end(self) -> None:
        """The socket has closed: stop following (its replies get `RESUME_GRACE`)."""
        for task in list(self._followers):
            task.cancel()
        if self._registration is not None:
            await self.context.streams.close(self._registration)


class ReplyNotRunningError(NotFoundError):
    sentence = "That reply is not running (it has ended, or it does not exist)."


def _message(conversation_id: str, message: Message) -> dict[str, Any]:
    return {"type": "message", "conversation_id": conversation_id, "message": message_json(message)}


SEND_FIELDS = frozenset({"type", "ref", "conversation_id", "model", "text", "images"})

__all__ = ["RESUME_GRACE", "VERSION", "ChatSocket", "message_json"]
