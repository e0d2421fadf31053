"""Who a browser is, end to end: Debian's Chromium against the app served by `streamlit run`.

The session cookie must be set by the server (HttpOnly, SameSite=Strict), change on sign-in
and sign-out through cookie tickets, never be visible to page script or in anything the page
receives, and a first visit straight to a deep link must still go through app.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser_harness import register, require_chromium
from tests.fake_openrouter import FakeOpenRouter
from tests.served_app import app_env, served_app

pytestmark = pytest.mark.browser

require_chromium()

COOKIE = "assistant_session"
PASSWORD = "amber-lantern-quietly-93"


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = browser.new_context(viewport={"width": 1280, "height": 900})
    yield opened
    opened.close()


def session_cookie(context: BrowserContext, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not (found := [c for c in context.cookies() if c["name"] == COOKIE]):
        assert time.monotonic() < deadline, f"no session cookie: {context.cookies()}"
        time.sleep(0.1)
    assert len(found) == 1, context.cookies()
    return dict(found[0])


def wait_for_new_cookie(context: BrowserContext, old: str, timeout: float = 15) -> str:
    """The session cookie once the browser has redeemed the ticket that replaces `old`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = str(session_cookie(context)["value"])
        if value != old:
            return value
        time.sleep(0.1)
    raise AssertionError("the session cookie never changed")


def open_page(context: BrowserContext, url: str, frames: list[bytes] | None = None) -> Page:
    page = context.new_page()
    if frames is not None:

        def record(socket: Any) -> None:
            socket.on("framereceived", lambda payload: frames.append(_bytes(payload)))

        page.on("websocket", record)
    page.goto(url)
    expect(page.get_by_test_id("stSidebarNav")).to_be_visible(timeout=30_000)
    return page


def _bytes(payload: str | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else payload.encode()


def go_to(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title).first).to_be_visible(timeout=15_000)


def test_the_first_page_gets_an_http_only_strict_cookie_that_scripts_cannot_read(
    context: BrowserContext, app_url: str
) -> None:
    page = open_page(context, app_url)
    cookie = session_cookie(context)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["secure"] is False  # plain http on loopback; Secure over https
    assert len(cookie["value"]) == 43
    assert cookie["value"] not in page.evaluate("document.cookie")
    assert page.evaluate("document.cookie").find(COOKIE) == -1


def test_signing_in_and_out_replace_the_cookie_and_the_token_never_reaches_the_page(
    context: BrowserContext, app_url: str
) -> None:
    frames: list[bytes] = []
    page = open_page(context, app_url, frames)
    first = str(session_cookie(context)["value"])

    go_to(page, "Account")
    register(page, "cookie_tester", PASSWORD)
    signed_in = wait_for_new_cookie(context, first)  # rotated: no session fixation
    devices = [c for c in context.cookies() if c["name"] == "assistant_device"]
    assert devices and devices[0]["httpOnly"] and devices[0]["sameSite"] == "Strict"

    other_tab = open_page(context, app_url)  # a new tab of the same browser: signed in
    go_to(other_tab, "Account")
    expect(other_tab.get_by_text("Signed in as")).to_be_visible(timeout=15_000)
    other_tab.close()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("tab", name="Create account")).to_be_visible(timeout=15_000)
    signed_out = wait_for_new_cookie(context, signed_in)

    guest_tab = open_page(context, app_url)  # after sign-out a new tab is a guest
    go_to(guest_tab, "Account")
    expect(guest_tab.get_by_role("tab", name="Create account")).to_be_visible(timeout=15_000)
    guest_tab.close()

    form = page.get_by_test_id("stForm").filter(has_text="Sign in")  # and back in, by password
    form.get_by_label("Username").fill("cookie_tester")
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Welcome back")).to_be_visible(timeout=15_000)
    again = wait_for_new_cookie(context, signed_out)
    member_tab = open_page(context, app_url)
    go_to(member_tab, "Account")
    expect(member_tab.get_by_text("Signed in as")).to_be_visible(timeout=15_000)

    tokens = [first, signed_in, signed_out, again, str(devices[0]["value"])]
    received = b"".join(frames)
    assert received  # frames were seen at all
    for token in tokens:
        assert token.encode() not in received  # not in any WebSocket frame (component data)
        assert token not in page.content()  # nor in the page's DOM
        assert token not in page.evaluate("document.cookie")


def test_a_wrong_phrase_keeps_the_delete_section_open_with_its_error(
    context: BrowserContext, app_url: str
) -> None:
    page = open_page(context, app_url)
    go_to(page, "Account")
    register(page, "phrase_tester", PASSWORD)
    section = page.get_by_test_id("stExpander").filter(has_text="Delete this account")
    section.get_by_text("Delete this account and all its data").click()
    form = section.get_by_test_id("stForm")
    form.get_by_label("Type `phrase_tester` to confirm").fill("phrase_teste")
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_role("button", name="Delete my account").click()
    expect(section.get_by_text("Type phrase_tester exactly to confirm.")).to_be_visible(
        timeout=15_000
    )
    expect(form.get_by_role("button", name="Delete my account")).to_be_visible()


def test_a_deep_link_into_a_fresh_process_goes_through_the_app(
    browser: Browser, fake: FakeOpenRouter, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with served_app(app_env(fake.url, tmp_path_factory.mktemp("deep"))) as url:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"{url}/history")  # the very first request this process serves
            nav = page.get_by_test_id("stSidebarNav")
            expect(nav.get_by_role("link", name="Chat")).to_be_visible(timeout=30_000)
            titles = nav.get_by_test_id("stSidebarNavLink").all_inner_texts()
            # Page titles from app.py's navigation (each after its icon's name), not file names.
            assert [t.split()[-1] for t in titles] == [
                "Chat",
                "History",
                "Sentiment",
                "scoring",
                "roles",
                "Account",
            ]
            expect(page.get_by_role("heading", name="History")).to_be_visible()
            assert session_cookie(context)["httpOnly"] is True
        finally:
            context.close()
