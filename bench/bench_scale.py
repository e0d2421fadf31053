"""More processes on one machine: one replica against two behind HAProxy, on one PostgreSQL.

Built from `make cluster`'s pieces (`deploy/`): a throwaway PostgreSQL, replicas started as
`python -m deploy.replica` with one cookie secret, HAProxy from `deploy/haproxy.cfg`. Two
HAProxies run side by side, one in front of replica r1 alone and one in front of r1 and r2, so
the only difference between the two runs is the number of replicas.

- **Throughput**: `ARRIVALS` new visitors arrive at once, each opening the page and sending one
  message that the provider answers at once (`REPLY_TOKENS` tokens at `REPLY_RATE`/s), so the
  replicas' CPU, not the provider, sets the pace. Throughput is arrivals served per second,
  from the first connection to the last finished reply; the ratio is two replicas over one.
- **Proxy latency**: one session straight to r1 and one through HAProxy to r1, alternately,
  `LATENCY_ROUNDS` messages each: the first token on the page less the provider's first token
  (median); the figure is the difference.
- **Rolling restart**: `CHATTING` sessions (each with the cookies a page load gives) chat
  through HAProxy, one message after another (`ROLLING_TOKENS` tokens at `ROLLING_RATE`/s),
  while each replica in turn gets SIGTERM, exits (graceful stop), starts again and is healthy.
  A session whose connection closes reconnects, as the browser does, and goes on. Lost: the
  messages whose page showed them sent and answered that the database does not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_app import Fake, Figures, _fake_provider, reply_tokens
from bench.bench_burst import QUESTION, visitor_address

ARRIVALS = 200
REPLY_TOKENS, REPLY_RATE = 20, 1000.0
LATENCY_ROUNDS = 10
CHATTING, ROLLING_TOKENS, ROLLING_RATE = 50, 20, 10.0
PAGE = {"Accept": "text/html", "Sec-Fetch-Dest": "document"}


@dataclass
class Cluster:
    urls: dict[str, str]  # "r1" straight, "one" (HAProxy, r1), "two" (HAProxy, r1 and r2)
    replicas: list[Any]  # deploy.cluster.Replica
    env: dict[str, str]
    database: str


@contextlib.contextmanager
def _cluster(fake: Fake, logs: Path) -> Iterator[Cluster]:
    """PostgreSQL, replicas r1 and r2, and two HAProxies."""
    from deploy import cluster, database, postgres, proxy

    haproxy = proxy.find_haproxy()
    if haproxy is None or postgres.unavailable_reason():
        raise RuntimeError("scale needs HAProxy and PostgreSQL: make haproxy postgres")
    server = postgres.start_postgres()
    try:
        url = server.url(server.create_database("bench"))
        database.migrate(url)
        env = {
            **os.environ,
            "PYTHONPATH": str(cluster.ROOT),
            "OPENROUTER_API_KEY": "sk-or-v1-bench",
            "OPENROUTER_BASE_URL": fake.url,
            "OPENROUTER_FALLBACK_MODELS": "",
            "ASSISTANT_MAX_RETRIES": "0",
            "ASSISTANT_DATA_DIR": str(logs),
            "DATABASE_URL": url,
            cluster.COOKIE_SECRET: secrets.token_urlsafe(32),
            "ASSISTANT_TRUSTED_PROXIES": "127.0.0.1",
        }
        with contextlib.ExitStack() as stack:
            replicas = cluster.start_replicas(2, env, logs, stack)
            # A replica restarted by the rolling restart is a new process: stop whichever runs.
            stack.callback(lambda: cluster.stop_processes([r.process for r in replicas]))
            urls = {"r1": replicas[0].url}
            for name, members in (("one", replicas[:1]), ("two", replicas)):
                port = postgres.free_port()
                backends = [proxy.Backend(r.name, f"127.0.0.1:{r.port}") for r in members]
                config = logs / f"haproxy-{name}.cfg"
                config.write_text(proxy.render(f"127.0.0.1:{port}", backends), "utf-8")
                balancer = cluster.spawn(proxy.command(haproxy, config), env, None)
                stack.callback(cluster.stop_processes, [balancer])
                urls[name] = f"http://127.0.0.1:{port}"
                cluster.wait_until_healthy(urls[name], lambda b=balancer: b.poll() is None, name)
            yield Cluster(urls, replicas, env, url)
    finally:
        server.stop()


async def _arrivals(url: str, fake: Fake, tag: str) -> tuple[float, int]:
    """(arrivals served per second, sessions that failed)."""
    from bench.st_client import Session

    fake.queue(
        name="reply",
        tokens=reply_tokens(tag, REPLY_TOKENS),
        tokens_per_second=REPLY_RATE,
        persist=True,
    )
    failed: list[str] = []

    async def arrive() -> None:
        tab = Session(url, client_address=visitor_address())
        try:
            await tab.connect()
            await tab.load(timeout=300)
            done = await tab.chat(QUESTION, watch={"last": rf"\b{tag}{REPLY_TOKENS - 1}\b"})
            if "last" not in done.seen:
                shown = [*done.alerts, *done.recent]
                raise RuntimeError(f"the reply's end never reached the page; it showed {shown!r}")
        except Exception as exc:  # counted, whatever it was
            failed.append(f"{type(exc).__name__}: {exc}")
        finally:
            await tab.close()

    started = time.perf_counter()
    await asyncio.gather(*(arrive() for _ in range(ARRIVALS)))
    elapsed = time.perf_counter() - started
    fake.queue(name="echo", persist=True)
    for reason in sorted(set(failed))[:3]:
        print(f"  failed ({url}): {reason}")
    return (ARRIVALS - len(failed)) / elapsed, len(failed)


async def _first_token_delay(url: str, fake: Fake, tag: str) -> float:
    """Seconds from the provider's first token to the page's, for one message."""
    from bench.st_client import Session

    async with Session(url, client_address=visitor_address()) as tab:
        await tab.load()
        fake.queue(name="reply", tokens=reply_tokens(tag, 20), tokens_per_second=200.0)
        done = await tab.chat(QUESTION, watch={"first": rf"\b{tag}0\b"})
        record = fake.streams(done.started_at, "reply")[-1]
        return float(done.seen["first"] - record["first_token_at"])


def _restart(replica: Any, env: dict[str, str]) -> None:
    """SIGTERM, wait for the exit (graceful stop), start it again on its port, wait healthy."""
    from deploy import cluster
    from deploy import replica as replica_module

    replica.process.send_signal(signal.SIGTERM)
    replica.process.wait(timeout=120)
    output = replica.log.open("ab")
    command = replica_module.start_command(replica.port, "127.0.0.1")
    replica.process = cluster.spawn(command, env, output)
    output.close()
    cluster.wait_until_healthy(replica.url, lambda: replica.process.poll() is None, replica.name)


async def _chatter(url: str, number: int, stop: asyncio.Event) -> tuple[list[str], list[str]]:
    """Chat until `stop`: (messages answered on the page, messages whose run was cut)."""
    import httpx

    from bench.st_client import Session

    address = visitor_address()
    async with httpx.AsyncClient() as http:
        page = await http.get(url, headers={**PAGE, "X-Forwarded-For": address})
    jar = dict(page.cookies)
    answered: list[str] = []
    cut: list[str] = []
    tab, query = None, ""
    index = 0
    while not stop.is_set():
        try:
            if tab is None:
                tab = Session(url, cookies=jar, query_string=query, client_address=address)
                await tab.connect()
                await tab.load(timeout=120)
            text = f"rr-{number}-{index}"
            index += 1
            try:
                await tab.chat(text, timeout=120)
            except Exception:
                cut.append(text)
                raise
            answered.append(text)
            query = tab.info.query_string
        except Exception:  # the replica went away: reconnect, as the browser does
            if tab is not None:
                await tab.close()
            tab = None
            await asyncio.sleep(0.5)
    if tab is not None:
        await tab.close()
    return answered, cut


async def _rolling_restart(found: Cluster, fake: Fake) -> Figures:
    from sqlalchemy import create_engine, text

    fake.queue(
        name="reply",
        tokens=reply_tokens("q", ROLLING_TOKENS),
        tokens_per_second=ROLLING_RATE,
        persist=True,
    )
    stop = asyncio.Event()
    chatting = [asyncio.create_task(_chatter(found.urls["two"], n, stop)) for n in range(CHATTING)]
    await asyncio.sleep(5.0)
    for replica in found.replicas:
        await asyncio.to_thread(_restart, replica, found.env)
        await asyncio.sleep(3.0)  # HAProxy sees it up again (rise 2, every second)
    await asyncio.sleep(5.0)
    stop.set()
    results = await asyncio.gather(*chatting)
    fake.queue(name="echo", persist=True)
    answered = [t for a, _ in results for t in a]
    cut = [t for _, c in results for t in c]
    engine = create_engine(found.database)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT u.text, r.status FROM messages u LEFT JOIN messages r"
                    " ON r.parent_id = u.id AND r.role = 'assistant'"
                    " WHERE u.role = 'user' AND u.text LIKE 'rr-%'"
                )
            ).all()
    finally:
        engine.dispose()
    stored = {str(t): str(status) for t, status in rows}
    rows_ = Figures()
    what = f"rolling restart of 2 replicas, {CHATTING} sessions chatting"
    rows_.add("scale", f"{what}: messages answered on the page", len(answered), "messages")
    lost = sum(1 for t in answered if t not in stored)
    rows_.add("scale", f"{what}: answered messages lost", lost, "messages", "<= 0")
    rows_.add("scale", f"{what}: runs cut by a restart", len(cut), "messages")
    kept = sum(1 for t in cut if t in stored)
    rows_.add("scale", f"{what}: of those, stored (the rest never reached a server)", kept, "")
    left = sum(1 for status in stored.values() if status in ("streaming", "None"))
    rows_.add("scale", f"{what}: replies left streaming", left, "replies", "<= 0")
    return rows_


async def _figures(found: Cluster, fake: Fake) -> Figures:
    urls = found.urls
    rows = Figures()
    delays: dict[str, list[float]] = {"direct": [], "proxied": []}
    for index in range(LATENCY_ROUNDS):
        delays["direct"].append(await _first_token_delay(urls["r1"], fake, f"d{index}x"))
        delays["proxied"].append(await _first_token_delay(urls["one"], fake, f"p{index}x"))
    direct, proxied = (statistics.median(delays[k]) * 1000 for k in ("direct", "proxied"))
    rows.add("scale", "first token on the page after the provider's, straight", direct, "ms")
    rows.add("scale", "first token on the page after the provider's, via HAProxy", proxied, "ms")
    rows.add("scale", "HAProxy's added latency to the first token", proxied - direct, "ms", "<= 5")
    one, failed_one = await _arrivals(urls["one"], fake, "s")
    two, failed_two = await _arrivals(urls["two"], fake, "t")
    rows.add("scale", f"{ARRIVALS} arrivals at once, 1 replica", one, "served/s")
    rows.add("scale", f"{ARRIVALS} arrivals at once, 2 replicas", two, "served/s")
    rows.add("scale", "throughput, 2 replicas / 1", two / one, "x", ">= 1.7")
    failed = failed_one + failed_two
    rows.add("scale", "sessions failed, 1 and 2 replicas", failed, "sessions", "<= 0")
    rows += await _rolling_restart(found, fake)
    return rows


def run() -> list[dict[str, Any]]:
    with (
        tempfile.TemporaryDirectory(prefix="bench_scale_") as folder,
        _fake_provider() as fake,
        _cluster(fake, Path(folder)) as found,
    ):
        return list(asyncio.run(_figures(found, fake)))
