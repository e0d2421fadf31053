"""A real local HTTP server that speaks OpenRouter's API, for tests, benchmarks and browser tests.

Nothing in the project talks to the internet in tests: the client, the terminal client, the
Streamlit pages and the benchmarks all point their base URL at this server instead.

Design: a response is a `Scenario`, plain data. An error is a status, headers and a body. A
stream is a function from the request to a sequence of frames (`Data`, `Comment`, `Pause`,
`Hangup`), plus how to put them on the wire (line separator, byte splitting, multi-line
`data:`, chunked or close-delimited). Scenario factories (`reply`, `stall`, `midstream_error`,
`http_error`...) build every behaviour a client of OpenRouter must handle (the list
`assistant/client.py` documents), and `SCENARIOS` names them so another
process can pick one through the control endpoint.

Which scenario answers a chat request, first match wins:
1. with `strict_models` on, a model id not in the catalogue: 400 "... is not a valid model ID",
   as OpenRouter does (off by default: any id is answered);
2. an image sent to a model whose catalogue entry is text-only: 404, as OpenRouter does;
3. the next queued scenario (`queue`, one-shot, FIFO);
4. the scenario set for the requested model (`set_model_scenario`, persistent);
5. the default scenario (`set_scenario`; initially `echo`: "Echo: <last user text>").

The catalogue (`GET /models`) is `MODELS` unless the server is given its own (`models=`, as a
custom base URL's server would have), and `models_delay` makes it slow to answer. With
`ssl_context` the server speaks HTTPS.

Python:
    with FakeOpenRouter() as fake:            # 127.0.0.1, a free port
        fake.url                              # "http://127.0.0.1:PORT/api/v1"
        fake.queue(http_error(503), echo())   # retried request: 503, then a reply
        fake.requests[-1].json["messages"]    # what arrived (headers too)
        fake.wait_for_disconnect()            # the client hung up while streaming
    with never_connecting_url() as url: ...   # a base URL whose connect() never completes

Standalone (the browser tests run the app in another process):
    python -m tests.fake_openrouter --port 8765 --scenario echo --tokens-per-second 50
    POST /_control/scenario {"name": "http_error", "status": 503}     queue one (or a list)
         ... add "persist": true for the default, "for_model": "<id>" for one model
    POST /_control/models {"models": [...], "delay": 30, "strict": true}   the catalogue
    POST /_control/reset      GET /_control/requests   GET /_control/streams
    GET /_control/disconnects GET /_control/scenarios
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import re
import select
import socket
import socketserver
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/api/v1"
TEXT_MODEL = "deepseek/deepseek-v3.2"
FALLBACK_MODEL = "deepseek/deepseek-chat-v3.1"
REASONING_MODEL = "deepseek/deepseek-r1-0528"
VISION_MODEL = "google/gemini-2.5-flash"
FREE_MODEL = "deepseek/deepseek-chat-v3.1:free"
SMALL_CONTEXT_MODEL = "fake/small-context"
IMAGE_404_MESSAGE = "No endpoints found that support image input"


def _entry(
    model_id: str, name: str, context: int, prompt: str, completion: str, vision: bool = False
) -> dict[str, Any]:
    inputs = ["text", "image"] if vision else ["text"]
    return {
        "id": model_id,
        "name": name,
        "created": 1_750_000_000,
        "context_length": context,
        "architecture": {
            "modality": "text+image->text" if vision else "text->text",
            "input_modalities": inputs,
            "output_modalities": ["text"],
        },
        "pricing": {"prompt": prompt, "completion": completion, "request": "0", "image": "0"},
        "supported_parameters": ["max_tokens", "temperature", "response_format", "reasoning"],
        "top_provider": {"context_length": context, "max_completion_tokens": context // 4},
    }


def catalogue_entry(
    model_id: str, name: str = "", *, context: int = 32_768, vision: bool = False, price: str = "0"
) -> dict[str, Any]:
    """A catalogue entry for a server of one's own (`FakeOpenRouter(models=[...])`)."""
    return _entry(model_id, name or model_id, context, price, price, vision)


