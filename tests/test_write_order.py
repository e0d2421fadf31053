"""The chat write path keeps what the user wrote and what had arrived, whatever happens.

Each test reads through a second `Store` on the same database, as another process (or a
refreshed page) would, so only committed data counts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from assistant.errors import ReplyInterruptedError
from assistant.events import Usage
from assistant.reply import Reply, ReplyStatus
from assistant.store import ConversationNotFoundError, Store
from tests.seeds import answer, ask

if TYPE_CHECKING:
    from tests.store_fixtures import FakeClock


REPO = Path(__file__).resolve().parent.parent


def test_user_message_is_committed_before_the_reply_starts(
    store: Store, second_store: Store, clock: FakeClock
) -> None:
    owner = store.users.create_guest(clock()).id
    started = ask(store, owner, None, "question")
    # This is the moment the model would be called: the message is already durable.
    seen = second_store.get_conversation(owner, started.conversation_id)
    assert [(x.id, x.text, x.status) for x in seen.messages] == [
        (started.message.id, "question", "complete"),
        (started.reply_id, "", "streaming"),
    ]


def test_a_reader_mid_stream_sees_the_partial_reply_marked_streaming(
    store: Store, second_store: Store, clock: FakeClock
) -> None:
    owner = store.users.create_guest(clock()).id
    reply = ask(store, owner, None, "tell me").reply_id
    assert second_store.get_message(owner, reply).status == "streaming"
    assert store.checkpoint_reply(owner, reply, "Once upon", reasoning="thinking")
    assert store.checkpoint_reply(owner, reply, "Once upon a time")
    seen = second_store.get_message(owner, reply)
    assert (seen.text, seen.status, seen.is_streaming) == ("Once upon a time", "streaming", True)


def test_midstream_error_keeps_partial_reply(
    store: Store, second_store: Store, clock: FakeClock
) -> None:
    owner = store.users.create_guest(clock()).id
    started = ask(store, owner, None, "question", model="m/first")
    reply = started.reply_id
    store.checkpoint_reply(owner, reply, "Half an ans")
    sentence = "The model's provider is unavailable or overloaded right now."
    answer(store, owner, reply, "Half an answer", status="error", error=sentence, model="m/first")
    user_message, seen = second_store.get_conversation(owner, started.conversation_id).messages
    assert user_message.text == "question"
    assert (seen.text, seen.status, seen.error) == ("Half an answer", "error", sentence)
    assert seen.model == "m/first"


def test_stop_keeps_partial_reply(store: Store, second_store: Store, clock: FakeClock) -> None:
    owner = store.users.create_guest(clock()).id
    reply = ask(store, owner, None, "question").reply_id
    store.checkpoint_reply(owner, reply, "So far")
    answer(store, owner, reply, "So far, so", status="stopped")
    seen = second_store.get_message(owner, reply)
    assert (seen.text, seen.status, seen.error) == ("So far, so", "stopped", None)


def test_completed_reply_records_models_usage_and_cost(store: Store, clock: FakeClock) -> None:
    owner = store.users.create_guest(clock()).id
    reply = ask(store, owner, None, "question", model="m/asked").reply_id
    answer(
        store,
        owner,
        reply,
        "Answer",
        reasoning="Because",
        model="m/fallback",
        requested_model="m/asked",
        model_reason="fallback",
        usage=Usage(prompt_tokens=12, completion_tokens=34, cost=0.00042),
    )
    seen = store.get_message(owner, reply)
    assert (seen.model, seen.requested_model, seen.model_reason, seen.reasoning) == (
        "m/fallback",
        "m/asked",
        "fallback",
        "Because",
    )
    assert (seen.prompt_tokens, seen.completion_tokens, seen.cost) == (12, 34, 0.00042)


def test_a_checkpoint_after_the_end_changes_nothing(store: Store, clock: FakeClock) -> None:
    owner = store.users.create_guest(clock()).id
    reply = ask(store, owner, None, "question").reply_id
    answer(store, owner, reply, "Final")
    assert not store.checkpoint_reply(owner, reply, "late partial")
    assert store.get_message(owner, reply).text == "Final"


def test_finishing_needs_a_final_status_and_an_error_needs_its_reason(
    store: Store, clock: FakeClock
) -> None:
    owner = store.users.create_guest(clock()).id
    reply = ask(store, owner, None, "question").reply_id
    with pytest.raises(ValueError):
        store.finish_reply(owner, reply, Reply(text="x"))  # still streaming
    with pytest.raises(ValueError):
        store.finish_reply(owner, reply, Reply(text="x", status=ReplyStatus.ERROR))
    assert store.get_message(owner, reply).status == "streaming"


def test_a_turn_cannot_start_in_a_missing_conversation(store: Store, clock: FakeClock) -> None:
    owner = store.users.create_guest(clock()).id
    with pytest.raises(ConversationNotFoundError):
        ask(store, owner, "0" * 32, "hello")


def test_stale_streaming_replies_are_recovered_as_interrupted(
    store: Store, clock: FakeClock
) -> None:
    owner = store.users.create_guest(clock()).id
    started = ask(store, owner, None, "question")
    dead = started.reply_id
    store.checkpoint_reply(owner, dead, "partial")
    clock.advance(600)
    alive = ask(store, owner, started.conversation_id, "again").reply_id
    assert store.recover_stale_replies(timedelta(minutes=5)) == 1
    recovered = store.get_message(owner, dead)
    assert (recovered.text, recovered.status) == ("partial", "error")
    assert recovered.error == ReplyInterruptedError.sentence
    assert store.get_message(owner, alive).status == "streaming"


WRITER = """
import sys, time
from assistant.store import Store
store = Store(sys.argv[1])
owner = store.users.create_guest(__import__("datetime").datetime.now(__import__("datetime").UTC)).id
from assistant.store import NewTurn
started = store.start_turn(NewTurn(owner, None, "Write me a poem", "r", "m"))
conversation_id, message, reply = started.conversation_id, started.message, started.reply_id
text = ""
for n in range(10**9):
    text += f"line {n}\\n"
    store.checkpoint_reply(owner, reply, text)
    if n == 20:
        print(owner, conversation_id, message.id, reply, flush=True)
