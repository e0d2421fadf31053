"""Streaming chat client for OpenRouter and any OpenAI-compatible server.

`ChatClient.stream_chat` is a generator of typed events (assistant/events.py) that never raises
an `AssistantError`: every reply ends with exactly one `Finished` or `Failed`, and text that
arrived before a failure stays with the consumer.

Timing. httpx's read timeout cannot express "no content for N seconds": keep-alive comments
reset it, and it cannot be a short polling tick either, because a read timeout closes the
response. So the client compares the time since the last content with its bound after every
read (which catches a server that sends only keep-alives), and a watchdog thread shuts down the
socket of a stream whose deadline passed (which wakes a read blocked on a silent server at the
deadline). The httpx read timeout is only a backstop. Time the consumer spends between our
yields does not count: the server is not being read then.

Recovery. Retries (408, 429, 5xx, network errors, timeouts) and then the fallback models are
tried only while nothing has reached the consumer, so a reply is never duplicated. `ModelUsed`
is held back until the attempt's first other event, which is why it is sent exactly once.
Fallbacks are client-side (not OpenRouter's `models` field) so they work with any server.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import json
import logging
import math
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from assistant.errors import (
    AssistantError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ImageNotSupportedError,
    InsufficientCreditsError,
    ModerationError,
    NetworkError,
    ProviderUnavailableError,
    RateLimitedError,
    ReplyInterruptedError,
    ReplyTimeoutError,
    UnexpectedError,
)
from assistant.events import Event, Failed, Finished, ModelUsed, ReasoningDelta, TextDelta, Usage
from assistant.settings import Settings
from assistant.sse import SSEMessage, SSEParser

__all__ = ["ChatClient", "error_from_chunk", "error_from_status", "parse_retry_after"]

logger = logging.getLogger(__name__)

BACKOFF_BASE = 0.5  # seconds before the first retry; doubles each time, with jitter
BACKOFF_CAP = 8.0
WATCHDOG_TICK = 0.05
MAX_ERROR_BODY = 64_000  # bytes of an error body worth reading


DRAIN_WAIT = 0.25  # after [DONE], how long to wait for the body's end so the connection is reused
DETAIL_LIMIT = 500


# -- provider errors -> AssistantError -------------------------------------------------------


def error_from_status(
    status: int,
    body: bytes,
    headers: Mapping[str, str] | httpx.Headers,
    *,
    model: str = "",
    now: float | None = None,
) -> AssistantError:
    """Map an HTTP error response (JSON, HTML or empty body) to an AssistantError."""
    message, metadata = _error_body(body)
    retry_after = parse_retry_after(headers, now=now)
    detail = f"HTTP {status}: {message or '(empty body)'}"
    if raw := metadata.get("raw"):  # upstream rate limits put the provider's reason here
        detail += f" [{raw}]"
    return _error_for_code(status, message, metadata, model, retry_after, detail[:DETAIL_LIMIT])


def error_from_chunk(error: Any, *, model: str = "") -> AssistantError:
    """Map a mid-stream `error` object (code an int, a numeric string or a name)."""
    if not isinstance(error, dict):
        error = {"message": str(error)}
    code = error.get("code")
    message = str(error.get("message") or "")
    metadata = error.get("metadata") if isinstance(error.get("metadata"), dict) else {}
    detail = f"stream error {code}: {message}"[:DETAIL_LIMIT]
    if isinstance(code, str) and code.strip().isdigit():
        code = int(code.strip())
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return _error_for_code(code, message, metadata, model, None, detail)
    return ProviderUnavailableError(_unavailable_sentence(model), detail=detail)


def parse_retry_after(
    headers: Mapping[str, str] | httpx.Headers, *, now: float | None = None
) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or HTTP date) or `X-RateLimit-Reset`."""
    headers = httpx.Headers(headers)
    now = time.time() if now is None else now
    if value := headers.get("retry-after", "").strip():
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None and when.tzinfo is None:  # "-0000": UTC, says RFC 5322
                when = when.replace(tzinfo=datetime.UTC)
            seconds = when.timestamp() - now if when is not None else math.nan
        if math.isfinite(seconds):
            return max(0.0, seconds)
    if value := headers.get("x-ratelimit-reset", "").strip():
        try:
            reset = float(value)
        except ValueError:
            return None
        if not math.isfinite(reset):
            return None
        if reset > 1e11:  # epoch milliseconds (OpenRouter)
            return max(0.0, reset / 1000 - now)
        if reset > 1e9:  # epoch seconds
            return max(0.0, reset - now)
        return max(0.0, reset)  # already a delay in seconds
    return None


