"""What the browser tests share, once per module: a fake provider, the app served on it by
`streamlit run` in a subprocess, and a real Chromium (see tests/browser_harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.browser_harness import launched_chromium
from tests.fake_openrouter import FakeOpenRouter
from tests.served_app import app_env, served_app


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenRouter]:
    with FakeOpenRouter(tokens_per_second=40) as server:
        yield server


@pytest.fixture(scope="module")
def app_url(fake: FakeOpenRouter, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_app(app_env(fake.url, tmp_path_factory.mktemp("data"))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium
