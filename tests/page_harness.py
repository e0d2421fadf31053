"""Driving the History, Account and My roles pages through AppTest, on a real SQLite file.

Each test gets its own data folder and database URL (the app caches its store per URL, so a new
URL is a new, empty database) and the fake OpenRouter server, which the chat page needs.

AppTest has no browser connection, so `st.context.cookies` and `st.context.ip_address` come
back as MagicMocks. The `browser` fixture stands in for what the WebSocket handshake gives a
real session: an empty cookie jar (a first visit) and an outside IP address.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import streamlit.runtime.context
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from assistant.accounts import Accounts, SignedIn
from assistant.store import Store
from tests.fake_openrouter import TEXT_MODEL as MODEL
from tests.fake_openrouter import FakeOpenRouter
from tests.seeds import exchange
from ui import state

ENTRY = "app_entry.py"  # runs app.py (see that file)
TESTS = Path(__file__).resolve().parent
PASSWORD = "violet-otter-harbour-42"


@dataclass
class BrowserConnection:
    """The fields of Streamlit's `ClientContext` protocol that `st.context` reads."""

    cookies: dict[str, str] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)
    remote_ip: str | None = "203.0.113.7"


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> BrowserConnection:
    connection = BrowserConnection()
    monkeypatch.setattr(streamlit.runtime.context, "_get_client_context", lambda: connection)
    return connection


class Pages:
    """One test's app: its database (opened again for the test's own checks) and sessions."""

    password = PASSWORD

    def __init__(self, store: Store) -> None:
        self.store = store
        # A light hasher keeps setting up users fast; the app verifies these hashes all the same.
        self.accounts = Accounts(
            store, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        )

    def open(self, page: Path, *, token: str | None = None) -> AppTest:
        """A browser session on `page`; with `token`, one already signed in (or a known guest)."""
        at = AppTest.from_file(ENTRY, default_timeout=30)
        if token is not None:
            at.session_state[state.TOKEN] = token
        at.switch_page(page_path(page))
        return self.run(at)

    @staticmethod
    def now_on(at: AppTest, page: Path) -> AppTest:
        """After the app itself moved (st.switch_page), keep later runs on the page it went to.

        AppTest asks for the page last given to `at.switch_page` on every run, where a browser
        would stay on the page the app switched to.
        """
        return at.switch_page(page_path(page))

    @staticmethod
    def run(at: AppTest) -> AppTest:
        """Run again (after clicks or typing); the page must not raise."""
        at.run()
        assert not at.exception, at.exception
        return at

    def saved_guest(self, at: AppTest) -> int:
        """Save the session's guest, as its first message would; returns the guest's id."""
        return self.accounts.start_guest(at.session_state[state.TOKEN]).user.id

    def member(self, username: str = "ada") -> SignedIn:
        return self.accounts.register(username, PASSWORD)

    def seed_chat(
        self, owner_id: int, question: str, answer: str, *, role_id: str = "gadget"
    ) -> str:
        """A stored conversation with one question and its complete answer; returns its id."""
        return exchange(
            self.store, owner_id, None, question, answer, role_id=role_id, model=MODEL
        ).conversation_id


@pytest.fixture
def pages(
    fake: FakeOpenRouter,
    browser: BrowserConnection,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Pages]:
    store = app_store(monkeypatch, fake, tmp_path)
    yield Pages(store)
    store.close()


def app_store(monkeypatch: pytest.MonkeyPatch, fake: FakeOpenRouter, folder: Path) -> Store:
    """Point the app's settings at `fake` and a new SQLite file in `folder`; returns that
    database, migrated and opened for the test's own seeding and checks (the caller closes it)."""
    url = f"sqlite:///{(folder / 'a.db').as_posix()}"
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-test")
    monkeypatch.setenv("OPENROUTER_BASE_URL", fake.url)
    monkeypatch.setenv("OPENROUTER_FALLBACK_MODELS", "")
    monkeypatch.setenv("ASSISTANT_MAX_RETRIES", "0")
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(folder))
    monkeypatch.setenv("DATABASE_URL", url)
    store = Store(url)
    store.migrate()
    return store


def page_path(page: Path) -> str:
    """A page file as AppTest.switch_page wants it: relative to the entry script's folder."""
    return os.path.relpath(page, (TESTS / ENTRY).resolve().parent)
