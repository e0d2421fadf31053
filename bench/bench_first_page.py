"""The first page in a real browser: from asking for the page to a chat box that takes text.

Chromium (Debian's, driven by Playwright as in tests/browser_harness.py) opens the app on an
idle, warm server as a first visit (a new browser context: no cookie, no cache), and the clock
runs from `page.goto` until the chat input is enabled and holds the text typed into it. The
plain `st.write_stream` chat app (`bench/plain_chat_app.py`) is measured the same way,
alternating with the app, so noise hits both alike. Medians of `VISITS`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_app import PLAIN_APP, Figures, _fake_provider
from bench.bench_burst import _env
from tests.browser_harness import CHROMIUM, launched_chromium

VISITS = 7
INPUT = '[data-testid="stChatInputTextArea"]'


def usable_after(browser: Any, url: str) -> float:
    """Seconds from requesting the page to a chat box that holds typed text (first visit)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        started = time.perf_counter()
        page.goto(url, wait_until="commit")
        box = page.locator(INPUT)
        box.wait_for(state="visible", timeout=60_000)
        page.wait_for_function(
            f"() => {{ const box = document.querySelector('{INPUT}');"
            " return box !== null && !box.disabled; }",
            timeout=60_000,
        )
        box.fill("hello")
        if box.input_value() != "hello":
            raise RuntimeError("the chat box did not take the text")
        return time.perf_counter() - started
    finally:
        context.close()


def run() -> list[dict[str, Any]]:
    if not CHROMIUM.exists():
        print("first_page: skipped, no /usr/bin/chromium (make browser installs it)")
        return []
    from tests.served_app import served_app

    with (
        tempfile.TemporaryDirectory(prefix="bench_first_page_") as folder,
        _fake_provider() as fake,
    ):
        directory = Path(folder)
        with (
            served_app(_env(fake, directory, "app")) as app_url,
            served_app(_env(fake, directory, "plain"), script=PLAIN_APP) as plain_url,
            launched_chromium() as browser,
        ):
            urls = {"app": app_url, "plain": f"{plain_url}/?n=0"}
            for url in urls.values():  # warm: imports, static files, first-run caches
                usable_after(browser, url)
            times: dict[str, list[float]] = {name: [] for name in urls}
            for _ in range(VISITS):
                for name, url in urls.items():
                    times[name].append(usable_after(browser, url))
    rows = Figures()
    for name, samples in times.items():
        what = f"first page usable in Chromium (first visit, idle server), median of {VISITS}"
        rows.add(name, what, statistics.median(samples), "s", "<= 1")
        rows.add(name, "first page usable in Chromium, slowest", max(samples), "s")
    return rows
