"""The app as users meet it: bytes, lag, long chats, many sessions, and the database behind it.

The real app runs with `streamlit run` as shipped (its `.streamlit/config.toml`, a fresh SQLite
file), the fake OpenRouter in a separate process (so its CPU does not share the bench's GIL),
and `bench/plain_chat_app.py` (`st.write_stream`, the tutorial chat app) beside it as the
baseline. Browsers are simulated over Streamlit's WebSocket protocol by `bench.st_client`, so
a hundred tabs fit in this one process; every figure is measured for both apps in the same run,
alternating where it can, so machine noise hits both alike.

Times on the wire are compared with the fake's own records (`time.time()` in both processes on
the same machine): "lag" is when the last token reached the browser minus when the provider
sent it. Conversations are seeded through `assistant.store.Store` (the plain app gets the same
texts through `?n=`), and each session opens an existing conversation so that no background
title request competes with the measured stream.

Workloads: amplification is one 2,000-token reply at 200 tokens/s; lag and first token are
medians of 5 replies of 500 tokens; the long chat sends one message with a 20-token reply into
conversations of 10 and 800 messages; "100 streams at once" sends 100 submits together, each
answered with 500 tokens at 50 tokens/s, and divides the slowest run (submit to script_finished)
by the provider's own median stream duration (about 10 s). Idle memory is the app process's
VmRSS growth over 100 more connected sessions, after 10 warm ones.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLAIN_APP = ROOT / "bench" / "plain_chat_app.py"
COOKIE = "assistant_session"  # assistant.cookie_tickets.SESSION_COOKIE
MODEL = "deepseek/deepseek-v3.2"
STREAM_RATE, LONG_TOKENS = 200.0, 2000  # tokens/s, and the amplification reply
LAG_REPLIES, LAG_TOKENS = 5, 500  # lag and first-token samples
SHORT_CHAT, LONG_CHAT, CHAT_ROUNDS = 10, 800, 5
CONCURRENT, CONCURRENT_TOKENS, CONCURRENT_RATE = 100, 500, 50.0
IDLE_WARM, IDLE_SESSIONS, IDLE_MESSAGES = 10, 100, 20
DB_BIG, DB_SMALL, DB_APPENDS = 10_000, 10, 40

_ANSWER = (
    "Keep it between 20 and 80 percent when you can, avoid leaving it in a hot car, and use the "
    "charger that came with it. Slow charging overnight is fine: modern phones stop at full. "
    "If it drains fast, check which apps use the battery in Settings and update the system. "
)


def seed_messages(count: int) -> list[tuple[str, str]]:
    """`count` alternating user and assistant messages, the same for both apps."""
    return [
        ("user", f"Question {i // 2}: how do I keep my phone's battery healthy?")
        if i % 2 == 0
        else ("assistant", f"Answer {i // 2}. {_ANSWER}")
        for i in range(count)
    ]


def reply_tokens(tag: str, count: int) -> list[str]:
    """A reply's tokens, "a0 a1 ...": a new tag per reply, so a reply drawn again in the
    transcript can never be mistaken for the one streaming."""
    return [f"{tag}{i} " for i in range(count)]


def _row(name: str, value: float, unit: str, target: str | None = None) -> dict[str, Any]:
    return {"name": name, "value": round(value, 3), "unit": unit, "target": target}


# -- processes --------------------------------------------------------------------------------


@contextmanager
def _fake_provider() -> Iterator[Fake]:
    command = [sys.executable, "-m", "tests.fake_openrouter", "--port", "0"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield Fake(process.stdout.readline().strip())
    finally:
        process.terminate()
        process.wait(timeout=10)


class Fake:
    """The fake OpenRouter in its own process, driven through its control endpoints."""

    def __init__(self, url: str) -> None:
        import httpx

        self.url = url
        self._http = httpx.Client(base_url=url.removesuffix("/api/v1"), timeout=30)

    def queue(self, **spec: Any) -> None:
        self._http.post("/_control/scenario", json=spec).raise_for_status()

    def streams(self, since: float, scenario: str) -> list[dict[str, Any]]:
        found = self._http.get("/_control/streams").json()
        return [s for s in found if s["started_at"] >= since and s["scenario"] == scenario]


def serving_pid(url: str) -> int:
    """The pid of our child process serving `url` (its command line names the port)."""
    port = url.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"--server.port" in args and port.encode() in args:
            return int(entry.name)
    raise RuntimeError(f"no child process serves {url}")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# -- seeding ----------------------------------------------------------------------------------


def _seed(store: Any, accounts: Any, count: int) -> str:
    """A guest with one conversation of `count` messages; returns "token|query string"."""
    from assistant.reply import Reply, ReplyStatus
    from assistant.store import NewTurn

    signed = accounts.start_guest()
    owner, cid, reply_id = signed.user.id, None, ""
    for role, text in seed_messages(count):
        if role == "user":
            started = store.start_turn(NewTurn(owner, cid, text, "gadget", MODEL))
            cid, reply_id = started.conversation_id, started.reply_id
        else:
            reply = Reply(text=text, model=MODEL, status=ReplyStatus.COMPLETE)
            store.finish_reply(owner, reply_id, reply)
    return f"{signed.token}|c={cid}"


class Tabs:
    """Opens sessions of one of the two apps on a conversation of a given length."""

    def __init__(self, name: str, url: str, seeds: dict[int, list[str]] | None) -> None:
        self.name, self.url, self._seeds = name, url, seeds

    async def open(self, messages: int) -> Any:
        from bench.st_client import Session

        if self._seeds is None:  # the plain app
            tab = Session(self.url, query_string=f"n={messages}")
        else:
            token, query = self._seeds[messages].pop().split("|")
            tab = Session(self.url, cookies={COOKIE: token}, query_string=query)
        await tab.connect()
        await tab.load()
        return tab

    async def open_many(self, count: int, messages: int, parallel: int = 4) -> list[Any]:
        gate = asyncio.Semaphore(parallel)

        async def one() -> Any:
            async with gate:
                return await self.open(messages)

        return list(await asyncio.gather(*(one() for _ in range(count))))


# -- figures ----------------------------------------------------------------------------------


class Figures(list[dict[str, Any]]):
    """Rows named "<subject>: <what>"; the targets are ours, the baseline ("plain") has none."""

    def add(self, app: str, what: str, value: float, unit: str, target: str | None = None) -> None:
        self.append(_row(f"{app}: {what}", value, unit, None if app == "plain" else target))


async def _stream(tab: Any, fake: Fake, tag: str, count: int) -> tuple[Any, dict[str, Any]]:
    fake.queue(name="reply", tokens=reply_tokens(tag, count), tokens_per_second=STREAM_RATE)
    watch = {"first": rf"\b{tag}0\b", "last": rf"\b{tag}{count - 1}\b"}
    done = await tab.chat("Tell me everything about batteries.", watch=watch)
    if len(done.seen) != len(watch):
        raise RuntimeError(f"the reply's text never reached the browser (tokens {tag}0...)")
    return done, fake.streams(done.started_at, "reply")[-1]


async def stream_figures(apps: list[Tabs], fake: Fake) -> Figures:
    rows = Figures()
    tabs = [await app.open(2) for app in apps]
    tags = iter("abcdefghijklmnopqrstuv")  # "w" is for the concurrent streams (long_reply)
    for app, tab in zip(apps, tabs, strict=True):
        done, record = await _stream(tab, fake, next(tags), LONG_TOKENS)
        ratio = done.bytes / len("".join(reply_tokens("a", LONG_TOKENS)).encode())
        rows.add(app.name, "stream amplification, 2,000-token reply at 200/s", ratio, "x", "<= 10")
        lag = (done.seen["last"] - record["last_token_at"]) * 1000
        rows.add(app.name, "lag of that reply's last token", lag, "ms")
    lags: dict[str, list[float]] = {app.name: [] for app in apps}
    firsts: dict[str, list[float]] = {app.name: [] for app in apps}
    for _ in range(LAG_REPLIES):
        for app, tab in zip(apps, tabs, strict=True):
            done, record = await _stream(tab, fake, next(tags), LAG_TOKENS)
            lags[app.name].append((done.seen["last"] - record["last_token_at"]) * 1000)
            firsts[app.name].append((done.seen["first"] - record["first_token_at"]) * 1000)
    for app in apps:
        what = f"streaming lag, median of {LAG_REPLIES} {LAG_TOKENS}-token replies"
        rows.add(app.name, what, statistics.median(lags[app.name]), "ms", "<= 100")
        what = "added time to first token, median"
        rows.add(app.name, what, statistics.median(firsts[app.name]), "ms", "<= 50")
    for tab in tabs:
        await tab.close()
    return rows


async def long_chat_figures(apps: list[Tabs], fake: Fake) -> Figures:
    rows = Figures()
    for app in apps:
        short, long = await app.open(SHORT_CHAT), await app.open(LONG_CHAT)
        times: dict[int, list[float]] = {SHORT_CHAT: [], LONG_CHAT: []}
        sizes: dict[int, list[int]] = {SHORT_CHAT: [], LONG_CHAT: []}
        for _ in range(CHAT_ROUNDS):  # alternating, so noise hits both lengths alike
            for length, tab in ((SHORT_CHAT, short), (LONG_CHAT, long)):
                fake.queue(name="long", token_count=20, tokens_per_second=1000)
                done = await tab.chat("And what about cold weather?")
                times[length].append(done.server_seconds)
                sizes[length].append(done.bytes)
        for what, unit, samples in (("server time", "s", times), ("bytes", "B", sizes)):
            at = {length: statistics.median(values) for length, values in samples.items()}
            rows.add(app.name, f"one message at {LONG_CHAT} messages, {what}", at[LONG_CHAT], unit)
            what = f"long-chat {what}, {LONG_CHAT} / {SHORT_CHAT} messages"
            rows.add(app.name, what, at[LONG_CHAT] / at[SHORT_CHAT], "x", "<= 1.5")
        await short.close()
        await long.close()
    return rows


async def concurrency_figures(apps: list[Tabs], fake: Fake) -> Figures:
    rows = Figures()
    for app in apps:
        tabs = await app.open_many(CONCURRENT, 2)
        rate = CONCURRENT_RATE
        fake.queue(name="long", token_count=CONCURRENT_TOKENS, tokens_per_second=rate, persist=True)
        since = time.time()
        watch = {"last": rf"\bw{CONCURRENT_TOKENS - 1}\b"}
        pending = await asyncio.gather(*(t.submit_chat("Tell me more.", watch=watch) for t in tabs))
        done = await asyncio.gather(*(t.finish(p) for t, p in zip(tabs, pending, strict=True)))
        fake.queue(name="echo", persist=True)
        streams = fake.streams(since, "long")
        if len(streams) != CONCURRENT:
            raise RuntimeError(f"{len(streams)} streams for {CONCURRENT} sessions")
        ideal = statistics.median(s["last_token_at"] - s["started_at"] for s in streams)
        name = f"{CONCURRENT} streams at once"
        slowest = max(d.finished_at - d.started_at for d in done)
        rows.add(app.name, f"{name}: slowest run / ideal", slowest / ideal, "x", "<= 1.25")
        slowest = max(d.seen["last"] - d.started_at for d in done)
        rows.add(app.name, f"{name}: slowest last token / ideal", slowest / ideal, "x")
        slowest = max(s["last_token_at"] - s["started_at"] for s in streams)
        rows.add(app.name, f"{name}: provider's slowest / ideal", slowest / ideal, "x")
        # Where the time goes: before the last request reached the provider, after its end.
        start = max(s["started_at"] for s in streams) - since
        rows.add(app.name, f"{name}: last request sent after", start, "s")
        tail = max(d.finished_at for d in done) - max(s["last_token_at"] for s in streams)
        rows.add(app.name, f"{name}: last run end - last token", tail, "s")
        await asyncio.gather(*(t.close() for t in tabs))
    return rows


async def idle_figures(apps: list[Tabs], pids: dict[str, int]) -> Figures:
    rows = Figures()
    for app in apps:
        warm = await app.open_many(IDLE_WARM, IDLE_MESSAGES)  # one-time costs come first
        await asyncio.sleep(1.0)
        before = rss_kb(pids[app.name])
        idle = await app.open_many(IDLE_SESSIONS, IDLE_MESSAGES)
        await asyncio.sleep(2.0)
        per_session = (rss_kb(pids[app.name]) - before) / IDLE_SESSIONS
        what = f"memory per idle session, {IDLE_MESSAGES} messages"
        rows.add(app.name, what, per_session, "kB", "<= 80")
        await asyncio.gather(*(t.close() for t in [*warm, *idle]))
    return rows


def database_figures(directory: Path) -> Figures:
    from assistant.accounts import Accounts
    from assistant.store import NewTurn, Store

    store = Store(f"sqlite:///{directory / 'db_bench.db'}")
    store.migrate()
    owner = Accounts(store).start_guest().user.id
    conversations: dict[int, str] = {}
    for size in (DB_SMALL, DB_BIG):
        cid = None
        for i in range(size // 2):  # a turn is two messages: the question and its reply row
            text = f"message {i} about batteries"
            cid = store.start_turn(NewTurn(owner, cid, text, "gadget", "m")).conversation_id
        assert cid is not None
        conversations[size] = cid
    appends: dict[int, list[float]] = {DB_SMALL: [], DB_BIG: []}
    for _ in range(DB_APPENDS):
        for size, cid in conversations.items():
            started = time.perf_counter()
            store.start_turn(NewTurn(owner, cid, "one more question", "gadget", "m"))
            appends[size].append(time.perf_counter() - started)
    opens = []
    for _ in range(5):
        started = time.perf_counter()
        store.get_conversation(owner, conversations[DB_BIG])
        opens.append(time.perf_counter() - started)
    store.close()
    small, big = statistics.median(appends[DB_SMALL]), statistics.median(appends[DB_BIG])
    rows = Figures()
    rows.add("database", f"append a message at {DB_SMALL} messages", small * 1000, "ms")
    what = f"append at {DB_BIG:,} / at {DB_SMALL} messages"
    rows.add("database", what, big / small, "x", "<= 1.2")
    what = f"open a {DB_BIG:,}-message conversation, median of 5"
    rows.add("database", what, statistics.median(opens) * 1000, "ms", "<= 300")
    return rows


# -- the run ----------------------------------------------------------------------------------


def _seed_app_database(url: str) -> dict[int, list[str]]:
    from assistant.accounts import Accounts
    from assistant.store import Store

    store = Store(url)
    store.migrate()
    accounts = Accounts(store)
    wanted = {
        2: 1 + CONCURRENT,
        SHORT_CHAT: 1,
        LONG_CHAT: 1,
        IDLE_MESSAGES: IDLE_WARM + IDLE_SESSIONS,
    }
    seeds = {size: [_seed(store, accounts, size) for _ in range(n)] for size, n in wanted.items()}
    store.close()
    return seeds


async def _app_figures(apps: list[Tabs], fake: Fake, pids: dict[str, int]) -> list[dict[str, Any]]:
    rows = await idle_figures(apps, pids)
    rows += await stream_figures(apps, fake)
    rows += await long_chat_figures(apps, fake)
    rows += await concurrency_figures(apps, fake)
    return rows


def run() -> list[dict[str, Any]]:
    from tests.served_app import served_app

    with tempfile.TemporaryDirectory(prefix="bench_app_") as folder:
        directory = Path(folder)
        rows = database_figures(directory)
        database = f"sqlite:///{directory / 'app.db'}"
        seeds = _seed_app_database(database)
        with _fake_provider() as fake:
            env = {
                "OPENROUTER_API_KEY": "sk-or-v1-bench",
                "OPENROUTER_BASE_URL": fake.url,
                "OPENROUTER_FALLBACK_MODELS": "",
                "ASSISTANT_MAX_RETRIES": "0",
                "DATABASE_URL": database,
                "ASSISTANT_DATA_DIR": str(directory),
                # Not a product setting: other people's edits to the checkout while the bench
                # runs must not hot-reload half the modules into the app (class identities
                # split, and replies end "stopped" with no text).
                "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",
            }
            with served_app(env) as app_url, served_app(env, script=PLAIN_APP) as plain_url:
                apps = [Tabs("app", app_url, seeds), Tabs("plain", plain_url, None)]
                pids = {"app": serving_pid(app_url), "plain": serving_pid(plain_url)}
                rows += asyncio.run(_app_figures(apps, fake, pids))
    return rows