MODELS: list[dict[str, Any]] = [
    _entry(TEXT_MODEL, "DeepSeek: DeepSeek V3.2", 163_840, "0.00000028", "0.00000042"),
    _entry(FALLBACK_MODEL, "DeepSeek: DeepSeek V3.1", 163_840, "0.0000002", "0.0000008"),
    _entry(REASONING_MODEL, "DeepSeek: R1 0528", 163_840, "0.0000005", "0.00000215"),
    _entry(FREE_MODEL, "DeepSeek: DeepSeek V3.1 (free)", 163_840, "0", "0"),
    _entry(VISION_MODEL, "Google: Gemini 2.5 Flash", 1_048_576, "0.0000003", "0.0000025", True),
    _entry(SMALL_CONTEXT_MODEL, "Small context (tests)", 2_048, "0.000001", "0.000002"),
]
_CATALOGUE = {entry["id"]: entry for entry in MODELS}

# -- what a scenario is made of -----------------------------------------------------------------


@dataclass(frozen=True)
class Data:
    """One `data:` event. `payload` is JSON-encoded unless it is a str (such as "[DONE]")."""

    payload: Any
    token: bool = False  # carries answer or reasoning text: timestamps are recorded
    at: float | None = None  # send no earlier than this many seconds after the stream began


@dataclass(frozen=True)
class Comment:
    """A keep-alive comment line."""

    text: str = "OPENROUTER PROCESSING"


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Hangup:
    """Close the connection now, without ending the HTTP body properly."""


Frame = Data | Comment | Pause | Hangup


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    json: Any = None
    client_port: int = 0  # the client's side of the connection: equal ports, same connection

    @property
    def model(self) -> str:
        return self.json.get("model", "") if isinstance(self.json, dict) else ""


@dataclass
class Scenario:
    """One response: an HTTP status, headers and body, or (when `frames` is set) a stream."""

    name: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | str = b""  # "{model}" in a str body is replaced by the requested model
    frames: Callable[[RecordedRequest], Iterable[Frame]] | None = None
    separator: str = "\n"
    split_every: int | None = None  # write each event in pieces of this many bytes
    multiline: bool = False  # spread each JSON payload over several `data:` lines
    framing: str = "chunked"  # or "close": no length, the body ends when the connection does
    headers_delay: float = 0.0  # seconds before the status line (a hang-up is noticed at once)


@dataclass
class StreamRecord:
    """What the server did for one stream; times from `time.time()` and `time.monotonic()`."""

    model: str
    scenario: str
    started_at: float
    tokens_sent: int = 0
    first_token_at: float | None = None
    last_token_at: float | None = None
    first_token_monotonic: float | None = None
    last_token_monotonic: float | None = None
    completed: bool = False
    hung_up: bool = False
    disconnected: bool = False
    disconnected_at: float | None = None  # time.monotonic() when the hang-up was noticed


# -- building replies -----------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Split text into word tokens that join back to exactly the same text."""
    return re.findall(r"\S+\s*|\s+", text)


def echo_text(request: RecordedRequest) -> str:
    """ "Echo: <text of the last user message>", noting attached images."""
    messages = request.json.get("messages", []) if isinstance(request.json, dict) else []
    last: dict[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    content = last.get("content", "")
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if p.get("type") == "text"]
        images = sum(1 for p in content if p.get("type") == "image_url")
        content = " ".join(texts) + (f" [{images} image{'s' * (images > 1)}]" if images else "")
    return f"Echo: {content}"


