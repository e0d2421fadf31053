"""Many people at once on one process: a burst of arrivals, the server's CPU per first page and
per reply, and what WebSocket compression buys on the wire for the CPU it costs.

The app runs as shipped (`streamlit run app.py`, `.streamlit/config.toml`, a fresh SQLite file)
with the fake OpenRouter in its own process, beside the plain `st.write_stream` chat app
(`bench/plain_chat_app.py`) as the baseline, both driven over Streamlit's WebSocket protocol by
`bench.st_client`. Every session is a new visitor (no cookie), as when a class opens a link.

- **Burst**: `BURST` sessions connect at the same moment and each sends one message as soon as
  its page has loaded; the provider streams `BURST_TOKENS` tokens at `BURST_RATE` tokens/s
  (5 s ideal). First page: from opening the WebSocket to the end of the first run. Reply: from
  sending to the end of the run that draws it. Dropped: sessions that failed or were hung up;
  each client pings every `KEEPALIVE` seconds and gives up after as long without an answer,
  like a browser behind a proxy with that idle timeout.
- **CPU**: the server process's user + system time (`/proc/<pid>/stat`) over a phase, less its
  idle rate, divided by the sessions or replies of the phase. First pages: `FIRST_PAGES` new
  visitors opening the page, `PARALLEL` at a time. Replies: `STREAMING` loaded sessions send
  at once, counted until the process is quiet again (a new conversation's title included).
- **Wire**: one new visitor sends a message answered with `WIRE_TOKENS` tokens of prose (the
  README's words) at `WIRE_RATE` tokens/s; the bytes the TCP connection delivered from sending
  to the end of the run, divided by the reply's bytes.
- **Compression**: on a server with `server.enableWebsocketCompression` on, sessions that offer
  permessage-deflate (as browsers do) against sessions that do not, alternately, on the same
  process: bytes on the wire, CPU per first page and per reply (`AB_STREAMING` at once), and
  memory per idle session (`AB_IDLE` sessions).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import tempfile
import time
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.bench_app import (
    PLAIN_APP,
    ROOT,
    Fake,
    Figures,
    _fake_provider,
    reply_tokens,
    rss_kb,
    serving_pid,
)

BURST, BURST_TOKENS, BURST_RATE = 100, 100, 20.0
KEEPALIVE = 20.0
FIRST_PAGES, PARALLEL = 40, 4
STREAMING = 100
WIRE_TOKENS, WIRE_RATE, WIRE_ROUNDS = 2000, 200.0, 3
AB_STREAMING, AB_IDLE, AB_ROUNDS = 50, 50, 2
COMPRESSION = "STREAMLIT_SERVER_ENABLE_WEBSOCKET_COMPRESSION"
QUESTION = "My phone battery drains fast. What can I do?"


_visitors = itertools.count()


def visitor_address() -> str:
    """A new client address for each simulated browser (the benchmarking range, RFC 2544):
    the app limits new guests per address, and every tab here comes from one machine."""
    n = next(_visitors)
    return f"198.18.{n // 250 % 256}.{n % 250 + 1}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def idle_rate(pid: int, seconds: float = 2.0) -> float:
    """CPU seconds per second the process spends with nobody asking anything."""
    before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds


async def until_quiet(pid: int, rate: float, window: float = 1.0, limit: float = 60.0) -> None:
    """Wait until a window passes in which the process used little more than its idle rate."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(window)
        if cpu_seconds(pid) - before <= rate * window + 0.02:
            return


async def measured_cpu(pid: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """CPU seconds the process spent on `work` (and on what it left running), less idling."""
    rate = await idle_rate(pid)
    started, before = time.monotonic(), cpu_seconds(pid)
    result = await work()
    await until_quiet(pid, rate)
    spent = cpu_seconds(pid) - before - rate * (time.monotonic() - started)
    return max(spent, 0.0), result


def shipped_compression() -> bool:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    return bool(config.get("server", {}).get("enableWebsocketCompression", False))


def prose_tokens(count: int, tag: str) -> list[str]:
    """`count` word tokens of real prose (the README's), ending with a marker to watch for."""
    from tests.fake_openrouter import words

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    pieces = words(text)
    while len(pieces) < count:
        pieces += pieces
    return [*pieces[: count - 1], f" {tag}end\n"]


class App:
    """One served app: its URL, its serving process, and how its tabs open."""

    def __init__(self, name: str, url: str, *, plain: bool = False, offer: bool = True) -> None:
        """`offer`: the tabs offer WebSocket compression (browsers do)."""
        self.name, self.url, self.plain, self.offer = name, url, plain, offer
        self.pid = serving_pid(url)

    def tab(self, *, keepalive: float | None = None) -> Any:
        from bench.st_client import Session

        query = "n=0" if self.plain else ""
        return Session(
            self.url,
            query_string=query,
            keepalive=keepalive,
            compression=self.offer,
            client_address=visitor_address(),
        )

    async def open(self, *, keepalive: float | None = None) -> Any:
        tab = self.tab(keepalive=keepalive)
        await tab.connect()
        await tab.load()
        return tab

    async def open_many(self, count: int, parallel: int = PARALLEL) -> list[Any]:
        gate = asyncio.Semaphore(parallel)

        async def one() -> Any:
            async with gate:
                return await self.open()

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def _close(tabs: list[Any]) -> None:
    await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)


