"""The chat API as its clients meet it: time to first token, bytes on the wire, 200 streams.

The API runs in a process of its own, as `streamlit run app.py` when app.py serves the API's
routes, else as those routes alone under uvicorn (`bench/api_app.py`); the row names say which.
The fake OpenRouter runs in another process (so its CPU does not share the bench's GIL), with
a fresh SQLite database, one account and one key. Replies are shaped for one model
(`SHAPED`), so the requests that title new conversations (the default model) never take them.

- First token: the same raw client (httpx, reading the SSE lines as the `openai` package does,
  gzip accepted as it does) asks the provider directly and through the API, alternating, each
  reply a new conversation, `PAUSE` apart; medians of `TTFT_ROUNDS`. The target is "the API's
  first token within 1.05 times the provider's plus 5 ms", shown as the excess over 1.05
  times, with the provider answering at once and after 200 ms.
- Bytes: one 2,000-token reply at 200 tokens/s read from a raw socket (every byte the server
  sent, headers included) with gzip accepted (the `openai` package's default) and without
  (curl's default), divided by the reply's text bytes.
- 200 streams: 200 requests sent together, each answered with 500 tokens at 50 tokens/s; the
  slowest time from sending to `[DONE]`, divided by the provider's own median stream duration
  (about 10 s). Once as follow-ups in 200 existing conversations (the target, as the app's
  bench sends into existing conversations), once each starting a new conversation. Beside
  them, the baseline: the same 200 replies through the core's `ChatClient` on threads in a
  process of their own, with no API and no database.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SHAPED = "deepseek/deepseek-chat-v3.1"
TTFT_ROUNDS = 40
#: Seconds between two rounds: each request starts a conversation, whose title the server then
#: asks the model for in the background; requests spaced apart, not back to back.
PAUSE = 0.3
WIRE_TOKENS, WIRE_RATE = 2000, 200.0
CONCURRENT, CONCURRENT_TOKENS, CONCURRENT_RATE = 200, 500, 50.0
PASSWORD = "violet-otter-harbour-42"


def _row(name: str, value: float, unit: str, target: str | None = None) -> dict[str, Any]:
    return {"name": f"api: {name}", "value": round(value, 3), "unit": unit, "target": target}


def _seed(database_url: str) -> tuple[str, list[str]]:
    """The bench's key, and `CONCURRENT` conversations of one exchange each to follow up."""
    from assistant.accounts import Accounts
    from assistant.api_keys import ApiKeys
    from assistant.reply import Reply, ReplyStatus
    from assistant.store import NewTurn, Store

    store = Store(database_url)
    store.migrate()
    user = Accounts(store).register("bench", PASSWORD).user
    token = ApiKeys(store).create(user, "bench").token
    conversations = []
    for i in range(CONCURRENT):
        started = store.start_turn(NewTurn(user.id, None, f"Question {i}", "gadget", SHAPED))
        answer = Reply(text=f"Answer {i}.", status=ReplyStatus.COMPLETE, finish_reason="stop")
        store.finish_reply(user.id, started.reply_id, answer)
        conversations.append(started.conversation_id)
    store.close()
    return token, conversations


def _app_serves_the_api() -> bool:
    """`streamlit run` serves extra routes only when app.py defines `app = st.App(...)`."""
    return "st.App(" in (ROOT / "app.py").read_text(encoding="utf-8")