def _prompt_tokens(request: RecordedRequest) -> int:
    body = request.json if isinstance(request.json, dict) else {}
    return max(1, len(json.dumps(body.get("messages", []), ensure_ascii=False)) // 4)


def _max_tokens(request: RecordedRequest) -> int | None:
    """The request's cap on the answer's tokens (`max_tokens`, or its newer name)."""
    body = request.json if isinstance(request.json, dict) else {}
    cap = body.get("max_tokens", body.get("max_completion_tokens"))
    return cap if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 else None


def _usage(
    request: RecordedRequest, completion: int, reasoning: int, cached: int
) -> dict[str, Any]:
    prompt = _prompt_tokens(request)
    pricing = _CATALOGUE.get(request.model, {}).get("pricing", {"prompt": "0", "completion": "0"})
    cost = prompt * float(pricing["prompt"]) + completion * float(pricing["completion"])
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost": round(cost, 10),
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _chunk(model: str, choices: list[dict[str, Any]] | None, **extra: Any) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": "gen-fake-1",
        "provider": "FakeProvider",
        "model": model,
        "object": "chat.completion.chunk",
        "created": 1_750_000_000,
    }
    if choices is not None:
        chunk["choices"] = choices
    chunk.update(extra)
    return chunk


def _choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "index": 0,
        "delta": delta,
        "finish_reason": finish_reason,
        "native_finish_reason": finish_reason,
        "logprobs": None,
    }


def _token_frames(
    model: str, tokens: list[str], reasoning: list[str], rate: float | None, delay: float
) -> Iterator[Data]:
    for i, piece in enumerate([*reasoning, *tokens]):
        at = delay + i / rate if rate else (delay or None)
        if i < len(reasoning):
            details = [{"type": "reasoning.text", "text": piece, "format": "unknown", "index": 0}]
            # The same text twice, in `reasoning` and `reasoning_details`, as OpenRouter does.
            delta: dict[str, Any] = {"role": "assistant", "content": "", "reasoning": piece}
            delta["reasoning_details"] = details
        else:
            delta = {"role": "assistant", "content": piece}
        yield Data(_chunk(model, [_choice(delta)]), token=True, at=at)


def _waiting_frames(delay: float, interval: float | None, keepalives: int) -> Iterator[Frame]:
    yield from (Comment() for _ in range(keepalives))
    if interval:
        for _ in range(int(delay / interval)):
            yield Pause(interval)
            yield Comment()


def reply(
    text: str | None = None,
    *,
    tokens: list[str] | None = None,
    reasoning: str = "",
    tokens_per_second: float | None = None,
    first_token_delay: float = 0.0,
    keepalives: int = 0,
    keepalive_interval: float | None = None,
    finish_reason: str | None = "stop",
    usage: str | None = "separate",
    cached_tokens: int = 0,
    done: bool = True,
    hangup: bool = False,
    answer_model: str | None = None,
    separator: str = "\n",
    split_every: int | None = None,
    multiline: bool = False,
    framing: str = "chunked",
    name: str = "reply",
) -> Scenario:
    """A streamed answer; `text=None` echoes the last user message.

    `usage` is "separate" (a `choices: []` chunk), "inline" (on the finish chunk) or None.
    `finish_reason=None, done=False` is an interrupted stream; `hangup` closes it abruptly.
    `keepalive_interval` sends keep-alives while waiting `first_token_delay`.
    """

    def frames(request: RecordedRequest) -> Iterator[Frame]:
        model = answer_model or request.model
        pieces = tokens if tokens is not None else words(text or echo_text(request))
        finish = finish_reason
        cap = _max_tokens(request)
        if cap is not None and len(pieces) > cap:  # as providers do: cut, and say so
            pieces, finish = pieces[:cap], "length" if finish_reason is not None else None
        thoughts = words(reasoning)
        yield from _waiting_frames(first_token_delay, keepalive_interval, keepalives)
        delay = 0.0 if keepalive_interval else first_token_delay
        yield from _token_frames(model, pieces, thoughts, tokens_per_second, delay)
        counts = _usage(request, len(pieces) + len(thoughts), len(thoughts), cached_tokens)
        if finish is not None:
            final = _chunk(model, [_choice({"role": "assistant", "content": ""}, finish)])
            if usage == "inline":
                final["usage"] = counts
            yield Data(final)
        if usage == "separate":
            yield Data(_chunk(model, [], usage=counts))
        if done:
            yield Data("[DONE]")
        if hangup:
            yield Hangup()

    return Scenario(
        name,
        frames=frames,
        separator=separator,
        split_every=split_every,
        multiline=multiline,
        framing=framing,
    )