# -- the burst --------------------------------------------------------------------------------


async def burst_figures(app: App, fake: Fake) -> Figures:
    fake.queue(
        name="reply",
        tokens=reply_tokens("b", BURST_TOKENS),
        tokens_per_second=BURST_RATE,
        persist=True,
    )
    ideal = BURST_TOKENS / BURST_RATE
    watch = {"last": rf"\bb{BURST_TOKENS - 1}\b"}
    pages: list[float] = []
    replies: list[float] = []
    dropped: list[str] = []
    tabs: list[Any] = []

    async def arrive() -> None:
        tab = app.tab(keepalive=KEEPALIVE)
        tabs.append(tab)
        try:
            started = time.perf_counter()
            await tab.connect()
            await tab.load(timeout=180)
            pages.append(time.perf_counter() - started)
            done = await tab.chat(QUESTION, watch=watch, timeout=180)
            if "last" not in done.seen:
                shown = [*done.alerts, *done.recent]
                raise RuntimeError(f"the reply's end never reached the page; it showed {shown!r}")
            replies.append(done.server_seconds)
        except Exception as exc:  # a dropped session, whatever the reason: counted
            dropped.append(f"{type(exc).__name__}: {exc}")

    since = time.time()
    everyone = lambda: asyncio.gather(*(arrive() for _ in range(BURST)))  # noqa: E731
    spent, _ = await measured_cpu(app.pid, everyone)
    fake.queue(name="echo", persist=True)
    rows = Figures()
    name = f"burst of {BURST}"
    if pages:
        rows.add(app.name, f"{name}: first page, median", statistics.median(pages), "s")
        rows.add(app.name, f"{name}: first page, slowest", max(pages), "s", "<= 2")
    if replies:
        slowest = max(replies) / ideal
        rows.add(app.name, f"{name}: slowest reply / {ideal:.0f} s ideal", slowest, "x", "<= 1.5")
    rows.add(app.name, f"{name}: dropped sessions", len(dropped), "sessions", "<= 0")
    streams = [s for s in fake.streams(since, "reply") if s["last_token_at"] is not None]
    if streams:
        provider = max(s["last_token_at"] - s["started_at"] for s in streams) / ideal
        rows.add(app.name, f"{name}: provider's slowest stream / ideal", provider, "x")
        rows.add(app.name, f"{name}: streams the provider served", len(streams), "streams")
    rows.add(app.name, f"{name}: server CPU per arrival", spent * 1000 / BURST, "ms")
    for reason in sorted(set(dropped))[:3]:
        print(f"  dropped ({app.name}): {reason}")
    await _close(tabs)
    return rows


# -- CPU per first page and per reply ---------------------------------------------------------


async def first_page_cpu(app: App) -> Figures:
    tabs: list[Any] = []

    async def open_pages() -> None:
        tabs.extend(await app.open_many(FIRST_PAGES))

    spent, _ = await measured_cpu(app.pid, open_pages)
    rows = Figures()
    what = "server CPU per new visitor's first page"
    rows.add(app.name, what, spent * 1000 / FIRST_PAGES, "ms", "<= 15")
    await _close(tabs)
    return rows


async def reply_cpu(app: App, fake: Fake, streaming: int = STREAMING) -> Figures:
    tabs = await app.open_many(streaming)
    fake.queue(
        name="reply",
        tokens=reply_tokens("c", BURST_TOKENS),
        tokens_per_second=BURST_RATE,
        persist=True,
    )
    watch = {"last": rf"\bc{BURST_TOKENS - 1}\b"}

    async def send_all() -> list[Any]:
        pending = await asyncio.gather(*(t.submit_chat(QUESTION, watch=watch) for t in tabs))
        return list(
            await asyncio.gather(
                *(t.finish(p, timeout=180) for t, p in zip(tabs, pending, strict=True))
            )
        )

    spent, done = await measured_cpu(app.pid, send_all)
    fake.queue(name="echo", persist=True)
    if any("last" not in d.seen for d in done):
        raise RuntimeError("a reply's last token never reached its page")
    rows = Figures()
    what = f"server CPU per streamed reply, {streaming} streaming"
    rows.add(app.name, what, spent * 1000 / streaming, "ms", "<= 40")
    await _close(tabs)
    return rows


async def idle_memory(apps: list[App], count: int) -> Figures:
    """Growth of the process's resident memory per connected, idle session, for sessions of
    each app in turn on one process, all kept open (freed memory is not reused meanwhile)."""
    rows = Figures()
    tabs: list[Any] = []
    for app in apps:
        await asyncio.sleep(1.0)
        before = rss_kb(app.pid)
        tabs += await app.open_many(count)
        await asyncio.sleep(2.0)
        rows.add(app.name, "memory per idle session", (rss_kb(app.pid) - before) / count, "kB")
    await _close(tabs)
    return rows