def _error_body(body: bytes) -> tuple[str, dict[str, Any]]:
    """The provider's message and metadata; HTML is reduced to its text, never parsed as JSON."""
    text = body.decode("utf-8", "replace").strip()
    try:
        payload = json.loads(text) if text.startswith(("{", "[")) else None
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            metadata = error.get("metadata")
            return str(error.get("message") or ""), metadata if isinstance(metadata, dict) else {}
        if isinstance(error, str):  # Ollama, llama.cpp and others: {"error": "..."}
            return error, {}
        return str(payload.get("message") or payload.get("detail") or ""), {}
    plain = " ".join(re.sub(r"(?s)<(script|style).*?</\1>|<[^>]+>", " ", text).split())
    return plain[:300], {}


def _subject(model: str, *, start: bool = False) -> str:
    return f"{'The' if start else 'the'} model{f' {model}' if model else ''}"


def _unavailable_sentence(model: str) -> str:
    return (
        f"The provider of {_subject(model)} is unavailable or overloaded right now. "
        "Please try again in a minute, or pick another model."
    )


def _error_for_code(
    code: int,
    message: str,
    metadata: Mapping[str, Any],
    model: str,
    retry_after: float | None,
    detail: str,
) -> AssistantError:
    subject = _subject(model)
    if code == 401:
        return AuthenticationError(detail=detail)
    if code == 402:
        return InsufficientCreditsError(detail=detail)
    if code == 403:
        reasons = metadata.get("reasons")
        reasons = [str(r) for r in reasons] if isinstance(reasons, list) else []
        return ModerationError(reasons, detail=detail)
    if code == 404:
        lowered = message.lower()
        if "image" in lowered:
            return ImageNotSupportedError(
                f"{_subject(model, start=True)} cannot read images. "
                "Pick a model that reads images, or send text only.",
                detail=detail,
            )
        if "no endpoints found" in lowered:
            return BadRequestError(
                f"No provider of {subject} can serve this request. Pick another model.",
                detail=detail,
            )
        return BadRequestError(
            f"{_subject(model, start=True)} was not found. Pick another model.", detail=detail
        )
    if code == 408:
        return ReplyTimeoutError(detail=detail)
    if code == 429:
        sentence = (
            f"{_subject(model, start=True)} is busy right now (rate limited). "
            "Please wait a moment and try again."
        )
        if model.endswith(":free"):
            sentence += " Free models allow only about 20 requests a minute and a few a day."
        return RateLimitedError(sentence, retry_after=retry_after, detail=detail)
    if code >= 500:
        return ProviderUnavailableError(
            _unavailable_sentence(model), retry_after=retry_after, detail=detail
        )
    if 400 <= code < 500:
        return BadRequestError(
            f"The request to {subject} was rejected as invalid. Check the model id and settings.",
            detail=detail,
        )
    return UnexpectedError(detail=detail)


class _Deadline:
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