def echo(**options: Any) -> Scenario:
    """The default: "Echo: <last user text>" in word tokens."""
    return reply(None, name=options.pop("name", "echo"), **options)


def long_reply(
    token_count: int = 2000, tokens_per_second: float = 200.0, **options: Any
) -> Scenario:
    """A long answer at a steady rate, for benchmarks: "w0 w1 w2 ..."."""
    tokens = [f"w{i} " for i in range(token_count)]
    return reply(tokens=tokens, tokens_per_second=tokens_per_second, name="long", **options)


def reasoning_reply(
    reasoning: str = "Let me think about it.", text: str = "The answer is 42.", **options: Any
) -> Scenario:
    """Reasoning in both `reasoning` and `reasoning_details` of each chunk, then the answer."""
    return reply(text, reasoning=reasoning, name="reasoning", **options)


def stall(
    text: str = "Partial answer", keepalive_interval: float | None = 0.05, after_tokens: int = 99
) -> Scenario:
    """Some tokens (all of `text` by default), then keep-alives forever: content never comes.

    `keepalive_interval=None` stalls in silence (no bytes at all).
    """

    def frames(request: RecordedRequest) -> Iterator[Frame]:
        yield from _token_frames(request.model, words(text)[:after_tokens], [], None, 0.0)
        while True:
            yield Pause(keepalive_interval or 0.2)
            if keepalive_interval:
                yield Comment()

    return Scenario("stall", frames=frames)


def midstream_error(
    text: str = "Partial answer",
    *,
    code: int | str = 502,
    message: str = "Provider returned error",
    metadata: dict[str, Any] | None = None,
    choices: str = "full",
    done: bool = False,
    hangup: bool = False,
) -> Scenario:
    """HTTP 200, `text` streamed, then a chunk with a top-level `error`.

    `choices` is "full" (with `finish_reason: "error"`), "empty" (`[]`) or "none" (absent).
    """

    def frames(request: RecordedRequest) -> Iterator[Frame]:
        yield from _token_frames(request.model, words(text), [], None, 0.0)
        error = {"code": code, "message": message, "metadata": metadata or {}}
        shape = {"full": [_choice({"content": ""}, "error")], "empty": [], "none": None}[choices]
        yield Data(_chunk(request.model, shape, error=error))
        if done:
            yield Data("[DONE]")
        if hangup:
            yield Hangup()

    return Scenario("midstream_error", frames=frames)


_DEFAULT_MESSAGES = {
    400: "{model} is not a valid model ID",
    401: "No auth credentials found",
    402: "Insufficient credits. Add more using https://openrouter.ai/credits",
    403: "Your input was flagged by moderation",
    404: IMAGE_404_MESSAGE,
    408: "Request timed out",
    429: "Provider returned error",
    502: "Provider returned error",
    503: "No available providers for the requested model",
    524: "Provider timed out",
    529: "Provider is overloaded",
}


_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def http_error(
    status: int,
    *,
    body: str = "json",
    message: str | None = None,
    metadata: dict[str, Any] | None = None,
    retry_after: str | float | None = None,
    ratelimit_reset_ms: int | None = None,
) -> Scenario:
    """An error before any stream. `body` is "json", "html" or "empty"."""
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if ratelimit_reset_ms is not None:
        headers["X-RateLimit-Reset"] = str(ratelimit_reset_ms)
    if metadata is None and status == 403:
        metadata = {"reasons": ["harassment"], "flagged_input": "...", "provider_name": "Fake"}
    if metadata is None and status == 429:
        metadata = {"raw": "upstream rate limit: try again shortly", "provider_name": "Fake"}
    text = message if message is not None else _DEFAULT_MESSAGES.get(status, "Provider error")
    if body == "json":
        error = {"code": status, "message": text, "metadata": metadata or {}}
        payload = json.dumps({"error": error, "user_id": "user_fake"})
        headers["Content-Type"] = "application/json"
    elif body == "html":
        title = f"{status} {_PHRASES.get(status, 'Error')}"
        payload = f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"
        payload += "<hr><center>cloudflare</center></body></html>"
        headers["Content-Type"] = "text/html"
    else:
        payload = ""
    return Scenario(f"http_error_{status}", status=status, headers=headers, body=payload)


