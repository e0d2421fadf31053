"""The chat as people use it, in real Chromium at desktop and phone widths.

A reply belongs to the server: clicks on the page, a refresh, a page switch or a second tab
never end it. Stop, Continue, typing ahead, editing earlier messages, versions, copy, scrolling
the newest exchange into view, error sentences, themes, and no request leaving the machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.browser_harness import (
    ask,
    bubbles,
    open_chat,
    require_chromium,
)
from tests.fake_openrouter import (
    MODELS,
    TEXT_MODEL,
    FakeOpenRouter,
    http_error,
    long_reply,
    reply,
)
from tests.served_app import app_env, served_app
from tests.test_chat_page import is_title_request

DOCS = Path(__file__).resolve().parents[2] / "docs"

pytestmark = pytest.mark.browser

require_chromium()

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def context(browser: Browser, fake: FakeOpenRouter) -> Iterator[BrowserContext]:
    fake.reset()
    context = browser.new_context(viewport=DESKTOP)
    yield context
    context.close()


def finished(bubble: Locator, timeout: float = 30_000) -> None:
    """The reply ended complete: its actions are drawn and it says nothing of stopping."""
    expect(bubble.get_by_role("button", name="Copy")).to_be_visible(timeout=timeout)
    expect(bubble).not_to_contain_text("Stopped")
    expect(bubble).not_to_contain_text("did not finish")


def answered_chat(context: BrowserContext, url: str, question: str) -> Page:
    """A chat tab on `url` whose first `question` has its complete answer."""
    page = open_chat(context, url)
    ask(page, question)
    finished(bubbles(page).nth(1))
    return page


def reply_requests(fake: FakeOpenRouter) -> list[object]:
    return [r for r in fake.chat_requests if not is_title_request(r)]


STORY = [f"t{i} " for i in range(240)]  # 240 tokens at 30 a second: eight seconds


def test_a_reply_streams_on_through_clicks_a_refresh_a_page_switch_and_a_second_tab(
    context: BrowserContext, app_url: str, fake: FakeOpenRouter
) -> None:
    page = answered_chat(context, app_url, "A short question first")
    fake.queue(reply(tokens=STORY, tokens_per_second=30))
    ask(page, "Tell me a long story")
    story = bubbles(page).nth(3)
    expect(story).to_contain_text("t5", timeout=15_000)
    # Every kind of widget on the page, while the reply streams.
    page.get_by_role("button", name=re.compile("^Model:")).click()
    page.keyboard.press("Escape")
    page.get_by_test_id("stMainBlockContainer").get_by_test_id("stSelectbox").first.click()
    page.keyboard.press("Escape")
    bubbles(page).nth(1).get_by_role("button", name="More").click()
    page.keyboard.press("Escape")
    page.get_by_test_id("stBottom").get_by_role("button", name="Stop").wait_for()
    expect(story).to_contain_text("t40", timeout=15_000)
    page.reload()  # a refresh: the page comes back to the same reply, still streaming
    expect(bubbles(page).nth(3)).to_contain_text("t60", timeout=20_000)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", name="History")).to_be_visible(timeout=15_000)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Chat").click()
    expect(bubbles(page).nth(3)).to_contain_text("t100", timeout=20_000)
    second = context.new_page()  # the same browser: the latest conversation, live
    second.goto(app_url)
    expect(bubbles(second).nth(3)).to_contain_text("t120", timeout=30_000)
    for tab in (page, second):
        expect(bubbles(tab).nth(3)).to_contain_text("t239", timeout=30_000)
        finished(bubbles(tab).nth(3))
    story_requests = [r for r in reply_requests(fake) if "long story" in str(r.json)]
    assert len(story_requests) == 1  # one request, never restarted
    assert fake.disconnects == []  # nothing hung up on the provider


def test_stop_shows_the_stopped_reply_at_once_and_continue_carries_on(
    context: BrowserContext, app_url: str, fake: FakeOpenRouter
) -> None:
    page = open_chat(context, app_url)
    fake.queue(long_reply(2000, tokens_per_second=30), reply(" and that is the end."))
    ask(page, "Count for me")
    answer = bubbles(page).nth(1)
    expect(answer).to_contain_text("w10", timeout=15_000)
    page.get_by_test_id("stBottom").get_by_role("button", name="Stop").click()
    expect(answer).to_contain_text("Stopped", timeout=5_000)
    expect(answer.get_by_role("button", name="Continue")).to_be_visible()
    expect(answer).not_to_contain_text("▍")
    assert fake.wait_for_disconnect(timeout=5)
    answer.get_by_role("button", name="Continue").click()
    expect(answer).to_contain_text("and that is the end.", timeout=15_000)
    finished(answer)
    assert reply_requests(fake)[-1].json["messages"][-1]["role"] == "assistant"


def test_a_message_typed_during_a_reply_is_answered_after_it(
    context: BrowserContext, app_url: str, fake: FakeOpenRouter
) -> None:
    page = open_chat(context, app_url)
    fake.queue(reply(tokens=STORY[:120], tokens_per_second=30))
    ask(page, "First, a long answer")
    expect(bubbles(page).nth(1)).to_contain_text("t3", timeout=15_000)
    ask(page, "And a second question")  # the box stays enabled while a reply streams
    expect(bubbles(page).nth(2)).to_contain_text("And a second question", timeout=5_000)
    expect(bubbles(page).nth(1)).to_contain_text("t119", timeout=20_000)
    expect(bubbles(page).nth(3)).to_contain_text("Echo: And a second question", timeout=20_000)
    finished(bubbles(page).nth(1))
    finished(bubbles(page).nth(3))


def test_an_earlier_message_is_edited_and_both_versions_stay_reachable(
    context: BrowserContext, app_url: str, fake: FakeOpenRouter
) -> None:
    page = answered_chat(context, app_url, "My laptop fan is loud")
    ask(page, "It is a 2019 model")
    finished(bubbles(page).nth(3))
    first = bubbles(page).nth(0)
    first.get_by_role("button", name="Edit").click()
    box = page.get_by_test_id("stTextArea").locator("textarea")
    box.fill("My laptop fan is loud and the laptop is hot")
    page.get_by_test_id("stForm").get_by_role("button", name="Send").click()
    expect(bubbles(page)).to_have_count(2, timeout=15_000)
    expect(bubbles(page).nth(1)).to_contain_text("Echo: My laptop fan is loud and the laptop")
    expect(bubbles(page).nth(0)).to_contain_text("2/2")
    bubbles(page).nth(0).get_by_role("button", name="‹").click()
    expect(bubbles(page)).to_have_count(4, timeout=15_000)
    expect(bubbles(page).nth(2)).to_contain_text("It is a 2019 model")
    expect(bubbles(page).nth(0)).to_contain_text("1/2")
    page.screenshot(path=str(DOCS / "chat-versions.png"), full_page=True)


def test_copy_puts_the_reply_on_the_clipboard_in_one_click(
    context: BrowserContext, app_url: str, fake: FakeOpenRouter
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = open_chat(context, app_url)
    fake.queue(reply("Restart the router, then wait **thirty** seconds."))
    ask(page, "My wifi drops")
    answer = bubbles(page).nth(1)
    finished(answer)
    answer.get_by_role("button", name="Copy").click()
    expect(answer.get_by_role("button", name="Copied ✓")).to_be_visible()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == "Restart the router, then wait thirty seconds."


def test_the_newest_exchange_is_brought_into_view_on_send(
    context: BrowserContext, app_url: str, fake: FakeOpenRouter
) -> None:
    page = open_chat(context, app_url)
    for n in range(6):
        fake.queue(reply(" ".join(["A long enough answer to take up room."] * 12)))
        ask(page, f"Question {n}")
        finished(bubbles(page).nth(2 * n + 1))
    page.get_by_test_id("stMainBlockContainer").evaluate("e => e.scrollIntoView()")
    page.mouse.wheel(0, -20_000)  # read back to the top
    page.wait_for_timeout(500)
    ask(page, "The newest question")
    newest = bubbles(page).filter(has_text="The newest question").first
    expect(newest).to_be_in_viewport(timeout=10_000)


def test_provider_down_says_so(context: BrowserContext, app_url: str, fake: FakeOpenRouter) -> None:
    fake.set_scenario(http_error(503))
    try:
        page = open_chat(context, app_url)
        ask(page, "hello?")
        error = bubbles(page).nth(1).get_by_test_id("stAlertContentError")
        expect(error).to_contain_text("unavailable or overloaded", timeout=15_000)
        expect(bubbles(page).nth(1)).not_to_contain_text("invalid")
        expect(bubbles(page).nth(1).get_by_role("button", name="Retry")).to_be_visible()
    finally:
        fake.set_scenario(None)


def test_a_server_without_a_vision_model_says_so_for_a_photo(
    browser: Browser, tmp_path: Path
) -> None:
    import io

    from PIL import Image

    text_only = [m for m in MODELS if "image" not in m["architecture"]["input_modalities"]]
    with FakeOpenRouter(models=text_only) as fake, served_app(app_env(fake.url, tmp_path)) as url:
        context = browser.new_context(viewport=DESKTOP)
        page = open_chat(context, url)
        picture = io.BytesIO()
        Image.new("RGB", (64, 48), "red").save(picture, "PNG")
        page.get_by_test_id("stChatInput").locator("input[type=file]").set_input_files(
            files=[{"name": "photo.png", "mimeType": "image/png", "buffer": picture.getvalue()}]
        )
        ask(page, "What is this?")
        error = bubbles(page).nth(1).get_by_test_id("stAlertContentError")
        expect(error).to_contain_text("No model on this server can read images", timeout=15_000)
        assert reply_requests(fake) == []  # nothing was sent
        context.close()


def test_a_whole_session_never_asks_another_host(
    browser: Browser, app_url: str, fake: FakeOpenRouter
) -> None:
    fake.reset()
    context = browser.new_context(viewport=DESKTOP)
    outside: list[str] = []
    context.on(
        "request",
        lambda r: (
            outside.append(r.url) if not r.url.startswith((app_url, "data:", "blob:")) else None
        ),
    )
    page = answered_chat(context, app_url, "A question")
    for title in ("History", "Sentiment", "Batch scoring", "My roles", "Account", "Chat"):
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
        page.wait_for_timeout(1500)
    context.close()
    assert outside == []


def test_dark_and_light_follow_the_system(
    browser: Browser, app_url: str, fake: FakeOpenRouter
) -> None:
    for scheme, background in (("dark", "rgb(14, 17, 23)"), ("light", "rgb(255, 255, 255)")):
        context = browser.new_context(viewport=DESKTOP, color_scheme=scheme)
        page = answered_chat(context, app_url, "My earbuds will not pair")
        app = page.get_by_test_id("stApp")
        assert app.evaluate("e => getComputedStyle(e).backgroundColor") == background
        if scheme == "dark":
            page.screenshot(path=str(DOCS / "chat-dark.png"))
        context.close()


def test_on_a_phone_the_menu_closes_after_choosing_and_stop_is_at_the_bottom(
    browser: Browser, app_url: str, fake: FakeOpenRouter
) -> None:
    fake.reset()
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = open_chat(context, app_url)
    fake.queue(reply(tokens=STORY[:90], tokens_per_second=30))
    ask(page, "My Bluetooth headphones keep disconnecting")
    stop = page.get_by_test_id("stBottom").get_by_role("button", name="Stop")
    expect(stop).to_be_visible(timeout=15_000)
    box = stop.bounding_box()
    assert box is not None and box["y"] > PHONE["height"] * 0.6  # within a thumb's reach
    finished(bubbles(page).nth(1))
    page.screenshot(path=str(DOCS / "chat-phone.png"), full_page=True)
    page.get_by_test_id("stExpandSidebarButton").click()
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("button", name="New chat")).to_be_in_viewport()
    sidebar.get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", name="History")).to_be_visible(timeout=15_000)
    expect(sidebar).not_to_be_in_viewport(timeout=5_000)
    context.close()


def test_the_sidebar_lists_conversations_and_opens_them(
    context: BrowserContext, app_url: str, fake: FakeOpenRouter
) -> None:
    page = answered_chat(context, app_url, "First topic: printers")
    page.get_by_role("button", name="New chat").click()
    expect(bubbles(page)).to_have_count(0, timeout=10_000)
    ask(page, "Second topic: routers")
    finished(bubbles(page).nth(1))
    listed = page.get_by_test_id("stSidebar").get_by_role("link", name=re.compile("topic"))
    expect(listed).to_have_count(2, timeout=10_000)
    expect(listed.first).to_contain_text("Second topic")  # newest first
    listed.nth(1).click()
    expect(bubbles(page).nth(0)).to_contain_text("First topic: printers", timeout=10_000)
    page.screenshot(path=str(DOCS / "chat-desktop.png"), full_page=True)
    assert TEXT_MODEL
