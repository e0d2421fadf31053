"""Deleted means deleted: after "delete this conversation" or "delete my account", the text is
gone from SQLite's files, the database and its write-ahead log, not just from the tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from assistant.accounts import Accounts
from assistant.store import Store
from tests.seeds import exchange

PASSWORD = "violet lantern harbour"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "assistant.db"


@pytest.fixture
def store(database: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{database}")
    opened.migrate()
    yield opened
    opened.close()


def on_disk(database: Path) -> bytes:
    """Every byte SQLite keeps for this database: the file and its WAL (and shared memory)."""
    files = [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))]
    return b"".join(path.read_bytes() for path in files if path.exists())


def chat(store: Store, owner: int, marker: str) -> str:
    return exchange(
        store, owner, None, f"{marker} question", f"{marker} answer " * 200
    ).conversation_id


def test_deleted_conversations_and_accounts_leave_no_text_in_the_files(
    store: Store, database: Path
) -> None:
    accounts = Accounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    ada = accounts.register("ada", PASSWORD)
    bob = accounts.register("bob", PASSWORD)
    first = chat(store, ada.user.id, "quokka-7c1f")
    chat(store, ada.user.id, "narwhal-52ab")
    chat(store, bob.user.id, "axolotl-e09d")
    assert all(m in on_disk(database) for m in (b"quokka-7c1f", b"narwhal-52ab", b"axolotl-e09d"))

    store.delete_conversation(ada.user.id, first)
    kept = on_disk(database)
    assert b"quokka-7c1f" not in kept
    assert b"narwhal-52ab" in kept  # the rest of the account is untouched

    accounts.delete_account(ada.token, PASSWORD)
    left = on_disk(database)
    assert b"narwhal-52ab" not in left
    assert b"axolotl-e09d" in left  # other people's data stays