@contextmanager
def _api_server(env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(base URL, what serves it)."""
    import httpx

    if _app_serves_the_api():
        from tests.served_app import served_app

        with served_app(env) as url:
            if httpx.get(f"{url}/api/v1/models").status_code != 401:
                raise RuntimeError("app.py defines st.App but does not serve /api/v1")
            yield url, "streamlit run app.py"
        return
    from tests.served_app import free_port, serving

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.api_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with serving(
        "the API server", command, port, env, ready="/api/v1/models", status=401, timeout=30
    ) as url:
        yield url, "uvicorn, the API's routes alone"


# -- first token -------------------------------------------------------------------------------


def _first_token(client: Any, url: str, body: dict[str, Any], headers: dict[str, str]) -> float:
    started = time.perf_counter()
    with client.stream("POST", url, json=body, headers=headers) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.read()[:200]!r}")
        for line in response.iter_lines():
            if not line.startswith("data: {"):
                continue
            choices = json.loads(line[6:]).get("choices") or [{}]
            if choices[0].get("delta", {}).get("content"):
                return time.perf_counter() - started
    raise RuntimeError("no token")


def first_token_rows(fake: Any, api: str, key: str) -> list[dict[str, Any]]:
    import httpx

    rows = []
    for label, delay in (("provider at once", 0.0), ("provider's first token at 200 ms", 0.2)):
        fake.queue(name="reply", first_token_delay=delay, for_model=SHAPED)
        direct, ours = [], []
        with httpx.Client(timeout=60) as client:
            provider_headers = {"Authorization": "Bearer sk-or-v1-bench"}
            api_headers = {"Authorization": f"Bearer {key}"}
            for i in range(TTFT_ROUNDS + 5):  # the first five warm both paths up
                question = {"role": "user", "content": f"How do I reset my router? ({i})"}
                body = {"model": SHAPED, "messages": [question], "stream": True}
                provider = _first_token(
                    client, f"{fake.url}/chat/completions", body, provider_headers
                )
                body["model"] = f"gadget@{SHAPED}"
                through = _first_token(client, f"{api}/api/v1/chat/completions", body, api_headers)
                time.sleep(PAUSE)  # the new conversation's title is asked for meanwhile
                if i >= 5:
                    direct.append(provider * 1000)
                    ours.append(through * 1000)
        provider_ms, api_ms = statistics.median(direct), statistics.median(ours)
        rows.append(_row(f"first token, {label}: provider's, median", provider_ms, "ms"))
        rows.append(_row(f"first token, {label}: through the API, median", api_ms, "ms"))
        rows.append(_row(f"first token, {label}: API ÷ provider's", api_ms / provider_ms, "x"))
        excess = api_ms - 1.05 * provider_ms
        rows.append(_row(f"first token, {label}: API − 1.05 × provider's", excess, "ms", "<= 5"))
    return rows


# -- bytes on the wire -----------------------------------------------------------------------


def _dechunk(body: bytes) -> bytes:
    out, rest = bytearray(), body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return bytes(out)


async def _raw_reply(api: str, key: str, body: dict[str, Any], accept: str) -> tuple[int, str]:
    """(every byte the server sent, the reply's text), over a socket of our own."""
    parts = urlsplit(api)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    payload = json.dumps(body).encode()
    writer.write(
        (
            f"POST /api/v1/chat/completions HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nAccept-Encoding: {accept}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        + payload
    )
    raw = await reader.read()
    writer.close()
    head, _, body_bytes = raw.partition(b"\r\n\r\n")
    headers = head.decode("latin-1").lower()
    if "transfer-encoding: chunked" in headers:
        body_bytes = _dechunk(body_bytes)
    if "content-encoding: gzip" in headers:
        body_bytes = gzip.decompress(body_bytes)
    elif "gzip" in accept:
        raise RuntimeError("the server did not compress the stream")
    text = ""
    for line in body_bytes.decode().splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:]).get("choices") or []:
                text += choice.get("delta", {}).get("content") or ""
    return len(raw), text


def wire_rows(fake: Any, api: str, key: str) -> list[dict[str, Any]]:
    expected = "".join(f"w{i} " for i in range(WIRE_TOKENS))
    rows = []
    for accept, label, target in (
        ("gzip, deflate", "gzip (the openai package's default)", "<= 1.5"),
        ("identity", "no compression (curl's default)", None),
    ):
        spec = {"token_count": WIRE_TOKENS, "tokens_per_second": WIRE_RATE}
        fake.queue(name="long", for_model=SHAPED, **spec)
        body = {
            "model": f"gadget@{SHAPED}",
            "messages": [{"role": "user", "content": "Tell me everything."}],
            "stream": True,
        }
        sent, text = asyncio.run(_raw_reply(api, key, body, accept))
        if text != expected:
            raise RuntimeError(f"the reply arrived changed ({len(text)} of {len(expected)} chars)")
        what = f"bytes on the wire ÷ reply bytes, {WIRE_TOKENS:,}-token reply at 200/s, {label}"
        rows.append(_row(what, sent / len(expected.encode()), "x", target))
    return rows


# -- many streams --------------------------------------------------------------------------------


async def _many(
    api: str, key: str, conversations: list[str] | None
) -> tuple[float, list[tuple[float, float]]]:
    """Send `CONCURRENT` streamed requests at once, each a new conversation or a follow-up in
    one of `conversations`; (when, [(sent, [DONE] received)...]).

    Raw sockets and no decompression: the measuring side must cost far less than the served
    side, and httpx's async client, reading 200 streams in this process, fell behind them."""
    parts = urlsplit(api)
    last = f"w{CONCURRENT_TOKENS - 1} ".encode()

    async def one(i: int) -> tuple[float, float]:
        body: dict[str, Any] = {
            "model": f"gadget@{SHAPED}",
            "messages": [{"role": "user", "content": f"Tell me more ({i})."}],
            "stream": True,
        }
        if conversations is not None:
            body["conversation_id"] = conversations[i]
        payload = json.dumps(body).encode()
        request = (
            f"POST /api/v1/chat/completions HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        ).encode() + payload
        started = time.time()
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(request)
        received = bytearray()
        finished = None
        while chunk := await reader.read(65536):
            received += chunk
            if finished is None and b"data: [DONE]" in received[-len(chunk) - 16 :]:
                finished = time.time()
        writer.close()
        if finished is None or last not in received:
            raise RuntimeError(
                f"stream {i} did not end with its last token: {bytes(received[-300:])!r}"
            )
        return started, finished

    since = time.time()
    return since, list(await asyncio.gather(*(one(i) for i in range(CONCURRENT))))


def core_streams(fake_url: str, count: int) -> str:
    """The core alone, the baseline: `count` replies through `ChatClient` on threads (as reply
    tasks run), no API, no database; "slowest seconds, failures". Run in a process of its own."""
    import threading

    from assistant.client import ChatClient
    from assistant.events import Finished
    from assistant.interpreter import share_fairly
    from assistant.settings import Settings

    share_fairly()
    client = ChatClient(
        Settings(api_key="sk-or-v1-bench", base_url=fake_url, fallback_models=(), max_retries=0)
    )
    durations: list[float] = []

    def one(i: int) -> None:
        started = time.monotonic()
        messages = [{"role": "user", "content": f"Tell me more ({i})."}]
        ended = [e for e in client.stream_chat(messages, SHAPED) if isinstance(e, Finished)]
        if ended:
            durations.append(time.monotonic() - started)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return f"{max(durations)} {count - len(durations)}"


def _core_baseline(fake: Any) -> tuple[float, float, int]:
    """(slowest, ideal, failed) of `core_streams` in a process of its own, same provider."""
    spec = {"token_count": CONCURRENT_TOKENS, "tokens_per_second": CONCURRENT_RATE}
    fake.queue(name="long", for_model=SHAPED, **spec)
    since = time.time()
    code = (
        f"from bench.bench_api import core_streams; print(core_streams({fake.url!r}, {CONCURRENT}))"
    )
    from tests.commands import run_python

    done = run_python(code, timeout=300, check=True)
    streams = fake.streams(since, "long")
    ideal = statistics.median(s["last_token_at"] - s["started_at"] for s in streams)
    slowest, failed = done.stdout.strip().splitlines()[-1].split()
    return float(slowest), ideal, int(failed)


def _streams_once(
    fake: Any, api: str, key: str, conversations: list[str] | None
) -> tuple[float, float, float]:
    """(slowest ÷ ideal, ideal, when the last request reached the provider)."""
    spec = {"token_count": CONCURRENT_TOKENS, "tokens_per_second": CONCURRENT_RATE}
    fake.queue(name="long", for_model=SHAPED, **spec)
    since, runs = asyncio.run(_many(api, key, conversations))
    streams = fake.streams(since, "long")
    if len(streams) != CONCURRENT:
        raise RuntimeError(f"{len(streams)} streams reached the provider for {CONCURRENT}")
    ideal = statistics.median(s["last_token_at"] - s["started_at"] for s in streams)
    slowest = max(end - start for start, end in runs)
    return slowest / ideal, ideal, max(s["started_at"] for s in streams) - since


def concurrency_rows(
    fake: Any, api: str, key: str, conversations: list[str]
) -> list[dict[str, Any]]:
    name = f"{CONCURRENT} streams on one process"
    rows = []
    for label, given, target in (
        ("follow-ups in existing conversations", conversations, "<= 1.25"),
        ("each a new conversation", None, None),
    ):
        ratio, ideal, last = _streams_once(fake, api, key, given)
        rows += [
            _row(f"{name}, {label}: slowest ÷ ideal", ratio, "x", target),
            _row(f"{name}, {label}: ideal (the provider's median stream)", ideal, "s"),
            _row(f"{name}, {label}: last request reached the provider after", last, "s"),
        ]
        time.sleep(5)  # titles of new conversations, stream slots given back
    core_slowest, core_ideal, core_failed = _core_baseline(fake)
    core = "the core alone (ChatClient threads, no API, no database)"
    rows += [
        _row(f"{name}, {core}: slowest ÷ ideal", core_slowest / core_ideal, "x"),
        _row(f"{name}, {core}: streams that failed", core_failed, ""),
    ]
    return rows


def run() -> list[dict[str, Any]]:
    from bench.bench_app import _fake_provider

    with tempfile.TemporaryDirectory(prefix="bench_api_") as folder:
        database = f"sqlite:///{Path(folder) / 'api.db'}"
        key, conversations = _seed(database)
        with _fake_provider() as fake:
            env = {
                "OPENROUTER_API_KEY": "sk-or-v1-bench",
                "OPENROUTER_BASE_URL": fake.url,
                "OPENROUTER_FALLBACK_MODELS": "",
                "DATABASE_URL": database,
                "ASSISTANT_DATA_DIR": folder,
                "ASSISTANT_API_STREAMS": str(CONCURRENT + 10),
                "ASSISTANT_API_REQUESTS_PER_MINUTE": "100000",
                "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",
            }
            with _api_server(env) as (api, served_by):
                rows = first_token_rows(fake, api, key)
                rows += wire_rows(fake, api, key)
                rows += concurrency_rows(fake, api, key, conversations)
    for row in rows:
        row["name"] += f" [{served_by}]"
    return rows