"""


def test_a_killed_process_leaves_the_user_message_and_the_partial_reply(
    migrated_url: str, store: Store
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, migrated_url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert child.stdout is not None
        owner, conversation_id, message_id, reply_id = child.stdout.readline().split()
    finally:
        # Killed while it is checkpointing in a tight loop, most likely inside a transaction.
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    detail = store.get_conversation(int(owner), conversation_id)
    user_message, reply = detail.messages
    assert (user_message.id, user_message.text) == (message_id, "Write me a poem")
    assert reply.id == reply_id and reply.status == "streaming"
    lines = reply.text.splitlines()
    assert len(lines) >= 21 and lines == [f"line {n}" for n in range(len(lines))]
    # A later start-up recovers it; that write also shows the dead writer left no lock behind.
    later = reply.updated_at + timedelta(hours=1)
    upkeep = Store(migrated_url, clock=lambda: later)
    try:
        assert upkeep.recover_stale_replies(timedelta(minutes=5)) == 1
    finally:
        upkeep.close()
    recovered = store.get_message(int(owner), reply_id)
    assert (recovered.status, recovered.text) == ("error", reply.text)
    assert recovered.error == ReplyInterruptedError.sentence


def test_a_stale_reply_is_recovered_when_its_conversation_is_opened(
    store: Store, clock: FakeClock
) -> None:
    """Upkeep per conversation: only that owner's conversation is touched."""
    owner, other = (store.users.create_guest(clock()).id for _ in range(2))
    mine = ask(store, owner, None, "question")
    theirs = ask(store, other, None, "question")
    clock.advance(60)
    assert (
        store.recover_stale_replies(
            timedelta(seconds=30), owner_id=other, conversation_id=mine.conversation_id
        )
        == 0
    )
    assert (
        store.recover_stale_replies(
            timedelta(seconds=30), owner_id=owner, conversation_id=mine.conversation_id
        )
        == 1
    )
    assert store.get_message(owner, mine.reply_id).status == "error"
    assert store.get_message(other, theirs.reply_id).status == "streaming"


def test_a_heartbeat_keeps_a_waiting_reply_from_looking_stale(
    store: Store, clock: FakeClock
) -> None:
    owner = store.users.create_guest(clock()).id
    waiting = ask(store, owner, None, "question").reply_id
    clock.advance(60)
    assert store.touch_replies([(owner, waiting)]) == 1
    assert store.recover_stale_replies(timedelta(seconds=30)) == 0
    assert store.get_message(owner, waiting).status == "streaming"
