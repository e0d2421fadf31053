"""Many sessions writing at once: nothing lost, nothing duplicated, no "database is locked".

Threads use two `Store` objects on the same database (two connection pools, as two replicas
or two processes would), each thread its own conversation, and some threads one shared
conversation. On SQLite this exercises BEGIN IMMEDIATE, the busy timeout and the retry; on
PostgreSQL the row locks and the retry on serialization failures.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from assistant.store import ConversationNotFoundError, NewTurn, Store, StoreBusyError
from tests.seeds import Picture, answer, ask
from tests.store_fixtures import run_threads

if TYPE_CHECKING:
    from tests.store_fixtures import FakeClock


THREADS = 16
MESSAGES = 50
SHARING = 4


def test_concurrent_writers_lose_and_duplicate_nothing(
    store: Store, second_store: Store, clock: FakeClock
) -> None:
    owners = [store.users.create_guest(clock()).id for _ in range(THREADS)]
    shared_owner = owners[0]
    shared = ask(store, shared_owner, None, "shared start").conversation_id
    own: dict[int, str] = {}

    def work(n: int) -> None:
        mine = store if n % 2 else second_store
        owner = owners[n]
        conversation: str | None = None
        for i in range(MESSAGES):
            started = ask(mine, owner, conversation, f"{n}:{i}")
            conversation = started.conversation_id
            if i % 10 == 0:
                mine.checkpoint_reply(owner, started.reply_id, f"reply {n}:{i} partial")
                answer(mine, owner, started.reply_id, f"reply {n}:{i}")
            else:
                answer(mine, owner, started.reply_id, status="stopped")
            if n < SHARING:
                ask(mine, shared_owner, shared, f"shared {n}:{i}")
        assert conversation is not None
        own[n] = conversation

    errors = run_threads(THREADS, work)
    assert errors == []
    for n, owner in enumerate(owners):
        messages = store.get_conversation(owner, own[n]).messages
        user_texts = [x.text for x in messages if x.role == "user"]
        assert user_texts == [f"{n}:{i}" for i in range(MESSAGES)]
        replies = [x for x in messages if x.role == "assistant"]
        assert [(x.text, x.status) for x in replies] == [
            (f"reply {n}:{i}", "complete") if i % 10 == 0 else ("", "stopped")
            for i in range(MESSAGES)
        ]
    shared_messages = store.get_conversation(shared_owner, shared).messages
    shared_texts = [x.text for x in shared_messages if x.role == "user"]
    expected = ["shared start"] + [
        f"shared {n}:{i}" for n in range(SHARING) for i in range(MESSAGES)
    ]
    assert Counter(shared_texts) == Counter(expected)
    for n in range(SHARING):  # each writer's own messages keep their order
        mine = [t for t in shared_texts if t.startswith(f"shared {n}:")]
        assert mine == [f"shared {n}:{i}" for i in range(MESSAGES)]


def test_many_users_sending_the_same_image_at_once_each_get_access(
    store: Store, second_store: Store, clock: FakeClock
) -> None:
    picture = Picture(b"the same meme" * 100)
    owners = [store.users.create_guest(clock()).id for _ in range(8)]

    def work(n: int) -> None:
        mine = store if n % 2 else second_store
        for _ in range(5):
            conversation = ask(mine, owners[n], None, "look", [picture]).conversation_id
            mine.delete_conversation(owners[n], conversation)
        ask(mine, owners[n], None, "kept", [picture])

    assert run_threads(len(owners), work) == []
    for owner in owners:
        assert store.image_bytes(owner, picture.sha256) == (picture.data, "image/png")


def test_concurrent_feedback_and_checkpoints_on_one_reply(
    store: Store, second_store: Store, clock: FakeClock
) -> None:
    owner = store.users.create_guest(clock()).id
    reply = ask(store, owner, None, "q").reply_id

    def work(n: int) -> None:
        mine = store if n % 2 else second_store
        for i in range(30):
            if n % 2:
                mine.set_feedback(owner, reply, "up" if i % 2 else "down")
            else:
                mine.checkpoint_reply(owner, reply, f"{n}:{i}")

    assert run_threads(8, work) == []
    seen = store.get_message(owner, reply)
    assert seen.feedback in ("up", "down") and seen.status == "streaming"
    assert seen.text.split(":")[1] == "29"


def test_a_write_lock_held_past_the_busy_timeout_is_retried_not_reported(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    opened = Store(f"sqlite:///{path}", busy_timeout=0.05)
    opened.migrate()
    owner = opened.users.create_guest(datetime.now(UTC)).id
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.5, blocker.rollback)
        release.start()
        # Held ten times longer than the busy timeout: the store retries until it gets in.
        conversation = ask(opened, owner, None, "hello").conversation_id
        release.join()
        assert opened.get_conversation(owner, conversation).messages[0].text == "hello"
    finally:
        blocker.close()
        opened.close()


def test_a_lock_that_never_frees_ends_in_a_sentence_not_a_driver_error(tmp_path: Path) -> None:
    path = tmp_path / "stuck.db"
    opened = Store(f"sqlite:///{path}", busy_timeout=0.02, retry_budget=0.2)
    opened.migrate()
    owner = opened.users.create_guest(datetime.now(UTC)).id
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreBusyError) as raised:
            ask(opened, owner, None, "hello")
        assert "locked" not in str(raised.value)
        assert str(raised.value) == StoreBusyError.sentence
    finally:
        blocker.close()
        opened.close()


def test_replicas_migrating_at_once_agree(store_url: str) -> None:
    stores = [Store(store_url) for _ in range(4)]
    try:
        assert run_threads(len(stores), lambda n: stores[n].migrate()) == []
        assert stores[0].list_conversations(1) == []
    finally:
        for opened in stores:
            opened.close()


def test_turns_sent_at_once_are_written_together_each_with_its_own_outcome(
    store: Store, second_store: Store, clock: FakeClock
) -> None:
    """`Store.start_turn` from many threads (group commit on SQLite): every turn is written
    once, in its conversation's order, and a turn in a stranger's conversation gets its own
    error without failing the others."""
    owners = [store.users.create_guest(clock()).id for _ in range(THREADS)]
    conversations = [ask(store, owner, None, "start").conversation_id for owner in owners]
    results: dict[tuple[int, int], str] = {}
    refused: list[int] = []

    def work(n: int) -> None:
        writer = store if n % 2 else second_store
        for round_ in range(5):
            if n == 0 and round_ == 2:  # thread 0 tries a conversation of another user
                try:
                    writer.start_turn(NewTurn(owners[0], conversations[1], "not mine", "r", "m"))
                except ConversationNotFoundError:
                    refused.append(n)
                continue
            started = writer.start_turn(
                NewTurn(owners[n], conversations[n], f"t{n}-{round_}", "r", "m")
            )
            assert started.message.text == f"t{n}-{round_}"
            results[(n, round_)] = started.reply_id

    assert run_threads(THREADS, work) == []
    assert refused == [0]
    for n, owner in enumerate(owners):
        detail = store.get_conversation(owner, conversations[n])
        texts = [(x.role, x.text) for x in detail.messages]
        rounds = [r for r in range(5) if (n, r) in results]
        expected = [("user", "start"), ("assistant", "")]
        for r in rounds:
            expected += [("user", f"t{n}-{r}"), ("assistant", "")]
        assert texts == expected
        assert [x.id for x in detail.messages if x.role == "assistant"][1:] == [
            results[(n, r)] for r in rounds
        ]


def test_turns_queued_behind_the_write_gate_go_in_one_transaction(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from assistant.store import messages

    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL writers do not queue: no gate")
    owner = store.users.create_guest(clock()).id
    conversation = ask(store, owner, None, "start").conversation_id
    batches: list[int] = []
    real = messages.start_turns
    monkeypatch.setattr(
        messages,
        "start_turns",
        lambda s, now, batch: batches.append(len(batch)) or real(s, now, batch),
    )
    gate = store._db._gate
    assert gate is not None
    gate.acquire()  # a long write in progress
    threads = [
        threading.Thread(
            target=store.start_turn, args=(NewTurn(owner, conversation, f"q{n}", "r", "m"),)
        )
        for n in range(3)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        group = store._db._groups.get("start_turn")
        if group is not None and len(group.items) == 3:
            break
        time.sleep(0.01)
    gate.release()
    for thread in threads:
        thread.join(timeout=10)
    assert batches == [3]
    texts = [x.text for x in store.get_conversation(owner, conversation).messages]
    assert sorted(texts[2::2]) == ["q0", "q1", "q2"] and texts[3::2] == ["", "", ""]


def test_locking_a_conversation_is_scoped_to_its_owner_in_the_query(
    store: Store, clock: FakeClock
) -> None:
    """A follow-up turn aimed at someone else's conversation must not lock that
    conversation's row (PostgreSQL): the owner is part of the SELECT ... FOR UPDATE."""
    owner, stranger = (store.users.create_guest(clock()).id for _ in range(2))
    conversation = ask(store, owner, None, "mine").conversation_id
    statements: list[str] = []

    from sqlalchemy import event

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(store._db.engine, "before_cursor_execute", record)
    try:
        with pytest.raises(ConversationNotFoundError):
            store.start_turn(NewTurn(stranger, conversation, "theirs", "r", "m"))
    finally:
        event.remove(store._db.engine, "before_cursor_execute", record)
    locking = [x for x in statements if "FROM conversations" in x and "WHERE" in x]
    assert locking and all("owner_id" in x.split("WHERE", 1)[1] for x in locking)
