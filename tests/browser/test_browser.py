"""End to end: Debian's Chromium, driven by Playwright, against the app served by `streamlit run`.

The fake OpenRouter server runs in this process; the app runs as shipped in another process and
reaches it over loopback. Screenshots of the runs go to docs/ for the README.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.browser_harness import (
    CHAT_INPUT,
    ask,
    bubbles,
    open_chat,
    register,
    require_chromium,
)
from tests.fake_openrouter import FakeOpenRouter, http_error, reply
from tests.served_app import served_app
from tests.test_chat_page import is_title_request

DOCS = Path(__file__).resolve().parents[2] / "docs"

pytestmark = pytest.mark.browser

require_chromium()


@pytest.fixture
def page(browser: Browser, app_url: str, fake: FakeOpenRouter) -> Iterator[Page]:
    fake.reset()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield open_chat(context, app_url)
    context.close()


def test_a_typed_message_streams_its_answer(page: Page, fake: FakeOpenRouter) -> None:
    words = " ".join(f"word{i}" for i in range(60))
    fake.queue(reply(words, tokens_per_second=30))
    ask(page, "My phone battery drains fast")
    expect(bubbles(page).nth(0)).to_contain_text("My phone battery drains fast")
    reply_bubble = bubbles(page).nth(1)
    expect(reply_bubble).to_contain_text("word5", timeout=15_000)
    partial = reply_bubble.inner_text()
    assert "word59" not in partial  # seen mid-stream: the text arrives as it is generated
    expect(reply_bubble).to_contain_text("word59", timeout=20_000)
    page.screenshot(path=str(DOCS / "chat-desktop.png"), full_page=True)


def test_an_attached_image_shows_inline(page: Page, fake: FakeOpenRouter) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 60, 40)).save(buffer, "PNG")
    page.get_by_test_id("stChatInput").locator("input[type=file]").set_input_files(
        files=[{"name": "gadget.png", "mimeType": "image/png", "buffer": buffer.getvalue()}]
    )
    ask(page, "What is wrong with this charger?")
    user = bubbles(page).nth(0)
    expect(user.locator("img").last).to_be_visible(timeout=15_000)
    expect(bubbles(page).nth(1)).to_contain_text("reads images", timeout=15_000)
    asked = [r for r in fake.chat_requests if not is_title_request(r)]
    assert asked[-1].json["messages"][-1]["content"][1]["type"] == "image_url"


def test_an_invalid_key_gives_a_sentence_that_says_what_to_fix(
    page: Page, fake: FakeOpenRouter
) -> None:
    fake.queue(http_error(401, message="User not found."))
    ask(page, "hello")
    alert = bubbles(page).nth(1).get_by_test_id("stAlertContentError")
    expect(alert).to_contain_text("OPENROUTER_API_KEY", timeout=15_000)
    expect(bubbles(page).nth(0)).to_contain_text("hello")
    expect(page.get_by_text("Traceback")).to_have_count(0)


def choose_role(page: Page, name: str) -> None:
    page.get_by_test_id("stMainBlockContainer").get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name=name).click()


def test_switching_role_changes_the_page(page: Page) -> None:
    choose_role(page, "Healthcare guidance")
    expect(page.get_by_text("not a diagnosis").first).to_be_visible(timeout=10_000)
    expect(page.get_by_test_id("stChatInputTextArea")).to_have_attribute(
        "placeholder", re.compile("Healthcare")
    )


def test_a_role_switch_keeps_one_input_that_names_the_new_role(page: Page) -> None:
    """The input is one widget: a new role's placeholder is written into it, never a second
    input drawn beside the first (which showed for a moment, and made typing land in either)."""
    page.evaluate(
        """() => {
          window.mostInputs = 0;
          new MutationObserver(() => {
            const count = document.querySelectorAll('[data-testid=stChatInputTextArea]').length;
            window.mostInputs = Math.max(window.mostInputs, count);
          }).observe(document.body, {subtree: true, childList: true, attributes: true});
        }"""
    )
    for name in ("Sentiment analysis", "Healthcare guidance", "Tech support"):
        choose_role(page, name)
        expect(page.get_by_test_id(CHAT_INPUT)).to_have_attribute(
            "placeholder", re.compile(f"^Ask {name}"), timeout=10_000
        )
    assert page.evaluate("() => window.mostInputs") == 1


def test_stop_keeps_the_partial_reply_and_hangs_up(page: Page, fake: FakeOpenRouter) -> None:
    words = " ".join(f"part{i}" for i in range(400))
    fake.queue(reply(words, tokens_per_second=20))
    ask(page, "tell me a long story")
    expect(bubbles(page).nth(1)).to_contain_text("part3", timeout=15_000)
    page.get_by_role("button", name="Stop").click()
    assert fake.wait_for_disconnect(timeout=10)
    # At once, without another interaction: the label, the footer and the buttons.
    expect(bubbles(page).nth(1)).to_contain_text("Stopped", timeout=5_000)
    expect(bubbles(page).nth(1).get_by_role("button", name="Continue")).to_be_visible()
    kept = bubbles(page).nth(1).inner_text()
    assert "part3" in kept and "part399" not in kept and "▍" not in kept


def test_phone_width_screenshot(browser: Browser, app_url: str, fake: FakeOpenRouter) -> None:
    fake.reset()
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = open_chat(context, app_url)
    ask(page, "My Bluetooth headphones keep disconnecting")
    expect(bubbles(page).nth(1)).to_contain_text("disconnecting", timeout=15_000)
    page.screenshot(path=str(DOCS / "chat-phone.png"), full_page=True)
    context.close()


def go_to(page: Page, app_url: str, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading").first).to_be_visible(timeout=15_000)


def sign_in(page: Page, username: str, password: str) -> None:
    form = page.get_by_test_id("stForm").filter(has_text="Sign in")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_role("button", name="Sign in").click()


def test_a_guest_keeps_the_chat_in_an_account_and_continues_elsewhere(
    browser: Browser, app_url: str, fake: FakeOpenRouter
) -> None:
    fake.reset()
    password = "plum-kettle-orbit-57"
    first = browser.new_context(viewport={"width": 1280, "height": 900})
    page = first.new_page()
    page.goto(app_url)
    ask(page, "Keep this conversation")
    expect(bubbles(page).nth(1)).to_contain_text("Echo: Keep this", timeout=15_000)
    page.reload()  # the cookie and the URL bring the conversation back
    expect(bubbles(page).nth(0)).to_contain_text("Keep this conversation", timeout=15_000)

    go_to(page, app_url, "Account")
    register(page, "ada_browser", password)
    go_to(page, app_url, "History")
    expect(page.get_by_text("Keep this conversation").first).to_be_visible(timeout=15_000)
    page.screenshot(path=str(DOCS / "history.png"), full_page=True)
    go_to(page, app_url, "Account")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("tab", name="Create account")).to_be_visible(timeout=15_000)
    first.close()

    second = browser.new_context()  # another browser: no cookie
    page = second.new_page()
    page.goto(app_url)
    go_to(page, app_url, "Account")
    sign_in(page, "ada_browser", password)
    expect(page.get_by_text("Welcome back")).to_be_visible(timeout=15_000)
    go_to(page, app_url, "History")
    page.get_by_role("button", name="Open").first.click()
    expect(bubbles(page).nth(0)).to_contain_text("Keep this conversation", timeout=15_000)
    ask(page, "and carry on")
    expect(bubbles(page).nth(3)).to_contain_text("Echo: and carry on", timeout=15_000)
    second.close()

    third = browser.new_context()  # somebody else
    page = third.new_page()
    page.goto(app_url)
    go_to(page, app_url, "Account")
    register(page, "bob_browser", password + "x")
    go_to(page, app_url, "History")
    expect(page.get_by_text("Keep this conversation")).to_have_count(0)
    third.close()


def test_the_sentiment_page_charts_a_short_conversation(
    page: Page, app_url: str, fake: FakeOpenRouter
) -> None:
    ask(page, "I love how fast this is")
    expect(bubbles(page).nth(1)).to_contain_text("Echo:", timeout=15_000)
    ask(page, "but the battery is terrible and I am angry")
    expect(bubbles(page).nth(3)).to_contain_text("angry", timeout=15_000)
    go_to(page, app_url, "Sentiment")
    # A chart is drawn hidden and then shown when its layout is ready: wait for a shown one.
    expect(page.locator(".js-plotly-plot >> visible=true").first).to_be_visible(timeout=30_000)
    page.screenshot(path=str(DOCS / "sentiment.png"), full_page=True)


def test_the_sentiment_role_answers_with_a_card(page: Page, fake: FakeOpenRouter) -> None:
    fake.queue(
        reply(
            '{"label": "mixed", "score": -0.35, "emotions": ["frustration", "gratitude"], '
            '"key_phrases": ["late again", "nobody answered", "thanks for the refund"], '
            '"explanation": "Frustration about the repeated late delivery and the silence '
            'outweighs the thanks for the refund."}'
        )
    )
    choose_role(page, "Sentiment analysis")
    expect(page.get_by_test_id("stChatInputTextArea")).to_have_attribute(
        "placeholder", re.compile("Sentiment"), timeout=10_000
    )
    ask(page, "The delivery was late again and nobody answered my emails, thanks for the refund.")
    card = bubbles(page).nth(1)
    expect(card.locator(".js-plotly-plot")).to_be_visible(timeout=20_000)
    expect(card).to_contain_text("Mixed")
    expect(card).to_contain_text("From the model")
    expect(card).not_to_contain_text('"label"')  # a card, not the raw JSON
    page.screenshot(path=str(DOCS / "sentiment-card.png"), full_page=True)


def test_the_local_reading_is_marked_and_signs_its_phrases(
    page: Page, fake: FakeOpenRouter
) -> None:
    choose_role(page, "Sentiment analysis")
    expect(page.get_by_test_id("stChatInputTextArea")).to_have_attribute(
        "placeholder", re.compile("Sentiment"), timeout=10_000
    )
    ask(page, "The battery died after a week and support never answered. Furious.")
    card = bubbles(page).nth(1)  # the fake echoes prose: the word list reads the message
    expect(card).to_contain_text("Local reading (word list, no AI model)", timeout=20_000)
    expect(card).to_contain_text("Negative")
    expect(card).to_contain_text("“furious” (−)")  # the colour syntax is rendered, not shown
    expect(card).to_contain_text("“support” (+)")
    expect(card).not_to_contain_text(":red[")
    expect(card.locator(".js-plotly-plot")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(DOCS / "sentiment-card-local.png"), full_page=True)


@pytest.mark.local_model
def test_with_no_key_the_bundled_model_answers_in_the_browser(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from assistant import local_model

    if not local_model.is_available():
        pytest.skip("the bundled model is not installed (make install installs it)")
    env = {
        "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("offline")),
        "ASSISTANT_MAX_TOKENS": "48",
    }
    with served_app(env) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url)
        expect(page.get_by_text("Offline demo.")).to_be_visible(timeout=30_000)
        ask(page, "My phone battery drains fast")
        reply_bubble = bubbles(page).nth(1)
        expect(reply_bubble).to_contain_text(local_model.LOCAL_MODEL_ID, timeout=60_000)
        assert len(reply_bubble.inner_text().split()) > 5  # real words from the model
        page.screenshot(path=str(DOCS / "chat-offline.png"), full_page=True)
        context.close()
