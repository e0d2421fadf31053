"""SIGTERM during a stream: the served app lets the reply end (or stops it, keeping it) and exits.

The real app under `streamlit run`, a browser session over Streamlit's WebSocket protocol
(`bench/st_client.py`), the fake provider; the database is read afterwards as the next replica
would read it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.bench_app import serving_pid
from bench.st_client import Session
from tests.fake_openrouter import FakeOpenRouter, long_reply
from tests.served_app import app_env, served_app


def _exited(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # a zombie has exited; its parent has not waited yet


def _stop_mid_reply(fake: FakeOpenRouter, data: Path, grace: str) -> list[tuple[str, str, str]]:
    """Send a message, SIGTERM the server once the reply streams, wait for it to exit; returns
    the stored (role, status, text) of every message."""
    env = app_env(fake.url, data, ASSISTANT_STOP_GRACE=grace)
    fake.queue(long_reply(80, tokens_per_second=20))
    with served_app(env) as url:
        pid = serving_pid(url)

        async def chat_then_stop() -> None:
            tab = Session(url)
            await tab.connect()
            await tab.load(timeout=60)
            pending = await tab.submit_chat("tell me a story", watch={"first": r"\bw0\b"})
            deadline = time.monotonic() + 60
            while "first" not in pending.seen and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert "first" in pending.seen, "the reply never started"
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 60
            while not _exited(pid) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await tab.close()

        asyncio.run(chat_then_stop())
        assert _exited(pid), "the server did not exit after SIGTERM"
    engine = create_engine(f"sqlite:///{data / 'assistant.db'}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT role, status, text FROM messages ORDER BY id"))
            return [(str(role), str(status), str(body)) for role, status, body in rows]
    finally:
        engine.dispose()


def test_a_reply_streaming_at_sigterm_ends_before_the_server_exits(
    fake: FakeOpenRouter, tmp_path: Path
) -> None:
    stored = _stop_mid_reply(fake, tmp_path, grace="30")
    assert [(role, status) for role, status, _ in stored] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert stored[1][2].strip().endswith("w79")  # the whole reply


def test_a_reply_that_outlasts_the_grace_is_stopped_and_kept(
    fake: FakeOpenRouter, tmp_path: Path
) -> None:
    stored = _stop_mid_reply(fake, tmp_path, grace="0.5")
    assert [(role, status) for role, status, _ in stored] == [
        ("user", "complete"),
        ("assistant", "stopped"),
    ]
    assert stored[1][2].startswith("w0 ")  # what had arrived is kept