class _Watchdog:
    """One lazily started thread per client that expires overdue stream deadlines."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._deadlines: set[_Deadline] = set()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def watch(self, deadline: _Deadline) -> None:
        with self._cond:
            self._deadlines.add(deadline)
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(
                    target=self._run, name="chat-stream-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def unwatch(self, deadline: _Deadline) -> None:
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


class _ReplyReader:
    """Turns the JSON chunks of one attempt into events; knows nothing about I/O."""

    def __init__(self, attempted: str, requested: str, fallback: bool) -> None:
        self.attempted = attempted
        self.requested = requested
        self.fallback = fallback
        self.model = ""  # as named by the chunks
        self.finish_reason = ""
        self.done = False
        self.failure: AssistantError | None = None
        self.usage: Usage | None = None
        self.content_seen = False

    @property
    def ended(self) -> bool:
        return self.done or self.failure is not None

    def handle(self, data: str) -> list[Event]:
        if data.strip() == "[DONE]":
            self.done = True
            return []
        try:
            chunk = json.loads(data)
        except ValueError:
            chunk = None
        if not isinstance(chunk, dict):
            self.failure = ReplyInterruptedError(detail=f"malformed chunk: {data[:200]!r}")
            return []
        events: list[Event] = []
        model = chunk.get("model")
        if isinstance(model, str) and model and not self.model:
            self.model = model
            reason = "fallback" if self.fallback else ""
            events.append(ModelUsed(model=model, requested=self.requested, reason=reason))
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if isinstance(choice, dict) and choice.get("index", 0) in (0, None):
                events.extend(self._read_choice(choice))
        usage = chunk.get("usage")
        if isinstance(usage, dict) and usage:
            self.usage = _usage_from(usage)  # the last report wins (some servers repeat it)
        error = chunk.get("error")
        if error:
            self.failure = error_from_chunk(error, model=self.model or self.attempted)
        return events

    def _read_choice(self, choice: dict[str, Any]) -> list[Event]:
        delta = choice.get("delta")
        if not isinstance(delta, dict):  # a non-streamed completion carries `message`
            message = choice.get("message")
            delta = message if isinstance(message, dict) else {}
        events: list[Event] = []
        if reasoning := _reasoning_text(delta):
            events.append(ReasoningDelta(reasoning))
        content = delta.get("content")
        if isinstance(content, str) and content:
            events.append(TextDelta(content))
        self.content_seen = self.content_seen or bool(events)
        finish_reason = choice.get("finish_reason")
        if isinstance(finish_reason, str) and finish_reason:
            self.finish_reason = finish_reason
        return events

    def finish(self) -> list[Event]:
        """The terminal events once the stream is over (ended, closed or cut)."""
        failure = self.failure
        if failure is None and self.finish_reason == "error":
            detail = "finish_reason 'error' without an error object"
            if self.content_seen:
                failure = ReplyInterruptedError(detail=detail)
            else:
                failure = ProviderUnavailableError(detail=detail)
        if failure is None and not self.finish_reason and not self.done:
            failure = ReplyInterruptedError(detail="stream ended without finish_reason or [DONE]")
        events: list[Event] = []
        # Usage before content would commit a failed attempt and forbid its retry.
        if self.usage is not None and (failure is None or self.content_seen):
            events.append(self.usage)
        events.append(Failed(failure) if failure else Finished(self.finish_reason or "stop"))
        return events


def _reasoning_text(delta: Mapping[str, Any]) -> str:
    """One reasoning text per chunk: providers often send the same text in two fields."""
    for key in ("reasoning", "reasoning_content"):
        value = delta.get(key)
        if isinstance(value, str) and value:
            return value
    parts: list[str] = []
    details = delta.get("reasoning_details")
    for item in details if isinstance(details, list) else []:
        if isinstance(item, dict):
            text = item.get("text") if item.get("type") != "reasoning.summary" else None
            text = text or item.get("summary")
            if isinstance(text, str):
                parts.append(text)
    return "".join(parts)


def _usage_from(usage: Mapping[str, Any]) -> Usage:
    def number(mapping: Any, key: str) -> int:
        value = mapping.get(key) if isinstance(mapping, dict) else None
        return int(value) if isinstance(value, (int, float)) else 0

    cost = usage.get("cost")
    return Usage(
        prompt_tokens=number(usage, "prompt_tokens"),
        completion_tokens=number(usage, "completion_tokens"),
        total_tokens=number(usage, "total_tokens"),
        cost=float(cost) if isinstance(cost, (int, float)) else None,
        cached_tokens=number(usage.get("prompt_tokens_details"), "cached_tokens"),
        reasoning_tokens=number(usage.get("completion_tokens_details"), "reasoning_tokens"),
    )


def _may_retry(error: AssistantError) -> bool:
    # An interruption before any content is as safe to repeat as a network error.
    return error.retryable or isinstance(error, ReplyInterruptedError)


class ChatClient:
    """One pooled, thread-safe HTTP client per process; streams replies as typed events."""

    def __init__(
        self,
        settings: Settings,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._base = settings.base_url.rstrip("/")
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            transport=transport,
            limits=httpx.Limits(max_connections=500, max_keepalive_connections=50),
        )
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._watchdog = _Watchdog(clock)

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
    ) -> Iterator[Event]:
        """Stream one reply; the last event is `Finished` or `Failed`. Closing it hangs up."""
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
        inner = self._stream_with_recovery(body, candidates)
        ended = False
        try:
            for event in inner:
                ended = isinstance(event, (Finished, Failed))
                yield event
        except Exception as exc:  # a bug must still end the reply with a sentence
            logger.exception("chat stream for %s failed unexpectedly", model)
            if not ended:
                yield Failed(UnexpectedError(detail=self._scrub(f"{type(exc).__name__}: {exc}")))
        finally:
            inner.close()

    def list_models(self) -> list[dict[str, Any]]:
        """The server's model catalogue (`GET /models`); raises the mapped AssistantError."""
        data = self._get_json("/models").get("data")
        if not isinstance(data, list):
            raise UnexpectedError(detail="model list without a 'data' list")
        return [entry for entry in data if isinstance(entry, dict)]

    def check_key(self) -> dict[str, Any]:
        """The key's label, limit and usage (`GET /key`); raises the mapped AssistantError."""
        data = self._get_json("/key").get("data")
        if not isinstance(data, dict):
            raise UnexpectedError(detail="key check without a 'data' object")
        return data

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
        self, body: dict[str, Any], candidates: list[str]
    ) -> Generator[Event, None, None]:
        requested = candidates[0]
        waited = 0.0
        last_error: AssistantError = UnexpectedError(detail="no model to ask")
        for index, candidate in enumerate(candidates):
            retries = 0
            while True:
                attempt = self._attempt({**body, "model": candidate}, requested, index > 0)
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
                if failure is None:
                    return
                last_error = failure
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
                self._sleep(delay)
                waited += delay
                retries += 1
            if not _may_retry(last_error):
                break  # 400/401/402/403, images...: the user must act, another model won't help
        yield Failed(last_error)

    def _attempt(
        self, body: dict[str, Any], requested: str, fallback: bool
    ) -> Generator[Event, None, None]:
        """One request to one model. Ends with `Finished` or `Failed`; never raises httpx errors."""
        settings = self._settings
        model = body["model"]
        deadline = _Deadline(self._clock() + settings.first_token_timeout)
        backstop = max(settings.first_token_timeout, settings.stall_timeout)
        try:
            with self._http.stream(
                "POST",
                f"{self._base}/chat/completions",
                json=body,
                headers=self._headers(streaming=True),
                timeout=self._timeout(backstop),
            ) as response:
                if not response.is_success:
                    detail_body = _read_limited(response)
                    error = error_from_status(
                        response.status_code, detail_body, response.headers, model=model
                    )
                    error.detail = self._scrub(error.detail)
                    yield Failed(error)
                    return
                reader = _ReplyReader(model, requested, fallback)
                if "json" in response.headers.get("content-type", ""):
                    # The server ignored stream=true and sent the whole completion.
                    events = reader.handle(response.read().decode("utf-8", "replace"))
                    reader.done = True
                    yield from events + reader.finish()
                    return
                yield from self._read_stream(response, reader, deadline)
        except httpx.HTTPError as exc:
            yield Failed(self._transport_error(exc))
        except httpx.InvalidURL as exc:
            yield Failed(self._bad_url_error(exc))

    def _read_stream(
        self, response: httpx.Response, reader: _ReplyReader, deadline: _Deadline
    ) -> Iterator[Event]:
        network = response.extensions.get("network_stream")
        deadline.sock = network.get_extra_info("socket") if network is not None else None
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
                    if deadline.expired or isinstance(exc, httpx.TimeoutException):
                        how = "silent connection closed" if deadline.expired else "read timeout"
                        yield Failed(self._timeout_error(reader, how))
                        return
                    raw = None  # the connection dropped: judged below like any end
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
                    yield from events
                    deadline.at += self._clock() - now
                    deadline.suspended = False
                if raw is None:
                    break
            if reader.done:
                self._drain(chunks, deadline)
            yield from reader.finish()
        finally:
            self._watchdog.unwatch(deadline)

    def _drain(self, chunks: Iterator[bytes], deadline: _Deadline) -> None:
        """Read the body's end after [DONE] (briefly), so the pooled connection is reused."""
        deadline.at = self._clock() + DRAIN_WAIT
        with contextlib.suppress(httpx.HTTPError):
            for _ in chunks:
                pass

    def _timeout_error(self, reader: _ReplyReader, how: str) -> ReplyTimeoutError:
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

    def _get_json(self, path: str) -> dict[str, Any]:
        try:
            response = self._http.get(
                f"{self._base}{path}",
                headers=self._headers(),
                timeout=self._timeout(self._settings.stall_timeout),
            )
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        except httpx.InvalidURL as exc:
            raise self._bad_url_error(exc) from None
        if response.status_code == 404:
            raise ConfigurationError(
                f"The model server at {self._base} has no {path} endpoint. "
                "Check OPENROUTER_BASE_URL (OpenRouter's is https://openrouter.ai/api/v1).",
                detail=self._scrub(response.text[:DETAIL_LIMIT]),
            )
        if not response.is_success:
            error = error_from_status(response.status_code, response.content, response.headers)
            error.detail = self._scrub(error.detail)
            raise error
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise UnexpectedError(detail=f"GET {path}: the body is not a JSON object")
        return payload


def _read_limited(response: httpx.Response) -> bytes:
    body = b""
    for part in response.iter_bytes():
        body += part
        if len(body) >= MAX_ERROR_BODY:
            break
    return body[:MAX_ERROR_BODY]
