"""Streaming chat client for OpenRouter and any OpenAI-compatible server.

`ChatClient.stream_chat` is a generator of typed events (assistant/events.py) that never raises
an `AssistantError`: every reply ends with exactly one `Finished` or `Failed`, and text that
arrived before a failure stays with the consumer; except a stopped reply, which simply ends.

Stopping. Closing the generator from the thread that iterates it hangs up. From any other
thread, `Cancellation.cancel()` (assistant/cancellation.py) hangs up whatever the request is
doing (connecting, sending, waiting for the headers or the first token, streaming, sleeping
before a retry, between fallback models): the attempt's socket is shut down at once, which wakes
the blocked read, and the generator then ends WITHOUT a `Finished` or `Failed` event, and without
the events of any chunk read after the stop; its consumer marks the reply stopped. No retry or
fallback starts after a stop. Sockets are known before the response headers thanks to the
transport in assistant/transport.py; a hung-up connection is never pooled again.

Timing. httpx's read timeout cannot express "no content for N seconds": keep-alive comments
reset it, and it cannot be a short polling tick either, because a read timeout closes the
response. So the client compares the time since the last content with its bound after every
read (which catches a server that sends only keep-alives), and a watchdog thread
(assistant/deadlines.py) shuts down the socket of a stream whose deadline passed (which wakes a
read blocked on a silent server at the deadline). The httpx read timeout is only a backstop.
Time the consumer spends between our yields does not count: the server is not being read then.

Recovery. Retries (408, 429, 5xx, network errors, timeouts) and then the fallback models are
tried only while nothing has reached the consumer, so a reply is never duplicated. `ModelUsed`
is held back until the attempt's first other event, which is why it is sent exactly once.
Fallbacks are client-side (not OpenRouter's `models` field) so they work with any server. When
every candidate fails, the requested model's failure is reported (an outage is not hidden behind
a fallback's "invalid model"), unless a fallback's says something about the account or the input
that holds for every model (key, credits, moderation).

Chunks become events in assistant/chunks.py; error answers become AssistantErrors in
assistant/provider_errors.py. This module owns only the I/O, the timing and the recovery.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from types import TracebackType
from typing import Any

import httpx

from assistant.cancellation import Cancellation
from assistant.chunks import ReplyReader
from assistant.deadlines import Deadline, Watchdog
from assistant.errors import (
    AssistantError,
    AuthenticationError,
    ConfigurationError,
    InsufficientCreditsError,
    ModerationError,
    NetworkError,
    ReplyInterruptedError,
    ReplyTimeoutError,
    UnexpectedError,
)
from assistant.events import Event, Failed, Finished, ModelUsed, ReasoningDelta, TextDelta
from assistant.provider_errors import DETAIL_LIMIT, error_from_status
from assistant.settings import Settings
from assistant.sse import SSEMessage, SSEParser
from assistant.transport import HANGUP, HangupTransport

__all__ = ["ChatClient"]

logger = logging.getLogger(__name__)

BACKOFF_BASE = 0.5  # seconds before the first retry; doubles each time, with jitter
BACKOFF_CAP = 8.0
MAX_ERROR_BODY = 64_000  # bytes of an error body worth reading
DRAIN_WAIT = 0.25  # after [DONE], how long to wait for the body's end so the connection is reused


#: Failures about the account or the input: every model would answer the same.
_WHATEVER_THE_MODEL = (AuthenticationError, InsufficientCreditsError, ModerationError)


def _may_retry(error: AssistantError) -> bool:
    # An interruption before any content is as safe to repeat as a network error.
    return error.retryable or isinstance(error, ReplyInterruptedError)


def _most_telling(failures: list[AssistantError]) -> AssistantError:
    """The failure to report once every candidate failed: the requested model's (the first),
    unless a fallback's holds whatever the model (a fallback's unknown id or outage says
    nothing about the model the user asked for)."""
    for failure in failures[1:]:
        if isinstance(failure, _WHATEVER_THE_MODEL):
            return failure
    return failures[0]


class ChatClient:
    """One pooled, thread-safe HTTP client per process; streams replies as typed events."""

    def __init__(
        self,
        settings: Settings,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._base = settings.base_url.rstrip("/")
        self._owns_http = http_client is None
        # Idle connections are dropped before the 5 s after which llama.cpp's server (the
        # bundled model) closes them, so a reused connection is never a closed one.
        limits = httpx.Limits(
            max_connections=500, max_keepalive_connections=50, keepalive_expiry=4.0
        )
        # A transport or client of the caller's still stops at once after the response headers;
        # ours also before them (assistant/transport.py).
        self._http = http_client or httpx.Client(
            transport=transport or HangupTransport(limits=limits), limits=limits
        )
        self._sleep = sleep  # None: real time, cut short by a stop; tests pass a recorder
        self._clock = clock
        self._jitter = jitter
        self._watchdog = Watchdog(clock)

    def close(self) -> None:
        self._watchdog.stop()
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- public API ------------------------------------------------------------------------

    def stream_chat(
        self,
        messages: list[dict[str, Any]],
        model: str,
        *,
        temperature: float | None = None,
        fallback_models: Sequence[str] = (),
        max_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
        cancel: Cancellation | None = None,
    ) -> Iterator[Event]:
        """Stream one reply; the last event is `Finished` or `Failed`. Closing it hangs up.

        `cancel.cancel()`, from any thread, hangs up too; the stream then ends with no final
        event (see the module docstring).
        """
        cancel = cancel if cancel is not None else Cancellation()
        body: dict[str, Any] = {
            "model": model,
            "messages": list(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if temperature is not None:
            body["temperature"] = temperature
        limit = max_tokens if max_tokens is not None else self._settings.max_tokens
        if limit:
            body["max_tokens"] = limit
        if response_format is not None:
            body["response_format"] = response_format
            if self._settings.uses_openrouter:  # else the parameter may be silently dropped
                body["provider"] = {"require_parameters": True}
        candidates = list(dict.fromkeys([model, *(m for m in fallback_models if m)]))
        inner = self._stream_with_recovery(body, candidates, cancel)
        ended = False
        try:
            for event in inner:
                ended = isinstance(event, (Finished, Failed))
                yield event
        except Exception as exc:  # a bug must still end the reply with a sentence
            logger.exception("chat stream for %s failed unexpectedly", model)
            if not ended and not cancel.cancelled:
                yield Failed(UnexpectedError(detail=self._scrub(f"{type(exc).__name__}: {exc}")))
        finally:
            inner.close()

    def complete(
        self,
        messages: list[dict[str, Any]],
        model: str,
        *,
        temperature: float | None = None,
        max_tokens: int,
    ) -> str:
        """One short answer, not streamed (`stream: false`): its text, or the mapped
        AssistantError. No retries and no fallbacks: for extras such as a conversation's title,
        where a failure simply keeps what there was. A streamed request costs the process a
        read and an event per token; this one a single JSON body."""
        body: dict[str, Any] = {
            "model": model,
            "messages": list(messages),
            "stream": False,
            "max_tokens": max_tokens,
        }
        if temperature is not None:
            body["temperature"] = temperature
        response = self._send(
            "POST", "/chat/completions", self._settings.first_token_timeout, body=body
        )
        if not response.is_success:
            raise self._status_error(response.status_code, response.content, response.headers)
        payload = _json_or_none(response)
        choices = payload.get("choices") if isinstance(payload, dict) else None
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise UnexpectedError(detail="a completion without a message's text")
        return content

    def list_models(self) -> list[dict[str, Any]]:
        """The server's model catalogue (`GET /models`); raises the mapped AssistantError."""
        data = self._get_json("/models").get("data")
        if not isinstance(data, list):
            raise UnexpectedError(detail="model list without a 'data' list")
        return [entry for entry in data if isinstance(entry, dict)]

    # -- internals -------------------------------------------------------------------------

    def _headers(self, *, streaming: bool = False) -> dict[str, str]:
        settings = self._settings
        headers = {"Accept": "text/event-stream" if streaming else "application/json"}
        if streaming:
            headers["Accept-Encoding"] = "identity"  # a compressing proxy would batch the events
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        if settings.app_url:
            headers["HTTP-Referer"] = settings.app_url
        if settings.app_name:
            headers["X-OpenRouter-Title"] = settings.app_name.encode("ascii", "replace").decode()
        return headers

    def _timeout(self, read: float) -> httpx.Timeout:
        connect = self._settings.connect_timeout
        return httpx.Timeout(connect=connect, read=read, write=max(connect, read), pool=connect)

    def _scrub(self, text: str) -> str:
        key = self._settings.api_key
        return text.replace(key, "[key]") if key else text

    def _stream_with_recovery(
        self, body: dict[str, Any], candidates: list[str], cancel: Cancellation
    ) -> Generator[Event, None, None]:
        requested = candidates[0]
        waited = 0.0
        failures: list[AssistantError] = []
        for index, candidate in enumerate(candidates):
            retries = 0
            while True:
                if cancel.cancelled:
                    return
                attempt = self._attempt({**body, "model": candidate}, requested, index > 0, cancel)
                held: ModelUsed | None = None
                committed = False
                failure: AssistantError | None = None
                try:
                    for event in attempt:
                        if isinstance(event, ModelUsed) and not committed:
                            held = event
                        elif isinstance(event, Failed) and not committed:
                            failure = event.error
                        else:
                            if not committed:
                                committed = True
                                yield held or ModelUsed(
                                    candidate, requested, "fallback" if index > 0 else ""
                                )
                            yield event
                finally:
                    attempt.close()
                if failure is None or cancel.cancelled:
                    return  # finished, failed after text (already yielded), or stopped
                if not _may_retry(failure):
                    break
                delay = getattr(failure, "retry_after", None)
                if delay is None:
                    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2**retries)
                    delay *= 0.5 + self._jitter() / 2
                if retries >= self._settings.max_retries or delay > (
                    self._settings.retry_budget - waited
                ):
                    logger.warning(
                        "giving up on %s before its first token: %s (%s)",
                        candidate,
                        type(failure).__name__,
                        failure.detail,
                    )
                    break
                logger.warning(
                    "retrying %s in %.2f s after %s (%s)",
                    candidate,
                    delay,
                    type(failure).__name__,
                    failure.detail,
                )
                if self._pause(delay, cancel):
                    return
                waited += delay
                retries += 1
            failures.append(failure)
            if not _may_retry(failure):
                break  # 400/401/402/403, images...: the user must act, another model won't help
        if cancel.cancelled:
            return
        yield Failed(_most_telling(failures) if failures else UnexpectedError(detail="no model"))

    def _pause(self, seconds: float, cancel: Cancellation) -> bool:
        """Wait before a retry; True when the reply was stopped meanwhile."""
        if self._sleep is None:
            return cancel.wait(seconds)
        self._sleep(seconds)
        return cancel.cancelled

    def _attempt(
        self, body: dict[str, Any], requested: str, fallback: bool, cancel: Cancellation
    ) -> Generator[Event, None, None]:
        """One request to one model. Ends with `Finished` or `Failed`, or with nothing once
        stopped; never raises httpx errors."""
        settings = self._settings
        model = body["model"]
        deadline = Deadline(self._clock() + settings.first_token_timeout)
        backstop = max(settings.first_token_timeout, settings.stall_timeout)
        forget_cancel = cancel.add_callback(deadline.cancel)
        try:
            request = self._http.build_request(
                "POST",
                f"{self._base}/chat/completions",
                json=body,
                headers=self._headers(streaming=True),
                timeout=self._timeout(backstop),
                extensions={HANGUP: deadline},
            )
            response = self._http.send(request, stream=True)
            try:
                if deadline.cancelled:
                    return
                if not response.is_success:
                    detail_body = _read_limited(response)
                    if deadline.cancelled:
                        return
                    yield Failed(
                        self._status_error(
                            response.status_code, detail_body, response.headers, model=model
                        )
                    )
                    return
                reader = ReplyReader(model, requested, fallback)
                if "json" in response.headers.get("content-type", ""):
                    # The server ignored stream=true and sent the whole completion.
                    events = reader.handle(response.read().decode("utf-8", "replace"))
                    if deadline.cancelled:
                        return
                    reader.done = True
                    yield from events + reader.finish()
                    return
                yield from self._read_stream(response, reader, deadline)
            finally:
                # Let go of the socket before the connection may go back to the pool: a late
                # stop must not shut down a connection that another request reuses.
                deadline.detach()
                response.close()
        except httpx.HTTPError as exc:
            if not deadline.cancelled:
                yield Failed(self._transport_error(exc))
        except httpx.InvalidURL as exc:
            yield Failed(self._bad_url_error(exc))
        finally:
            forget_cancel()

    def _read_stream(
        self, response: httpx.Response, reader: ReplyReader, deadline: Deadline
    ) -> Iterator[Event]:
        network = response.extensions.get("network_stream")
        sock = network.get_extra_info("socket") if network is not None else None
        if sock is not None and deadline.sock is not sock:
            deadline.attach(sock)  # a transport of the caller's did not report it before
        self._watchdog.watch(deadline)
        parser = SSEParser()
        chunks = response.iter_bytes()
        try:
            while not reader.ended:
                try:
                    raw = next(chunks)
                except StopIteration:
                    raw = None
                except httpx.HTTPError as exc:
                    if deadline.cancelled:
                        return
                    if deadline.expired or isinstance(exc, httpx.TimeoutException):
                        how = "silent connection closed" if deadline.expired else "read timeout"
                        yield Failed(self._timeout_error(reader, how))
                        return
                    raw = None  # the connection dropped: judged below like any end
                if deadline.cancelled:
                    return  # what was read after the stop is not the user's to see
                items = parser.feed(raw) if raw is not None else parser.flush()
                events: list[Event] = []
                for item in items:
                    if isinstance(item, SSEMessage) and not reader.ended:
                        events.extend(reader.handle(item.data))
                now = self._clock()
                if any(isinstance(e, (TextDelta, ReasoningDelta)) for e in events):
                    deadline.at = now + self._settings.stall_timeout
                elif now >= deadline.at and raw is not None and not reader.ended:
                    yield from events
                    yield Failed(self._timeout_error(reader, "keep-alives only"))
                    return
                if events:
                    deadline.suspended = True
                    for event in events:
                        if deadline.cancelled:
                            return
                        yield event
                    deadline.at += self._clock() - now
                    deadline.suspended = False
                if raw is None:
                    break
            if reader.done:
                self._drain(chunks, deadline)
            if deadline.cancelled:
                return
            yield from reader.finish()
        finally:
            self._watchdog.unwatch(deadline)

    def _drain(self, chunks: Iterator[bytes], deadline: Deadline) -> None:
        """Read the body's end after [DONE] (briefly), so the pooled connection is reused."""
        deadline.at = self._clock() + DRAIN_WAIT
        with contextlib.suppress(httpx.HTTPError):
            for _ in chunks:
                pass

    def _timeout_error(self, reader: ReplyReader, how: str) -> ReplyTimeoutError:
        if reader.content_seen:
            bound = f"no new content for {self._settings.stall_timeout:g} s"
        else:
            bound = f"no content within {self._settings.first_token_timeout:g} s"
        return ReplyTimeoutError(detail=f"{bound} ({how})")

    def _transport_error(self, exc: Exception) -> AssistantError:
        detail = self._scrub(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, httpx.ReadTimeout):
            return ReplyTimeoutError(detail=detail)
        if isinstance(exc, (httpx.TransportError, httpx.StreamError)):
            if isinstance(exc, httpx.UnsupportedProtocol):
                return self._bad_url_error(exc)
            return NetworkError(detail=f"{self._base}: {detail}")
        return UnexpectedError(detail=detail)

    def _bad_url_error(self, exc: Exception) -> ConfigurationError:
        return ConfigurationError(
            f"The model server address {self._base!r} is not a valid http(s) URL. "
            "Check OPENROUTER_BASE_URL.",
            detail=self._scrub(str(exc)),
        )

    def _status_error(
        self, status: int, body: bytes, headers: httpx.Headers, *, model: str = ""
    ) -> AssistantError:
        """The mapped error of an unsuccessful response, the key scrubbed from its detail."""
        error = error_from_status(status, body, headers, model=model)
        error.detail = self._scrub(error.detail)
        return error

    def _send(
        self, method: str, path: str, read_timeout: float, *, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        """One request whose whole response is read; a failure to get any response raises the
        mapped AssistantError."""
        try:
            return self._http.request(
                method,
                f"{self._base}{path}",
                json=body,
                headers=self._headers(),
                timeout=self._timeout(read_timeout),
            )
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        except httpx.InvalidURL as exc:
            raise self._bad_url_error(exc) from None

    def _get_json(self, path: str) -> dict[str, Any]:
        response = self._send("GET", path, self._settings.stall_timeout)
        if response.status_code == 404:
            raise ConfigurationError(
                f"The model server at {self._base} has no {path} endpoint. "
                "Check OPENROUTER_BASE_URL (OpenRouter's is https://openrouter.ai/api/v1).",
                detail=self._scrub(response.text[:DETAIL_LIMIT]),
            )
        if not response.is_success:
            raise self._status_error(response.status_code, response.content, response.headers)
        payload = _json_or_none(response)
        if not isinstance(payload, dict):
            raise UnexpectedError(detail=f"GET {path}: the body is not a JSON object")
        return payload


def _json_or_none(response: httpx.Response) -> Any:
    """The response's JSON body, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def _read_limited(response: httpx.Response) -> bytes:
    body = b""
    for part in response.iter_bytes():
        body += part
        if len(body) >= MAX_ERROR_BODY:
            break
    return body[:MAX_ERROR_BODY]