def image_not_supported() -> Scenario:
    return http_error(404, message=IMAGE_404_MESSAGE)


def slow_headers(headers_delay: float = 60.0, **options: Any) -> Scenario:
    """An echo whose status line comes only after `headers_delay` seconds (a provider queue)."""
    return replace(echo(**options), name="slow_headers", headers_delay=headers_delay)


#: Every behaviour by name, for `--scenario` and `POST /_control/scenario` (options override).
SCENARIOS: dict[str, Callable[..., Scenario]] = {
    "echo": echo,
    "reply": reply,
    "reasoning": reasoning_reply,
    "keepalive": functools.partial(
        echo, keepalives=3, first_token_delay=0.2, keepalive_interval=0.05
    ),
    "slow_first_token": functools.partial(echo, first_token_delay=1.0),
    "stall": stall,
    "silent_stall": functools.partial(stall, keepalive_interval=None),
    "usage_inline": functools.partial(echo, usage="inline"),
    "no_usage": functools.partial(echo, usage=None),
    "midstream_error": midstream_error,
    "no_done": functools.partial(echo, done=False, hangup=True),
    "interrupted": functools.partial(echo, finish_reason=None, usage=None, done=False, hangup=True),
    "finish_error": functools.partial(echo, finish_reason="error", usage=None),
    "content_filter": functools.partial(echo, finish_reason="content_filter"),
    "length": functools.partial(echo, finish_reason="length"),
    "crlf": functools.partial(echo, separator="\r\n"),
    "cr": functools.partial(echo, separator="\r"),
    "multiline": functools.partial(echo, multiline=True),
    "split": functools.partial(echo, split_every=3),
    "close_delimited": functools.partial(echo, framing="close"),
    "long": long_reply,
    "http_error": http_error,
    "image_404": image_not_supported,
    "slow_headers": slow_headers,
}


def scenario_from_spec(spec: dict[str, Any]) -> Scenario:
    """Build a scenario from {"name": ..., **options} (the control endpoint's body)."""
    options = {k: v for k, v in spec.items() if k not in ("name", "persist", "for_model")}
    return SCENARIOS[spec.get("name", "echo")](**options)


# -- the server ----------------------------------------------------------------------------


