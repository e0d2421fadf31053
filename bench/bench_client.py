"""Time to first token through `assistant`'s client versus raw httpx, side by side; and how
fast a stop from another thread hangs up.

Both talk to the same local fake OpenRouter server (no network, no token delay), alternating
request by request so machine noise hits both equally. The figure is the ratio of medians:
what the client's parsing, events and bookkeeping add to the first token.

Stop: a reply is read on a worker thread (as the app's reply task does) and stopped with
`Cancellation.cancel()` from the bench's thread while the worker is blocked in each state; the
figure is the time from `cancel()` to the fake server noticing the connection close (both
clocks are this process's `time.monotonic`), or, in a retry backoff where no connection is
open, to the end of the stream. Worst of STOP_ROUNDS runs per state.
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

ROUNDS = 60
TARGET = "<= 1.5"
STOP_ROUNDS = 10
STOP_TARGET = "<= 100"  # ms: issue 10.6


def _raw_first_token(client: httpx.Client, url: str, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    with client.stream("POST", f"{url}/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            choices = chunk.get("choices") or [{}]
            if choices[0].get("delta", {}).get("content"):
                return time.perf_counter() - started
    raise RuntimeError("no token")


def _client_first_token(client: Any, body: dict[str, Any]) -> float:
    from assistant.events import TextDelta

    started = time.perf_counter()
    events = client.stream_chat(body["messages"], body["model"])
    try:
        for event in events:
            if isinstance(event, TextDelta):
                return time.perf_counter() - started
    finally:
        events.close()
    raise RuntimeError("no token")


def _stop_once(
    client: Any, fake: Any, scenario: Any, blocked: Callable[[], bool], pooled: bool
) -> float:
    """Seconds from cancel() to the server seeing the hang-up (or to the stream's end)."""
    from assistant.cancellation import Cancellation
    from tests.fake_openrouter import TEXT_MODEL

    if pooled:  # leave an idle keep-alive connection in the pool for the stopped request
        list(client.stream_chat([{"role": "user", "content": "Hi"}], TEXT_MODEL))
    fake.reset()
    fake.queue(scenario)
    cancel = Cancellation()
    events = client.stream_chat([{"role": "user", "content": "Hi"}], TEXT_MODEL, cancel=cancel)
    ended = threading.Event()

    def read() -> None:
        for _ in events:
            pass
        ended.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    limit = time.monotonic() + 10
    while not blocked() and time.monotonic() < limit:
        time.sleep(0.005)
    time.sleep(0.05)  # let the worker settle into its blocking call
    started = time.monotonic()
    cancel.cancel()
    if scenario.status != 200:  # a retry backoff: no connection is open
        ended.wait(10)
        return time.monotonic() - started
    fake.wait_for_disconnect(timeout=10)
    reader.join(10)
    seen = fake.disconnects[0].disconnected_at
    return (seen if seen is not None else float("inf")) - started


def _stop_rows(settings: Any, fake: Any) -> list[dict[str, Any]]:
    from dataclasses import replace

    from assistant.client import ChatClient
    from tests.fake_openrouter import echo, http_error, slow_headers, stall

    patient = replace(settings, first_token_timeout=120.0, stall_timeout=120.0, retry_budget=120.0)
    started = lambda: len(fake.streams) > 0  # noqa: E731
    states = [
        ("before the headers, new connection", lambda: slow_headers(60.0), started, False),
        ("before the headers, pooled connection", lambda: slow_headers(60.0), started, True),
        (
            "before the 1st token",
            lambda: echo(first_token_delay=60.0, keepalive_interval=0.05),
            started,
            True,
        ),
        (
            "mid-stream",
            lambda: stall("Partial", keepalive_interval=None),
            lambda: bool(fake.streams and fake.streams[0].tokens_sent),
            True,
        ),
        (
            "in a retry backoff",
            lambda: http_error(503, retry_after=30),
            lambda: len(fake.chat_requests) > 0,
            True,
        ),
    ]
    rows = []
    quiet = logging.getLogger("assistant.client")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the backoff state logs a retry warning on every round
    with ChatClient(patient) as client:
        for label, scenario, blocked, pooled in states:
            times = [
                _stop_once(client, fake, scenario(), blocked, pooled) for _ in range(STOP_ROUNDS)
            ]
            rows.append(
                {
                    "name": f"client: stop → hang-up, {label}, worst of {STOP_ROUNDS}",
                    "value": round(max(times) * 1000, 2),
                    "unit": "ms",
                    "target": STOP_TARGET,
                }
            )
            rows.append(
                {
                    "name": f"client: stop → hang-up, {label}, median",
                    "value": round(statistics.median(times) * 1000, 2),
                    "unit": "ms",
                    "target": None,
                }
            )
    quiet.setLevel(level)
    return rows


def run(rounds: int = ROUNDS) -> list[dict[str, Any]]:
    from assistant.client import ChatClient
    from assistant.settings import Settings
    from tests.fake_openrouter import TEXT_MODEL, FakeOpenRouter

    body = {
        "model": TEXT_MODEL,
        "messages": [{"role": "user", "content": "How do I reset my router?"}],
        "stream": True,
    }
    with FakeOpenRouter() as fake:
        settings = Settings(api_key="sk-or-v1-bench", base_url=fake.url, fallback_models=())
        raw, ours = [], []
        with httpx.Client(headers={"Authorization": "Bearer sk-or-v1-bench"}) as http:
            client = ChatClient(settings)
            for _ in range(5):  # warm both connection pools
                _raw_first_token(http, fake.url, body)
                _client_first_token(client, body)
            for _ in range(rounds):
                raw.append(_raw_first_token(http, fake.url, body))
                ours.append(_client_first_token(client, body))
            client.close()
        stops = _stop_rows(settings, fake)
    raw_ms, ours_ms = statistics.median(raw) * 1000, statistics.median(ours) * 1000
    return [
        {
            "name": "client: first token, raw httpx",
            "value": round(raw_ms, 2),
            "unit": "ms",
            "target": None,
        },
        {
            "name": "client: first token, assistant ChatClient",
            "value": round(ours_ms, 2),
            "unit": "ms",
            "target": None,
        },
        {
            "name": "client: first token ratio (client / raw httpx)",
            "value": round(ours_ms / raw_ms, 2),
            "unit": "x",
            "target": TARGET,
        },
        *stops,
    ]
