"""The chat page writes every message to the store first, and a refresh finds it again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from assistant.accounts import Accounts
from assistant.store import Store
from tests.fake_openrouter import FakeOpenRouter, midstream_error, reply
from ui import state

APP = "../app.py"


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/chat.db"


@pytest.fixture
def env(fake: FakeOpenRouter, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-test")
    monkeypatch.setenv("OPENROUTER_BASE_URL", fake.url)
    monkeypatch.setenv("OPENROUTER_FALLBACK_MODELS", "")
    monkeypatch.setenv("ASSISTANT_MAX_RETRIES", "0")


def open_app(token: str | None = None, conversation: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=20)
    if token:
        at.session_state[state.TOKEN] = token  # what the browser's cookie carries
    if conversation:
        at.query_params["c"] = conversation
    at.run()
    assert not at.exception, at.exception
    return at


def send(at: AppTest, text: str) -> None:
    at.chat_input[0].set_value(text).run()
    assert not at.exception, at.exception


@pytest.fixture
def store(env: None, database: str) -> Iterator[Store]:
    s = Store(database)
    yield s
    s.close()


def stored(store: Store, at: AppTest) -> list[tuple[str, str, str]]:
    user_id = at.session_state[state.USER_ID]
    conversation = at.session_state[state.CONVERSATION_ID]
    messages = store.get_conversation(user_id, conversation).messages
    return [(m.role, m.text, m.status) for m in messages]


def test_a_turn_is_stored_with_its_scores(store: Store) -> None:
    at = open_app()
    send(at, "I love this phone")
    assert stored(store, at) == [
        ("user", "I love this phone", "complete"),
        ("assistant", "Echo: I love this phone", "complete"),
    ]
    conversation = store.get_conversation(
        at.session_state[state.USER_ID], at.session_state[state.CONVERSATION_ID]
    )
    assert all(m.sentiment is not None for m in conversation.messages)
    assert conversation.messages[0].sentiment.compound > 0  # type: ignore[union-attr]


def test_a_provider_failure_keeps_the_message_and_the_partial_reply(
    store: Store, fake: FakeOpenRouter
) -> None:
    fake.queue(midstream_error())
    at = open_app()
    send(at, "one two three four")
    (user, answer) = stored(store, at)
    assert user == ("user", "one two three four", "complete")
    assert answer[0] == "assistant" and answer[1] and answer[2] == "error"


def test_regenerate_replaces_the_stored_reply(store: Store, fake: FakeOpenRouter) -> None:
    fake.set_scenario(reply("first answer"))
    at = open_app()
    send(at, "question")
    fake.set_scenario(reply("second answer"))
    at.button(key="regenerate").click().run()
    assert [t[1] for t in stored(store, at)] == ["question", "second answer"]


def test_a_refresh_shows_the_same_conversation(store: Store) -> None:
    first = open_app()
    send(first, "remember me")
    token = first.session_state[state.TOKEN]
    conversation = first.session_state[state.CONVERSATION_ID]
    again = open_app(token=token, conversation=conversation)
    assert [m.markdown[0].value for m in again.chat_message] == [
        "remember me",
        "Echo: remember me",
    ]
    send(again, "and continue")
    assert len(stored(store, again)) == 4
    assert again.session_state[state.CONVERSATION_ID] == conversation


def test_another_user_cannot_open_a_conversation_by_its_id(store: Store) -> None:
    owner = open_app()
    send(owner, "private")
    conversation = owner.session_state[state.CONVERSATION_ID]
    intruder = open_app(conversation=conversation)  # a different browser: a new guest
    assert intruder.session_state[state.USER_ID] != owner.session_state[state.USER_ID]
    assert len(intruder.chat_message) == 0
    assert intruder.session_state[state.CONVERSATION_ID] == ""


def test_a_signed_out_session_starts_over_as_a_new_guest(store: Store) -> None:
    at = open_app()
    send(at, "hello")
    Accounts(store).sign_out(at.session_state[state.TOKEN])
    again = open_app(
        token=at.session_state[state.TOKEN], conversation=at.session_state[state.CONVERSATION_ID]
    )
    assert again.session_state[state.USER_ID] != at.session_state[state.USER_ID]
    assert len(again.chat_message) == 0


def test_thumbs_feedback_is_stored(store: Store) -> None:
    at = open_app()
    send(at, "rate me")
    reply_id = at.session_state[state.MESSAGES][-1].id
    at.get("feedback")[0].set_value(0).run()  # thumbs down
    message = store.get_message(at.session_state[state.USER_ID], reply_id)
    assert message.feedback == "down"
