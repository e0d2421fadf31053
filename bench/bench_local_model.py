"""Tokens per second of the bundled SmolLM2 model, straight from xllamacpp and through our client.

Paths, all against the one server `assistant.local_model.ensure_server()` starts (4 slots):
- direct: `xllamacpp.Server.handle_chat_completions(request, callback)` in-process, the most
  direct path xllamacpp offers (no socket, no SSE; chunks arrive as dicts). It releases the GIL,
  so parallel sessions are plain threads.
- http: raw httpx SSE against the loopback endpoint, to separate HTTP cost from client cost.
- client: `assistant.client.ChatClient(local_settings(...)).stream_chat(...)`, the path the app
  takes (reported as missing if `assistant/client.py` cannot be imported).

Each measurement streams a fixed prompt at temperature 0 with max_tokens 128, in 1 and 4
parallel sessions; tokens per second is completion tokens of all sessions over wall time,
median of several repetitions, paths interleaved so drift hits all of them alike. Then the raw
HTTP path runs again on servers restarted with one inference thread, the default
(`local_model.default_threads()`) and every core: the figures behind that default. Tokens are
counted from the usage the server reports (or, for the client, from text deltas when it reports
no usage: llama.cpp sends one token per chunk).

Run: `python -m bench local_model`
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant import local_model
from assistant.events import Failed, TextDelta, Usage
from assistant.settings import Settings

PROMPT = "Write a long story about a lighthouse keeper and the sea."
MAX_TOKENS = 128
REPETITIONS = 5
THREAD_REPETITIONS = 3
SESSIONS = (1, 4)

# One measurement: returns (completion tokens, seconds to the first text) of one session.
Session = Callable[[], tuple[int, float]]


def _request(stream: bool = True) -> dict[str, Any]:
    return {
        "model": local_model.LOCAL_MODEL_ID,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": MAX_TOKENS,
        "temperature": 0,
        "stream": stream,
        "stream_options": {"include_usage": True},
    }


def _direct_session(server: Any) -> Session:
    def run() -> tuple[int, float]:
        start = time.perf_counter()
        first: list[float] = []
        tokens = [0]

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if not first and any(c.get("delta", {}).get("content") for c in chunk["choices"]):
                first.append(time.perf_counter() - start)
            if chunk.get("usage"):
                tokens[0] = chunk["usage"]["completion_tokens"]
            return False  # keep streaming

        server.handle_chat_completions(_request(), on_chunk)
        return tokens[0], first[0] if first else float("nan")

    return run


def _http_session(settings: Settings, client: httpx.Client) -> Session:
    def run() -> tuple[int, float]:
        start = time.perf_counter()
        first: float | None = None
        tokens = 0
        with client.stream(
            "POST",
            f"{settings.base_url}/chat/completions",
            json=_request(),
            headers={"Authorization": f"Bearer {settings.api_key}"},
        ) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if first is None and any(c["delta"].get("content") for c in chunk["choices"]):
                    first = time.perf_counter() - start
                if chunk.get("usage"):
                    tokens = chunk["usage"]["completion_tokens"]
        return tokens, first if first is not None else float("nan")

    return run


def _client_session(settings: Settings) -> Session | None:
    try:
        from assistant.client import ChatClient
    except ImportError:
        return None
    chat_client = ChatClient(settings)

    def run() -> tuple[int, float]:
        start = time.perf_counter()
        first: float | None = None
        deltas = usage = 0
        messages = [{"role": "user", "content": PROMPT}]
        for event in chat_client.stream_chat(
            messages, local_model.LOCAL_MODEL_ID, temperature=0.0, max_tokens=MAX_TOKENS
        ):
            if isinstance(event, TextDelta):
                if first is None:
                    first = time.perf_counter() - start
                deltas += 1
            elif isinstance(event, Usage):
                usage = event.completion_tokens
            elif isinstance(event, Failed):
                raise RuntimeError(f"client failed: {event.error!r} {event.error.detail}")
        return usage or deltas, first if first is not None else float("nan")

    return run


FAILURES: list[str] = []  # sessions that raised; reported as a row, never silently dropped


def _measure(session: Session, parallel: int) -> tuple[float, float]:
    """Tokens per second of `parallel` concurrent sessions, and the median first-text time."""
    results: list[tuple[int, float]] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            outcome = session()
        except Exception as exc:
            with lock:
                FAILURES.append(f"{type(exc).__name__}: {exc}")
            return
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(parallel)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    tokens = sum(r[0] for r in results)
    firsts = [r[1] for r in results] or [float("nan")]
    return tokens / elapsed, statistics.median(firsts)


def _row(name: str, value: Any, unit: str, target: str | None = None) -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "target": target}


def _compare_paths(rows: list[dict[str, Any]]) -> None:
    """Direct, raw HTTP and ChatClient against the default server, 1 and 4 sessions."""
    settings = local_model.local_settings(Settings())
    server = local_model.bundled_server()  # the in-process handle of the same server
    http_client = httpx.Client(timeout=120)
    paths: dict[str, Session] = {
        "direct": _direct_session(server),
        "http": _http_session(settings, http_client),
    }
    client_session = _client_session(settings)
    if client_session is not None:
        paths["client"] = client_session
    for parallel in SESSIONS:
        speeds: dict[str, list[float]] = {name: [] for name in paths}
        firsts: dict[str, list[float]] = {name: [] for name in paths}
        for session in paths.values():  # warm-up: prompt cache, connections
            _measure(session, parallel)
        for _ in range(REPETITIONS):
            for name, session in paths.items():
                speed, first = _measure(session, parallel)
                speeds[name].append(speed)
                firsts[name].append(first)
        medians = {name: statistics.median(values) for name, values in speeds.items()}
        for name in paths:
            speed = round(medians[name], 1)
            rows.append(_row(f"{name} tokens/s, {parallel} session(s)", speed, "tok/s"))
            first_ms = round(statistics.median(firsts[name]) * 1000)
            rows.append(_row(f"{name} first text, {parallel} session(s)", first_ms, "ms"))
        for name in ("http", "client"):
            ratio: Any = (
                round(medians[name] / medians["direct"], 3)
                if name in medians
                else "n/a: assistant/client.py missing"
            )
            rows.append(_row(f"{name} ÷ direct, {parallel} session(s)", ratio, "ratio", ">= 0.9"))
    http_client.close()


def _compare_threads(rows: list[dict[str, Any]]) -> None:
    """Raw HTTP speed with one thread, the default (see default_threads) and every core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    counts = sorted({1, local_model.default_threads(), min(4, cores or 1)})
    if len(counts) == 1:
        return
    http_client = httpx.Client(timeout=120)
    try:
        for threads in counts:
            local_model.stop_server()
            local_model.ensure_server(threads=threads)
            session = _http_session(local_model.local_settings(Settings()), http_client)
            for parallel in SESSIONS:
                _measure(session, parallel)
                speed = statistics.median(
                    _measure(session, parallel)[0] for _ in range(THREAD_REPETITIONS)
                )
                name = f"http tokens/s, {threads} thread(s), {parallel} session(s)"
                rows.append(_row(name, round(speed, 1), "tok/s"))
    finally:
        http_client.close()
        local_model.stop_server()


def run() -> list[dict[str, Any]]:
    if not local_model.is_available():
        raise SystemExit("the bundled model is not installed here")
    rows: list[dict[str, Any]] = []
    _compare_paths(rows)  # returns before the thread comparison restarts the server
    _compare_threads(rows)
    rows.append(_row("failed sessions", len(FAILURES), "sessions", "0"))
    for failure in sorted(set(FAILURES)):
        print(f"failed session: {failure}", file=sys.stderr)
    if hasattr(os, "getloadavg"):  # other work on the machine skews every figure above
        load = round(os.getloadavg()[0], 2)
        rows.append(_row("load average at the end (1 min)", load, f"on {os.cpu_count()} cores"))
    return rows