class _ClientGone(Exception):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: a burst of a hundred connections overflowed it,
    # and the kernel reset some of them. Real servers queue thousands (uvicorn: 2048).
    request_queue_size = 1024
    fake: FakeOpenRouter

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (stop, or a benchmark closing early) is normal here.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall on DNS; skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class FakeOpenRouter:
    """The server; see the module docstring. Thread-safe; use as a context manager."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        scenario: Scenario | None = None,
        tokens_per_second: float | None = None,
        api_key: str | None = None,
        models: list[dict[str, Any]] | None = None,
        models_delay: float = 0.0,
        strict_models: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.fake = self
        self._scheme = "http"
        if ssl_context is not None:  # the handshake is done by the handler's thread
            self._server.socket = ssl_context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
            self._scheme = "https"
        self.api_key = api_key  # when set, chat and key requests must carry it
        self.models = list(MODELS if models is None else models)  # what GET /models lists
        self.models_delay = models_delay  # seconds before GET /models answers
        self.strict_models = strict_models  # unknown model ids get OpenRouter's 400
        self._tokens_per_second = tokens_per_second
        self._default = scenario or echo(tokens_per_second=tokens_per_second)
        self._queue: deque[Scenario] = deque()
        self._by_model: dict[str, Scenario] = {}
        self._requests: list[RecordedRequest] = []
        self._streams: list[StreamRecord] = []
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def root_url(self) -> str:
        return f"{self._scheme}://{self._server.server_name}:{self._server.server_port}"

    @property
    def url(self) -> str:
        """The base URL to give a client (OPENROUTER_BASE_URL)."""
        return self.root_url + PREFIX

    def start(self) -> FakeOpenRouter:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-openrouter", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenRouter:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- choosing responses

    def queue(self, *scenarios: Scenario) -> None:
        """Answer the next chat requests with these, in order, once each."""
        with self._changed:
            self._queue.extend(scenarios)

    def set_scenario(self, scenario: Scenario | None) -> None:
        """The answer to every chat request nothing else claims (None: echo)."""
        with self._changed:
            self._default = scenario or echo(tokens_per_second=self._tokens_per_second)

    def set_model_scenario(self, model: str, scenario: Scenario | None) -> None:
        """Answer every request for `model` with `scenario` (None: stop doing so)."""
        with self._changed:
            if scenario is None:
                self._by_model.pop(model, None)
            else:
                self._by_model[model] = scenario

    def reset(self) -> None:
        """Forget queued and per-model scenarios, recorded requests and streams."""
        with self._changed:
            self._queue.clear()
            self._by_model.clear()
            self._requests.clear()
            self._streams.clear()
            self._default = echo(tokens_per_second=self._tokens_per_second)

    def _choose(self, request: RecordedRequest) -> Scenario:
        with self._changed:
            catalogue = {entry["id"]: entry for entry in self.models}
            if self.strict_models and request.model not in catalogue:
                return http_error(400)
            if _has_image(request) and "image" not in catalogue.get(request.model, {}).get(
                "architecture", {}
            ).get("input_modalities", ["image"]):
                return image_not_supported()
            if self._queue:
                return self._queue.popleft()
            return self._by_model.get(request.model, self._default)

    # -- what happened

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every API request (not control requests), oldest first."""
        with self._changed:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def streams(self) -> list[StreamRecord]:
        with self._changed:
            return list(self._streams)

    @property
    def disconnects(self) -> list[StreamRecord]:
        """Streams the client closed before the server finished them."""
        return [s for s in self.streams if s.disconnected]

    def wait_for_disconnect(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until `count` disconnects were noticed; False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: sum(s.disconnected for s in self._streams) >= count, timeout
            )

    def _record(self, item: RecordedRequest | StreamRecord) -> None:
        with self._changed:
            if isinstance(item, RecordedRequest):
                self._requests.append(item)
            else:
                self._streams.append(item)
            self._changed.notify_all()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()


