"""The turn service and server-side replies, against the fake provider and a real store.

A reply is a task of the process: it runs to its end whether or not anyone watches it, keeps
what arrived when stopped, and is stored exactly as it was seen live.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

from assistant.chat import Assistant
from assistant.errors import AssistantError, InputError
from assistant.limits import MAX_MESSAGE_CHARS
from assistant.replies import Replies
from assistant.reply import Reply
from assistant.roles import builtin_roles
from assistant.settings import Settings
from assistant.store import Store
from assistant.turns import Turns
from tests.fake_openrouter import TEXT_MODEL, FakeOpenRouter, long_reply, reply

if TYPE_CHECKING:
    from tests.store_fixtures import FakeClock

ROLE = builtin_roles()["gadget"]


@pytest.fixture
def replies(fake: FakeOpenRouter, store: Store) -> Replies:
    settings = Settings(
        api_key="sk-or-v1-test", base_url=fake.url, fallback_models=(), max_retries=0
    )
    return Replies(Assistant(settings), store, heartbeat_every=0.2)


@pytest.fixture
def turns(store: Store, replies: Replies) -> Turns:
    return Turns(store, replies)


@pytest.fixture
def owner(store: Store, clock: FakeClock) -> int:
    return store.users.create_guest(clock()).id


def texts(store: Store, owner: int, conversation_id: str) -> list[str]:
    return [m.text for m in store.get_conversation(owner, conversation_id).messages]


def test_a_reply_runs_to_its_end_with_nobody_watching(
    turns: Turns, store: Store, owner: int
) -> None:
    sent = turns.send(owner, None, "My phone battery drains fast", role=ROLE, model=TEXT_MODEL)
    assert sent.task.join(10)
    stored = store.get_message(owner, sent.task.reply_id)
    assert (stored.text, stored.status, stored.model, stored.finish_reason) == (
        "Echo: My phone battery drains fast",
        "complete",
        TEXT_MODEL,
        "stop",
    )
    assert stored.prompt_tokens and stored.sentiment is not None
    _, live = sent.task.snapshot()
    assert Reply.from_message(stored) == live  # reloaded exactly as it was live


def test_watchers_see_the_reply_grow_and_end(
    turns: Turns, fake: FakeOpenRouter, owner: int
) -> None:
    fake.queue(reply(" ".join(f"w{i}" for i in range(20)), tokens_per_second=100))
    task = turns.send(owner, None, "count", role=ROLE, model=TEXT_MODEL).task
    seen, lengths = -1, []
    while True:
        seen = task.wait(seen, timeout=1.0)
        _, now = task.snapshot()
        lengths.append(len(now.text))
        if task.done:
            break
    assert lengths == sorted(lengths) and len(set(lengths)) > 3  # it grew while watched
    assert now.text.endswith("w19") and now.status == "complete"


def test_stop_keeps_what_arrived_and_hangs_up(
    turns: Turns, fake: FakeOpenRouter, store: Store, owner: int
) -> None:
    fake.queue(long_reply(2000, tokens_per_second=100))
    task = turns.send(owner, None, "tell me a long story", role=ROLE, model=TEXT_MODEL).task
    while len(task.snapshot()[1].text) < 20:
        task.wait(-1, 0.05)
    turns.stop(owner, task.reply_id)
    assert task.done
    assert fake.wait_for_disconnect(timeout=5)
    stored = store.get_message(owner, task.reply_id)
    assert stored.status == "stopped" and stored.text.startswith("w0 w1")
    assert "w1999" not in stored.text


def test_another_user_cannot_find_or_stop_a_reply(
    turns: Turns, fake: FakeOpenRouter, store: Store, owner: int, clock: FakeClock
) -> None:
    stranger = store.users.create_guest(clock()).id
    fake.queue(long_reply(60, tokens_per_second=100))
    task = turns.send(owner, None, "mine", role=ROLE, model=TEXT_MODEL).task
    assert turns.replies.find(stranger, task.reply_id) is None
    turns.stop(stranger, task.reply_id)
    assert task.join(10)
    assert store.get_message(owner, task.reply_id).status == "complete"


def test_a_message_typed_ahead_is_stored_at_once_and_answered_after_the_reply(
    turns: Turns, fake: FakeOpenRouter, store: Store, owner: int
) -> None:
    fake.queue(long_reply(40, tokens_per_second=80), reply("second answer"))
    first = turns.send(owner, None, "first", role=ROLE, model=TEXT_MODEL)
    second = turns.send(owner, first.conversation_id, "second", role=ROLE, model=TEXT_MODEL)
    # Stored at once, while the first reply still streams.
    assert texts(store, owner, first.conversation_id)[2] == "second"
    assert not first.task.done and second.task.queued
    assert second.task.join(15) and first.task.done
    requests = fake.chat_requests
    assert [r.json["messages"][-1]["content"] for r in requests] == ["first", "second"]
    # The second request saw the whole first reply, not the empty row it started as.
    assert requests[1].json["messages"][-2]["content"].endswith("w39 ")
    assert texts(store, owner, first.conversation_id)[3] == "second answer"


@pytest.mark.parametrize("edit", ["   ", "x" * (MAX_MESSAGE_CHARS + 1)])
def test_a_refused_edit_keeps_the_original_message(
    turns: Turns, store: Store, owner: int, edit: str
) -> None:
    sent = turns.send(owner, None, "original", role=ROLE, model=TEXT_MODEL)
    sent.task.join(10)
    with pytest.raises(InputError):
        turns.edit(
            owner,
            sent.conversation_id,
            sent.message.id,
            edit,
            has_images=False,
            role=ROLE,
            model=TEXT_MODEL,
        )
    assert texts(store, owner, sent.conversation_id) == ["original", "Echo: original"]


def test_regenerate_keeps_the_earlier_answer_as_a_version(
    turns: Turns, fake: FakeOpenRouter, store: Store, owner: int
) -> None:
    fake.queue(reply("first answer"), reply("second answer"))
    sent = turns.send(owner, None, "question", role=ROLE, model=TEXT_MODEL)
    sent.task.join(10)
    again = turns.regenerate(
        owner, sent.conversation_id, sent.task.reply_id, role=ROLE, model=TEXT_MODEL
    )
    again.task.join(10)
    detail = store.get_conversation(owner, sent.conversation_id)
    assert [m.text for m in detail.messages] == ["question", "second answer"]
    assert [m.text for m in detail.earlier] == ["first answer"]
    assert detail.version_of(again.task.reply_id) == (2, 2)


def test_editing_an_earlier_message_answers_from_there(
    turns: Turns, fake: FakeOpenRouter, store: Store, owner: int
) -> None:
    first = turns.send(owner, None, "one", role=ROLE, model=TEXT_MODEL)
    first.task.join(10)
    later = turns.send(owner, first.conversation_id, "two", role=ROLE, model=TEXT_MODEL)
    later.task.join(10)
    edited = turns.edit(
        owner,
        first.conversation_id,
        first.message.id,
        "one, edited",
        has_images=False,
        role=ROLE,
        model=TEXT_MODEL,
    )
    edited.task.join(10)
    assert texts(store, owner, first.conversation_id) == ["one, edited", "Echo: one, edited"]
    sent_to_model = fake.chat_requests[-1].json["messages"]
    assert [m["content"] for m in sent_to_model[1:]] == ["one, edited"]  # later turns left out
    assert len(store.get_conversation(owner, first.conversation_id).earlier) == 4


def test_continue_asks_for_the_rest_and_appends_it(
    turns: Turns, fake: FakeOpenRouter, store: Store, owner: int
) -> None:
    fake.queue(long_reply(400, tokens_per_second=100), reply(" and the rest."))
    sent = turns.send(owner, None, "a story please", role=ROLE, model=TEXT_MODEL)
    while len(sent.task.snapshot()[1].text) < 10:
        sent.task.wait(-1, 0.05)
    turns.stop(owner, sent.task.reply_id)
    partial = store.get_message(owner, sent.task.reply_id).text
    task = turns.continue_reply(owner, sent.conversation_id, sent.task.reply_id, role=ROLE)
    assert task.join(10)
    stored = store.get_message(owner, sent.task.reply_id)
    assert stored.text == partial + " and the rest." and stored.status == "complete"
    last = fake.chat_requests[-1].json["messages"][-1]
    assert last == {"role": "assistant", "content": partial}  # the model carries on from it


def test_draining_lets_replies_finish_then_stops_the_rest(
    turns: Turns, fake: FakeOpenRouter, store: Store, owner: int
) -> None:
    fake.queue(long_reply(10, tokens_per_second=100), long_reply(2000, tokens_per_second=50))
    quick = turns.send(owner, None, "short", role=ROLE, model=TEXT_MODEL).task
    slow = turns.send(owner, None, "long", role=ROLE, model=TEXT_MODEL).task
    assert turns.replies.drain(timeout=1.0) == 1
    assert store.get_message(owner, quick.reply_id).status == "complete"
    assert store.get_message(owner, slow.reply_id).status == "stopped"
    with pytest.raises(AssistantError, match="restarting"):
        turns.send(owner, None, "too late", role=ROLE, model=TEXT_MODEL)


def test_a_reply_nobody_watches_is_stopped_when_the_setting_says_so(
    fake: FakeOpenRouter, store: Store, owner: int
) -> None:
    settings = Settings(
        api_key="sk-or-v1-test", base_url=fake.url, fallback_models=(), max_retries=0
    )
    replies = Replies(Assistant(settings), store, heartbeat_every=0.1, unwatched_after=0.3)
    fake.queue(long_reply(2000, tokens_per_second=50))
    task = Turns(store, replies).send(owner, None, "long", role=ROLE, model=TEXT_MODEL).task
    assert task.join(10)
    assert store.get_message(owner, task.reply_id).status == "stopped"


def test_a_waiting_reply_keeps_its_row_fresh(
    turns: Turns, fake: FakeOpenRouter, store: Store, owner: int, clock: FakeClock
) -> None:
    fake.queue(reply("late", first_token_delay=1.0))
    task = turns.send(owner, None, "slow model", role=ROLE, model=TEXT_MODEL).task
    clock.advance(120)  # long enough to look dead without a heartbeat
    time.sleep(0.5)  # a few heartbeats
    from datetime import timedelta

    assert store.recover_stale_replies(timedelta(seconds=60)) == 0
    assert task.join(10)
    assert store.get_message(owner, task.reply_id).status == "complete"


def test_stop_before_the_first_token_hangs_up_at_once(
    turns: Turns, fake: FakeOpenRouter, store: Store, owner: int
) -> None:
    fake.queue(reply("too late", first_token_delay=60, keepalive_interval=1.0))
    task = turns.send(owner, None, "a slow model", role=ROLE, model=TEXT_MODEL).task
    deadline = time.monotonic() + 10
    while not fake.streams and time.monotonic() < deadline:  # the request is in flight
        time.sleep(0.02)
    turns.stop(owner, task.reply_id)
    assert fake.wait_for_disconnect(timeout=2)  # the scenario would otherwise wait 60 s
    assert task.done
    assert store.get_message(owner, task.reply_id).status == "stopped"


def test_listeners_hear_the_reply_grow_and_end_and_a_late_one_is_called_at_once(
    turns: Turns, fake: FakeOpenRouter, owner: int
) -> None:
    fake.queue(reply(" ".join(f"w{i}" for i in range(20)), tokens_per_second=200))
    sent = turns.send(owner, None, "Count", role=ROLE, model=TEXT_MODEL)
    heard: list[tuple[str, bool]] = []
    sent.task.add_listener(lambda: heard.append((sent.task.snapshot()[1].text, sent.task.done)))
    assert sent.task.join(10)
    texts = [text for text, _ in heard]
    assert len(set(texts)) > 2 and texts == sorted(texts, key=len)  # it grew, change by change
    assert heard[-1] == (" ".join(f"w{i}" for i in range(20)), True)
    late: list[int] = []
    sent.task.add_listener(lambda: late.append(1))
    assert late == [1]


def test_a_reply_a_listener_follows_counts_as_watched(
    fake: FakeOpenRouter, store: Store, owner: int
) -> None:
    """An API stream follows its reply through a listener, not by polling it: a slow first
    token must not look like a reply nobody watches."""
    settings = Settings(
        api_key="sk-or-v1-test", base_url=fake.url, fallback_models=(), max_retries=0
    )
    replies = Replies(Assistant(settings), store, heartbeat_every=0.1, unwatched_after=0.3)
    fake.queue(reply("Late but wanted", first_token_delay=1.0))
    task = Turns(store, replies).send(owner, None, "slow", role=ROLE, model=TEXT_MODEL).task
    task.add_listener(lambda: None)
    assert task.join(10)
    assert store.get_message(owner, task.reply_id).status == "complete"


class CountingStore:
    """The store, counting how the replies' keeper writes to it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.batches: list[int] = []

    def checkpoint_replies(self, replies: Sequence[tuple[int, str, str, str]]) -> int:
        self.batches.append(len(replies))
        return self.store.checkpoint_replies(replies)

    def touch_replies(self, replies: Sequence[tuple[int, str]]) -> int:
        return self.store.touch_replies(replies)


