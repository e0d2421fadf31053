"""Debian's Chromium, driven by Playwright, for the browser tests and the first-page benchmark.

One place for how Chromium is found and launched, and the few gestures every chat test makes
(open the chat, ask, read the bubbles).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox (containers run as root), no GPU, and nothing that reaches for the internet on its
# own (updates, sync, QUIC probes): the tests run on a machine without one.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
CHAT_INPUT = "stChatInputTextArea"


def require_chromium() -> None:
    """Skip the caller (a test module, or a fixture) when Chromium is missing; CI must have it."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser tests: `make browser` installs chromium")
    pytest.skip(
        "browser tests skipped: install Chromium with `sudo apt-get install chromium`",
        allow_module_level=True,
    )


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_chat(context: BrowserContext, url: str) -> Page:
    """A new tab on `url`, once the chat box is drawn."""
    page = context.new_page()
    page.goto(url)
    expect(page.get_by_test_id(CHAT_INPUT)).to_be_visible(timeout=30_000)
    return page


def ask(page: Page, text: str) -> None:
    page.get_by_test_id(CHAT_INPUT).fill(text)
    page.get_by_test_id("stChatInputSubmitButton").click()


def bubbles(page: Page) -> Locator:
    """The chat's messages, oldest first."""
    return page.get_by_test_id("stChatMessage")


def register(page: Page, username: str, password: str) -> None:
    """Create an account on the Account page (already open) and wait for its welcome."""
    page.get_by_role("tab", name="Create account").click()
    form = page.get_by_test_id("stForm").filter(has_text="Confirm password")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_label("Confirm password").fill(password)
    form.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("is ready")).to_be_visible(timeout=15_000)
