from pathlib import Path

import pytest

from assistant.accounts import Accounts
from assistant.chat import Assistant
from assistant.settings import Settings
from assistant.store import Store
from assistant.titles import TITLE_TOKENS, generate_title, title_from_answer, title_in_background
from tests.fake_openrouter import FakeOpenRouter, http_error, reply
from tests.seeds import ask


@pytest.fixture
def assistant(fake: FakeOpenRouter) -> Assistant:
    return Assistant(
        Settings(api_key="sk-or-v1-test", base_url=fake.url, fallback_models=(), max_retries=0)
    )


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ('"Phone Battery Drain Fixes."', "Phone Battery Drain Fixes"),
        ("Title: Router reset steps\n", "Router reset steps"),
        ("  \n**Landlord deposit dispute**", "Landlord deposit dispute"),
        ("", None),
        ("x" * 200, None),
    ],
)
def test_model_answers_become_titles(answer: str, title: str | None) -> None:
    assert title_from_answer(answer) == title


def test_a_title_is_asked_of_the_model(assistant: Assistant, fake: FakeOpenRouter) -> None:
    fake.queue(reply("Battery drain troubleshooting"))
    assert generate_title(assistant, "My phone battery drains fast") == (
        "Battery drain troubleshooting"
    )
    assert "title" in fake.chat_requests[-1].json["messages"][0]["content"].lower()


def test_a_title_is_one_short_request_not_a_second_stream(
    assistant: Assistant, fake: FakeOpenRouter
) -> None:
    # A model that would ramble on is cut at the cap, and the reply is not streamed.
    fake.queue(reply("Battery drain troubleshooting " + "and more words " * 50))
    generate_title(assistant, "My phone battery drains fast")
    request = fake.chat_requests[-1].json
    assert request["stream"] is False
    assert request["max_tokens"] == TITLE_TOKENS
    assert fake.streams == []


def test_a_failed_title_request_keeps_the_first_line_title(
    assistant: Assistant, fake: FakeOpenRouter, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path}/t.db")
    store.migrate()
    owner = Accounts(store).start_guest().user.id
    conversation = ask(store, owner, None, "My phone battery drains fast").conversation_id
    fake.queue(http_error(503))
    title_in_background(assistant, store, owner, conversation, "My phone battery drains fast").join(
        10
    )
    assert store.get_conversation(owner, conversation).conversation.title.startswith("My phone")
    fake.queue(reply("Battery help"))
    title_in_background(assistant, store, owner, conversation, "My phone battery drains fast").join(
        10
    )
    assert store.get_conversation(owner, conversation).conversation.title == "Battery help"
    store.close()