def test_streaming_replies_are_checkpointed_together_in_one_write(
    fake: FakeOpenRouter, store: Store, owner: int, migrated_url: str
) -> None:
    settings = Settings(
        api_key="sk-or-v1-test", base_url=fake.url, fallback_models=(), max_retries=0
    )
    counting = CountingStore(store)
    replies = Replies(Assistant(settings), counting, checkpoint_every=0.2, heartbeat_every=0.2)
    turns = Turns(store, replies)
    fake.queue(*(long_reply(60, tokens_per_second=40) for _ in range(3)))
    tasks = [
        turns.send(owner, None, f"question {n}", role=ROLE, model=TEXT_MODEL).task for n in range(3)
    ]
    reader = Store(migrated_url)  # another connection: only committed text counts
    try:
        deadline = time.monotonic() + 10
        partial: list[str] = []
        while time.monotonic() < deadline and not (partial and all(partial)):
            time.sleep(0.05)
            partial = [reader.get_message(owner, t.reply_id).text for t in tasks]
        assert all(partial) and not any(t.done for t in tasks)  # saved while streaming
    finally:
        reader.close()
    assert counting.batches and max(counting.batches) == 3  # the three replies in one write
    for task in tasks:
        assert task.join(10)
    assert all(store.get_message(owner, t.reply_id).status == "complete" for t in tasks)