@contextmanager
def never_connecting_url() -> Iterator[str]:
    """A base URL whose TCP handshake never completes, for as long as the block runs.

    A listener whose accept queue is full leaves every further connect() hanging: a client
    connecting to it blocks until its own connect timeout or a stop.
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        try:
            yield f"http://127.0.0.1:{port}/api/v1"
        finally:
            for filler in fillers:
                filler.close()


def _has_image(request: RecordedRequest) -> bool:
    messages = request.json.get("messages", []) if isinstance(request.json, dict) else []
    return any(
        isinstance(part, dict) and part.get("type") == "image_url"
        for message in messages
        if isinstance(message.get("content"), list)
        for part in message["content"]
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def fake(self) -> FakeOpenRouter:
        assert isinstance(self.server, _Server)
        return self.server.fake

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()
        # Every event must leave at once: Nagle plus delayed ACKs would batch them.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read `fake.requests` instead

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._send_json(400, {"error": {"code": 400, "message": "Invalid JSON body"}})
            return
        path = self.path.split("?", 1)[0]
        if path.startswith("/_control/"):
            self._control(method, path, body)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = RecordedRequest(method, path, headers, body, self.client_address[1])
        self.fake._record(request)
        if method == "GET" and path == f"{PREFIX}/models":
            try:
                if self.fake.models_delay:
                    self._wait(self.fake.models_delay)
            except _ClientGone:
                self.close_connection = True
                return
            self._send_json(200, {"data": self.fake.models})
        elif method == "GET" and path in (f"{PREFIX}/key", f"{PREFIX}/auth/key"):
            if self._authorized(required=True):
                data = {"label": "sk-or-v1-fak...e00", "limit": None, "limit_remaining": None}
                self._send_json(200, {"data": {**data, "usage": 0.25, "is_free_tier": False}})
        elif method == "POST" and path == f"{PREFIX}/chat/completions":
            if self._authorized(required=self.fake.api_key is not None):
                self._answer(request, self.fake._choose(request))
        else:
            self._send_json(404, {"error": {"code": 404, "message": f"Not found: {path}"}})

    def _authorized(self, *, required: bool) -> bool:
        header = self.headers.get("Authorization", "")
        if not required:
            return True
        if not header.startswith("Bearer ") or not header[7:].strip():
            message = "No auth credentials found"
        elif self.fake.api_key not in (None, header[7:].strip()):
            message = "User not found."
        else:
            return True
        self._send_json(401, {"error": {"code": 401, "message": message}})
        return False

    def _control(self, method: str, path: str, body: Any) -> None:
        fake = self.fake
        if method == "POST" and path == "/_control/scenario":
            specs = body if isinstance(body, list) else [body or {}]
            try:
                built = [(spec, scenario_from_spec(spec)) for spec in specs]
            except (KeyError, TypeError) as exc:
                self._send_json(400, {"error": f"bad scenario: {exc}", "names": list(SCENARIOS)})
                return
            for spec, scenario in built:
                if spec.get("for_model"):
                    fake.set_model_scenario(spec["for_model"], scenario)
                elif spec.get("persist"):
                    fake.set_scenario(scenario)
                else:
                    fake.queue(scenario)
            self._send_json(200, {"accepted": len(built)})
        elif method == "POST" and path == "/_control/models":
            options = body if isinstance(body, dict) else {}
            if isinstance(options.get("models"), list):
                fake.models = options["models"]
            fake.models_delay = float(options.get("delay", fake.models_delay))
            fake.strict_models = bool(options.get("strict", fake.strict_models))
            self._send_json(200, {"models": len(fake.models)})
        elif method == "POST" and path == "/_control/reset":
            fake.reset()
            self._send_json(200, {"reset": True})
        elif path == "/_control/requests":
            self._send_json(200, [asdict(r) for r in fake.requests])
        elif path == "/_control/streams":
            self._send_json(200, [asdict(s) for s in fake.streams])
        elif path == "/_control/disconnects":
            gone = [asdict(s) for s in fake.disconnects]
            self._send_json(200, {"count": len(gone), "streams": gone})
        elif path == "/_control/scenarios":
            self._send_json(200, sorted(SCENARIOS))
        else:
            self._send_json(404, {"error": f"unknown control endpoint {path}"})

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, request: RecordedRequest, scenario: Scenario) -> None:
        record: StreamRecord | None = None
        if scenario.headers_delay:
            # Recorded now, so a hang-up before the status line counts as a disconnect.
            record = StreamRecord(request.model, scenario.name, time.time())
            self.fake._record(record)
            try:
                self._wait(scenario.headers_delay)
            except _ClientGone:
                self._gone(record)
                return
        if scenario.frames is None:
            body = scenario.body
            if isinstance(body, str):
                body = body.replace("{model}", request.model).encode()
            self._send(scenario.status, scenario.headers, body)
            if record is not None:
                record.completed = True
                self.fake._notify()
        elif isinstance(request.json, dict) and request.json.get("stream") is not True:
            frames = itertools.islice(scenario.frames(request), 100_000)  # a stall never ends
            self._send_json(200, _completion(list(frames), request.model))
        else:
            self._stream(request, scenario, record)

    def _gone(self, record: StreamRecord) -> None:
        record.disconnected = True
        record.disconnected_at = time.monotonic()
        self.close_connection = True
        self.fake._notify()

    def _stream(
        self, request: RecordedRequest, scenario: Scenario, record: StreamRecord | None
    ) -> None:
        if record is None:
            record = StreamRecord(request.model, scenario.name, time.time())
            self.fake._record(record)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Generation-Id", "gen-fake-1")
        chunked = scenario.framing == "chunked"
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        started = time.monotonic()
        sep = scenario.separator
        try:
            for frame in scenario.frames(request) if scenario.frames else ():
                if isinstance(frame, Pause):
                    self._wait(frame.seconds)
                elif isinstance(frame, Comment):
                    self._write(f": {frame.text}{sep}{sep}".encode(), scenario)
                elif isinstance(frame, Hangup):
                    record.hung_up = True
                    self.close_connection = True
                    return
                else:
                    if frame.at is not None:
                        self._wait(started + frame.at - time.monotonic())
                    self._write(_encode(frame.payload, sep, scenario.multiline), scenario)
                    if frame.token:
                        self._count_token(record)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            record.completed = True
        except (_ClientGone, BrokenPipeError, ConnectionResetError):
            self._gone(record)
        finally:
            self.fake._notify()

    def _count_token(self, record: StreamRecord) -> None:
        now, mono = time.time(), time.monotonic()
        if record.first_token_at is None:
            record.first_token_at, record.first_token_monotonic = now, mono
        record.last_token_at, record.last_token_monotonic = now, mono
        record.tokens_sent += 1

    def _write(self, data: bytes, scenario: Scenario) -> None:
        size = scenario.split_every or len(data)
        for i in range(0, len(data), size):
            piece = data[i : i + size]
            if scenario.framing == "chunked":
                piece = b"%X\r\n%s\r\n" % (len(piece), piece)
            self.wfile.write(piece)
            if scenario.split_every:
                time.sleep(0.0002)  # let each piece travel on its own

    def _wait(self, seconds: float) -> None:
        """Sleep, but notice at once when the client hangs up (or the server stops)."""
        deadline = time.monotonic() + max(0.0, seconds)
        while True:
            if self.fake._stopping.is_set():
                raise _ClientGone
            remaining = deadline - time.monotonic()
            # poll, not select: select() refuses descriptors numbered 1024 and up, which a
            # long test session (or a busy benchmark) reaches.
            watch = select.poll()
            watch.register(self.connection, select.POLLIN)
            if watch.poll(max(0.0, min(remaining, 0.2)) * 1000):
                try:
                    # The plain-socket method: it also peeks under TLS (SSLSocket refuses flags).
                    if not socket.socket.recv(self.connection, 1, socket.MSG_PEEK):
                        raise _ClientGone
                except OSError:
                    raise _ClientGone from None
                time.sleep(max(0.0, min(remaining, 0.2)))  # a pipelined request: not a hang-up
            if remaining <= 0:
                return


def _encode(payload: Any, sep: str, multiline: bool) -> bytes:
    text = (
        payload
        if isinstance(payload, str)
        else json.dumps(payload, ensure_ascii=False, indent=1 if multiline else None)
    )
    return ("".join(f"data: {line}{sep}" for line in text.split("\n")) + sep).encode()


def _completion(frames: list[Frame], model: str) -> dict[str, Any]:
    """A non-streamed completion assembled from a stream's frames (for stream=false)."""
    content, reasoning, finish, usage = "", "", "stop", None
    for frame in frames:
        payload = frame.payload if isinstance(frame, Data) else None
        if not isinstance(payload, dict):
            continue
        usage = payload.get("usage", usage)
        for choice in payload.get("choices") or []:
            content += choice["delta"].get("content") or ""
            reasoning += choice["delta"].get("reasoning") or ""
            finish = choice.get("finish_reason") or finish
    message = {"role": "assistant", "content": content, "reasoning": reasoning or None}
    choice = {"index": 0, "message": message, "finish_reason": finish}
    return {
        "id": "gen-fake-1",
        "object": "chat.completion",
        "model": model,
        "choices": [choice],
        "usage": usage,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake OpenRouter server for local testing.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--scenario", default="echo", choices=sorted(SCENARIOS))
    parser.add_argument("--tokens-per-second", type=float, default=None)
    parser.add_argument("--api-key", default=None, help="require this key on chat requests")
    args = parser.parse_args(argv)
    options = {}
    if args.tokens_per_second and args.scenario in ("echo", "reply", "long"):
        options["tokens_per_second"] = args.tokens_per_second
    scenario = SCENARIOS[args.scenario](**options)
    fake = FakeOpenRouter(
        host=args.host,
        port=args.port,
        scenario=scenario,
        tokens_per_second=args.tokens_per_second,
        api_key=args.api_key,
    )
    fake.start()
    print(fake.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
