"""The benchmark's WebSocket client talks to the real app as a browser tab does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.st_client import ProtocolError, Session
from tests.fake_openrouter import FakeOpenRouter
from tests.served_app import app_env, served_app


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("st_client")
    with FakeOpenRouter() as fake:
        env = app_env(fake.url, folder, DATABASE_URL=f"sqlite:///{folder / 'app.db'}")
        with served_app(env) as url:
            yield url


def test_a_tab_opens_the_page_and_streams_a_reply(app_url: str) -> None:
    async def chat() -> tuple[str, str, int, int, dict[str, float]]:
        async with Session(app_url) as tab:
            page = await tab.load(timeout=60)
            done = await tab.chat(
                "hello from a socket", watch={"reply": r"Echo: hello from a socket"}
            )
            return tab.info.chat_input_id, tab.info.query_string, page.bytes, done.bytes, done.seen

    input_id, query, page_bytes, reply_bytes, seen = asyncio.run(chat())
    assert input_id  # the chat input was found in the page's deltas
    assert page_bytes > 0 and reply_bytes > 0
    assert "reply" in seen  # the streamed answer reached the tab
    assert query.startswith("c=")  # the app named the new conversation in the URL


def page_cookie(app_url: str) -> str:
    """The session cookie the server gives a browser that opens the page."""
    page = httpx.get(app_url, headers={"Accept": "text/html", "Sec-Fetch-Dest": "document"})
    return page.cookies["assistant_session"]


def test_a_cookie_brings_back_the_same_conversation(app_url: str) -> None:
    async def reopen(cookies: bool) -> dict[str, float]:
        jar = {"assistant_session": page_cookie(app_url)}
        async with Session(app_url, cookies=jar) as first:
            await first.load(timeout=60)
            await first.chat("remember the blue kettle")
            query = first.info.query_string
        async with Session(app_url, cookies=jar if cookies else {}, query_string=query) as second:
            page = await second.finish(await second.rerun(watch={"old": "blue kettle"}), 60)
            return page.seen

    assert "old" in asyncio.run(reopen(cookies=True))
    assert "old" not in asyncio.run(reopen(cookies=False))  # another browser: a new guest


def test_a_browser_that_holds_its_cookie_is_sent_no_ticket(app_url: str) -> None:
    async def visit() -> bool:
        async with Session(app_url, cookies={"assistant_session": page_cookie(app_url)}) as tab:
            await tab.load(timeout=60)
            await tab.chat("hello again")
            try:
                tab.component_data("assistant_cookie_ticket")
                return True
            except ProtocolError:
                return False

    assert asyncio.run(visit()) is False