# -- bytes on the wire ------------------------------------------------------------------------


async def wire_figures(apps: list[App], fake: Fake) -> Figures:
    ratios: dict[str, list[float]] = {app.name: [] for app in apps}
    pages: dict[str, list[int]] = {app.name: [] for app in apps}
    negotiated: dict[str, bool] = {}
    for round_ in range(WIRE_ROUNDS):
        for index, app in enumerate(apps):
            tag = f"z{round_}x{index}"
            tokens = prose_tokens(WIRE_TOKENS, tag)
            tab = app.tab()
            await tab.connect()
            page = await tab.load()
            fake.queue(name="reply", tokens=tokens, tokens_per_second=WIRE_RATE)
            done = await tab.chat(QUESTION, watch={"last": rf"\b{tag}end\b"})
            if "last" not in done.seen:
                raise RuntimeError(f"{app.name}: the reply's end never reached the page")
            ratios[app.name].append(done.wire_bytes / len("".join(tokens).encode()))
            pages[app.name].append(page.wire_bytes)
            negotiated[app.name] = tab.compressed
            await tab.close()
    rows = Figures()
    for app in apps:
        squeezed = "compressed" if negotiated[app.name] else "uncompressed"
        what = f"wire bytes / reply bytes ({squeezed}), {WIRE_TOKENS}-token reply"
        rows.add(app.name, what, statistics.median(ratios[app.name]), "x", "<= 2.5")
        what = f"first page on the wire ({squeezed})"
        rows.add(app.name, what, statistics.median(pages[app.name]) / 1000, "kB")
    return rows


# -- the run ----------------------------------------------------------------------------------


def _env(fake: Fake, directory: Path, name: str) -> dict[str, str]:
    return {
        "OPENROUTER_API_KEY": "sk-or-v1-bench",
        "OPENROUTER_BASE_URL": fake.url,
        "OPENROUTER_FALLBACK_MODELS": "",
        "ASSISTANT_MAX_RETRIES": "0",
        "DATABASE_URL": f"sqlite:///{directory / f'{name}.db'}",
        "ASSISTANT_DATA_DIR": str(directory),
        "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",  # see bench_app: others edit the checkout
        "ASSISTANT_TRUSTED_PROXIES": "127.0.0.1",  # believes each tab's own address
    }


async def _warm(apps: list[App]) -> None:
    """One session per app first: imports and one-time work are not a new visitor's cost."""
    for app in apps:
        tab = await app.open()
        await tab.chat("Hello")
        await tab.close()


def _median_rows(rows: Figures) -> Figures:
    """One row per name: the median of its values over the rounds."""
    values: dict[str, list[float]] = {}
    first: dict[str, dict[str, Any]] = {}
    for row in rows:
        values.setdefault(row["name"], []).append(row["value"])
        first.setdefault(row["name"], row)
    out = Figures()
    for name, row in first.items():
        out.append({**row, "value": round(statistics.median(values[name]), 3)})
    return out


async def _figures(shipped: App, deflate: App, bare: App, plain: App, fake: Fake) -> Figures:
    await _warm([shipped, deflate, plain])
    # Memory first, while the processes are fresh: a burst leaves freed memory to reuse.
    ab = await idle_memory([bare, deflate], AB_IDLE)
    rows = Figures()
    rows += await burst_figures(shipped, fake)
    rows += await burst_figures(plain, fake)
    rows += await wire_figures([bare, deflate, plain], fake)
    for app in (shipped, plain):
        rows += await first_page_cpu(app)
    for app in (shipped, plain):
        rows += await reply_cpu(app, fake)
    for _ in range(AB_ROUNDS):  # alternately, on one process: only the compression differs
        for app in (bare, deflate):
            ab += await first_page_cpu(app)
            ab += await reply_cpu(app, fake, AB_STREAMING)
    for row in _median_rows(ab):
        row["target"] = None  # the decision's inputs; the targets are the shipped app's
        rows.append(row)
    return rows


def run() -> list[dict[str, Any]]:
    from tests.served_app import served_app

    on = shipped_compression()
    with (
        tempfile.TemporaryDirectory(prefix="bench_burst_") as folder,
        _fake_provider() as fake,
    ):
        directory = Path(folder)
        base = _env(fake, directory, "shipped")
        # With compression shipped on, the A/B runs on the shipped server itself.
        enabled = {**_env(fake, directory, "compressed"), COMPRESSION: "true"}
        with (
            served_app(base) as shipped_url,
            served_app(enabled) as enabled_url,
            served_app(_env(fake, directory, "plain"), script=PLAIN_APP) as plain_url,
        ):
            shipped = App(f"app (compression {'on' if on else 'off'})", shipped_url)
            squeezer = shipped_url if on else enabled_url
            deflate = App("app, compression negotiated", squeezer)
            bare = App("app, compression not negotiated", squeezer, offer=False)
            plain = App("plain", plain_url, plain=True)
            return list(asyncio.run(_figures(shipped, deflate, bare, plain, fake)))
