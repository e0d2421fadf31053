"""The chat API, OpenAI-compatible, served by the app's own process (see docs/api.md).

    POST /api/v1/chat/completions      a turn: streamed (server-sent events) or not
    GET  /api/v1/models                the roles the key may use (`/models/{id}`: one)
    WS   /api/v1/ws                    many turns on one connection (`server.chat_socket`)

Every request carries a personal API key (`Authorization: Bearer mra_...`, made on the Account
page) and is let in by `ApiKeys.admit`, which also counts it against the key's limits. A turn
is stored exactly like one typed in the browser (`Turns.send`: the user's message is committed
before the model is called, the reply is checkpointed as it grows), so it shows in the owner's
History and Sentiment pages, and the Chat page can follow it live.

Which stored conversation a request goes to: the `conversation_id` it names (an extra body
field; another user's id is one that does not exist), else the one whose turns the request's
earlier messages repeat (OpenAI clients send the whole conversation every time, see
`ApiKeys.thread_conversation`), else a new one. Responses name it in the `X-Conversation-Id`
header and a `conversation_id` field.

A client that hangs up before the reply has ended stops it: the connection to the model
closes (no billing for a reply nobody reads) and the reply is stored as stopped. So does
revoking the key, within a second, on whichever replica the stream runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from assistant.api_keys import Caller
from assistant.context import ChatTurn
from assistant.errors import GENERIC_SENTENCE, AssistantError
from assistant.replies import ReplyTask
from assistant.reply import Reply, ReplyStatus
from assistant.roles import roles_for
from assistant.services import Services
from assistant.settings import Settings
from assistant.turns import Sent
from server import api_responses as responses
from server.api_context import ApiContext
from server.api_requests import (
    MAX_BODY_BYTES,
    CompletionRequest,
    RoleNotAvailableError,
    parse_completion,
)
from server.api_streams import OpenStream, finished, first_update, updates
from server.http_exchange import Exchange

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
#: Seconds a stream waits for the model's first text before it begins without it (see
#: `Completions._stream`); proxies commonly give up on a silent response after 60 s.
HOLD_HEADERS = 10.0
#: Seconds of silence after which a stream sends a keep-alive comment.
KEEPALIVE_EVERY = 10.0
REVOKED_SENTENCE = "The API key was revoked. The reply was stopped; what arrived is kept."


@dataclass
class Turn:
    """A stored turn being answered, and what its request asked for."""

    request: CompletionRequest
    sent: Sent
    threaded: bool  # its conversation was found (or made) from the request's own messages

    @property
    def task(self) -> ReplyTask:
        return self.sent.task

    def name(self, reply: Reply) -> str:
        choice = self.request.choice
        return responses.model_name(choice.role.id, reply.model or choice.model)


def _start_turn(services: Services, caller: Caller, body: bytes) -> Turn:
    """Check the request and store its turn (on a worker thread: this reads the database,
    decodes images and writes the message)."""
    owner = caller.user
    request = parse_completion(
        body, roles=roles_for(services.store, owner), assistant=services.assistant
    )
    conversation_id = request.conversation_id
    history: tuple[ChatTurn, ...] | None = None
    threaded = conversation_id is None
    if threaded:
        history = request.prior
        conversation_id = services.api_keys.thread_conversation(owner.id, request.prior)
    sent = services.turns.send(
        owner.id,
        conversation_id,
        request.text,
        request.images,
        role=request.choice.role,
        model=request.choice.model,
        history=history,
    )
    return Turn(request, sent, threaded)


def _remember(services: Services, caller: Caller, turn: Turn, reply: Reply) -> None:
    """After a complete reply, the next request that repeats this conversation continues it."""
    if not turn.threaded or reply.status != ReplyStatus.COMPLETE or not reply.text:
        return
    request = turn.request
    turns = (
        *request.prior,
        ChatTurn("user", request.text, request.images),
        ChatTurn("assistant", reply.text),
    )
    try:
        services.api_keys.remember_thread(caller.user.id, turns, turn.sent.conversation_id)
    except AssistantError:  # the next request starts a new conversation; nothing is lost
        log.warning("could not remember an API conversation", exc_info=True)


class Completions:
    """POST /api/v1/chat/completions (an ASGI app: see `server.http_exchange`)."""

    def __init__(self, context: ApiContext) -> None:
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = Exchange(scope, receive, send)
        try:
            await self._serve(exchange)
        except Exception:  # the boundary: a bug answers with a sentence, the log keeps it
            log.exception("chat completion failed")
            if not exchange.started:
                body = responses.error_object(GENERIC_SENTENCE, "server_error", "server_error")
                with contextlib.suppress(Exception):
                    await exchange.json(500, body)

    async def _serve(self, exchange: Exchange) -> None:
        try:
            services = await self.context.ready()
            token = exchange.bearer()
            caller = await run_in_threadpool(services.api_keys.admit, token, stream=True)
        except AssistantError as error:
            await _refuse(exchange, error)
            return
        stream = self.context.streams.open(caller.key_id, caller.stream_id, lambda: None)
        try:
            await self._answer(exchange, services, caller, stream)
        finally:
            await self.context.streams.close(stream)

    async def _answer(
        self, exchange: Exchange, services: Services, caller: Caller, stream: OpenStream
    ) -> None:
        try:
            exchange.require_json()
            body = await exchange.body(MAX_BODY_BYTES)
            turn = await run_in_threadpool(_start_turn, services, caller, body)
        except AssistantError as error:
            await _refuse(exchange, error)
            return
        revoked = asyncio.Event()

        def on_revoked() -> None:
            revoked.set()
            turn.task.stop()

        stream.on_revoked = on_revoked
        listener = exchange.watch(turn.task.stop)  # a client that leaves stops its reply
        try:
            if turn.request.stream:
                await self._stream(exchange, turn, revoked)
            else:
                await self._complete(exchange, turn, revoked)
        finally:
            listener.cancel()
        if turn.task.done:
            _, reply = turn.task.snapshot()
            await run_in_threadpool(_remember, services, caller, turn, reply)

    async def _complete(self, exchange: Exchange, turn: Turn, revoked: asyncio.Event) -> None:
        reply = await finished(turn.task)
        if exchange.gone.is_set():
            return
        headers = {"X-Conversation-Id": turn.sent.conversation_id}
        if revoked.is_set():
            body = responses.error_object(REVOKED_SENTENCE, "invalid_request_error", "revoked")
            await exchange.json(401, body, headers)
        elif reply.status != ReplyStatus.COMPLETE:
            status, body = responses.reply_error(
                reply, conversation_id=turn.sent.conversation_id, reply_id=turn.task.reply_id
            )
            await exchange.json(status, body, headers)
        else:
            body = responses.completion(
                turn.task.reply_id,
                turn.name(reply),
                reply,
                conversation_id=turn.sent.conversation_id,
                message_id=turn.sent.message.id,
            )
            await exchange.json(200, body, headers)

    async def _stream(self, exchange: Exchange, turn: Turn, revoked: asyncio.Event) -> None:
        """Errors before the first token are plain HTTP errors, as OpenAI's (and OpenRouter's)
        are: the stream, and its status line, begins with the first text. A model still silent
        after `HOLD_HEADERS` gets its stream begun anyway, with keep-alive comments while it
        thinks, so that proxies between the client and the server do not give up on it; an
        error after that comes as an error chunk."""
        waiting = asyncio.ensure_future(first_update(turn.task))
        await asyncio.wait({waiting}, timeout=HOLD_HEADERS)
        if waiting.done():
            first = waiting.result()
            if exchange.gone.is_set():
                return
            if first.done and not (first.reply.text or first.reply.reasoning):
                await self._complete(exchange, turn, revoked)
                return
        else:
            waiting.cancel()
        conversation_id = turn.sent.conversation_id
        _, now = turn.task.snapshot()
        writer = responses.ChunkWriter(
            turn.task.reply_id, turn.name(now), include_usage=turn.request.include_usage
        )
        await exchange.start_stream({"X-Conversation-Id": conversation_id})
        # The role chunk leaves with the first text, in one write, unless the model is silent.
        opening = writer.first(conversation_id)
        if not waiting.done():
            await exchange.write(opening)
            opening = b""
        stream = updates(turn.task)
        try:
            while not exchange.gone.is_set():
                step = asyncio.ensure_future(anext(stream))
                while not (await asyncio.wait({step}, timeout=KEEPALIVE_EVERY))[0]:
                    if exchange.gone.is_set():
                        step.cancel()
                        return
                    await exchange.write(b": keep-alive\n\n")
                try:
                    update = step.result()
                except StopAsyncIteration:
                    break
                events = opening
                opening = b""
                if update.text or update.reasoning:
                    events += writer.delta(update.text, update.reasoning)
                if update.done:
                    events += self._ending(writer, update.reply, revoked)
                if events:
                    await exchange.write(events)
        finally:
            await stream.aclose()
        await exchange.end()

    @staticmethod
    def _ending(writer: responses.ChunkWriter, reply: Reply, revoked: asyncio.Event) -> bytes:
        if revoked.is_set():
            return writer.error_sentence(REVOKED_SENTENCE, "revoked")
        if reply.status == ReplyStatus.COMPLETE:
            return writer.finish(reply)
        return writer.error(reply)


async def _refuse(exchange: Exchange, error: AssistantError) -> None:
    status, body = responses.error_of(error)
    headers = {}
    wait = responses.retry_after(error)
    if wait is not None:
        headers["Retry-After"] = str(wait)
    if status >= 500:
        log.warning("API request failed: %s (%s)", type(error).__name__, error.detail or error)
    await exchange.json(status, body, headers)


class Models:
    """GET /api/v1/models and /api/v1/models/{id}: the roles this key may use."""

    def __init__(self, context: ApiContext) -> None:
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = Exchange(scope, receive, send)
        wanted = scope.get("path_params", {}).get("model_id")
        try:
            services = await self.context.ready()
            caller = await run_in_threadpool(services.api_keys.admit, exchange.bearer())
            roles = await run_in_threadpool(roles_for, services.store, caller.user)
        except AssistantError as error:
            await _refuse(exchange, error)
            return
        listed = [
            {
                "id": role.id,
                "object": "model",
                "created": 0,
                "owned_by": caller.user.label if role.custom else "assistant",
                "name": role.name,
                "description": role.description,
            }
            for role in roles.values()
        ]
        if wanted is None:
            await exchange.json(200, {"object": "list", "data": listed})
            return
        found = next((entry for entry in listed if entry["id"] == wanted), None)
        if found is None:
            await _refuse(exchange, RoleNotAvailableError(wanted))
            return
        await exchange.json(200, found)


def routes(source: ApiContext | Callable[[], Settings], base_path: str = "") -> list[BaseRoute]:
    """The API's routes, under `base_path` (Streamlit's `server.baseUrlPath`, if any).

    `source` is the settings to build the process's services from when the first request
    arrives (the app's own: environment, then secrets), or a ready `ApiContext`."""
    from server.chat_socket import ChatSocket

    context = source if isinstance(source, ApiContext) else ApiContext(source)
    prefix = ("/" + base_path.strip("/") if base_path.strip("/") else "") + PREFIX
    return [
        Route(f"{prefix}/chat/completions", Completions(context), methods=["POST"]),
        Route(f"{prefix}/models", Models(context), methods=["GET"]),
        Route(f"{prefix}/models/{{model_id:path}}", Models(context), methods=["GET"]),
        WebSocketRoute(f"{prefix}/ws", ChatSocket(context)),
    ]


__all__ = ["PREFIX", "Completions", "Models", "routes"]
