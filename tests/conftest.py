"""Shared fixtures. Every test starts with a clean environment: no real key leaks in."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from assistant.services import close_all
from tests.fake_openrouter import FakeOpenRouter

pytest_plugins = ("tests.store_fixtures", "tests.page_harness", "tests.api_harness")

_PREFIXES = ("OPENROUTER_", "ASSISTANT_", "DATABASE_URL")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    yield
    # The services a test's pages or API built (its own database): their threads, pooled
    # connections and files would otherwise outlive it, a few per test.
    close_all()


@pytest.fixture
def fake() -> Iterator[FakeOpenRouter]:
    """The fake OpenRouter server, fresh for each test (a module may share one of its own)."""
    with FakeOpenRouter() as server:
        yield server
