"""Personal API keys in the core and the store: made, shown once, hashed, limited, revoked.

Store-level behaviour runs on a SQLite file and on PostgreSQL (`store` fixture); the operators'
commands run as an operator would run them, in a subprocess.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from assistant.api_keys import (
    MAX_KEYS,
    ApiKeyNotFoundError,
    ApiKeys,
    InvalidApiKeyError,
    KeyLimits,
    KeyRateLimitedError,
    thread_digest,
)
from assistant.context import ChatTurn
from assistant.errors import InputError
from assistant.store import Store, User
from tests.commands import run_assistant
from tests.seeds import exchange
from tests.store_fixtures import run_threads

if TYPE_CHECKING:
    from tests.store_fixtures import FakeClock


def member(store: Store, clock: FakeClock, name: str) -> User:
    return store.users.create_user(name, name, "not-a-real-hash", clock())


@pytest.fixture
def keys(store: Store, clock: FakeClock) -> ApiKeys:
    return ApiKeys(store, clock=clock, limits=KeyLimits(requests_per_minute=3, streams=2))


def test_a_key_is_shown_once_and_only_its_hash_is_stored(
    store: Store, keys: ApiKeys, clock: FakeClock, migrated_url: str
) -> None:
    ada = member(store, clock, "ada")
    made = keys.create(ada, "  laptop \n script ")

    assert made.token.startswith(f"mra_{made.key.id}_") and len(made.token) == 60
    assert made.key.label == "laptop script"
    assert made.token not in repr(made)
    listed = keys.list(ada.id)
    assert [k.id for k in listed] == [made.key.id] and made.token not in repr(listed)
    from sqlalchemy import create_engine, text

    engine = create_engine(migrated_url)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT token_hash, label FROM api_keys")).one()
    engine.dispose()
    assert row[0] == hashlib.sha256(made.token.encode()).hexdigest()
    assert keys.admit(made.token).user.id == ada.id


def test_guests_cannot_have_keys_and_accounts_hold_a_bounded_number(
    store: Store, keys: ApiKeys, clock: FakeClock
) -> None:
    guest = store.users.create_guest(clock())
    with pytest.raises(InputError, match="Guests cannot have API keys"):
        keys.create(guest)
    ada = member(store, clock, "ada")
    with pytest.raises(InputError, match="at most 80"):
        keys.create(ada, "x" * 81)
    made = [keys.create(ada) for _ in range(MAX_KEYS)]
    assert {m.key.label for m in made} == {"API key"}
    with pytest.raises(InputError, match="Revoke one"):
        keys.create(ada)
    keys.revoke(ada.id, made[0].key.id)
    keys.create(ada, "room again")


def test_keys_are_listed_and_revoked_by_their_owner_only(
    store: Store, keys: ApiKeys, clock: FakeClock
) -> None:
    ada, bob = member(store, clock, "ada"), member(store, clock, "bob")
    adas = keys.create(ada, "ada's")
    keys.create(bob, "bob's")

    assert [k.label for k in keys.list(ada.id)] == ["ada's"]
    with pytest.raises(ApiKeyNotFoundError):
        keys.revoke(bob.id, adas.key.id)  # another user's key is one that does not exist
    assert keys.admit(adas.token).key_id == adas.key.id

    keys.revoke(ada.id, adas.key.id)
    with pytest.raises(InvalidApiKeyError):
        keys.admit(adas.token)  # refused at once, at the next request
    with pytest.raises(ApiKeyNotFoundError):
        keys.revoke(ada.id, adas.key.id)
    assert keys.inactive_among([adas.key.id, "000000000000"]) == {adas.key.id, "000000000000"}
    assert not keys.list(ada.id)[0].active


@pytest.mark.parametrize(
    "token",
    [None, "", "sk-or-v1-abc", "mra_0123456789ab_" + "A" * 42, "mra_0123456789ab_" + "A" * 43],
)
def test_anything_but_a_live_key_is_refused_the_same_way(keys: ApiKeys, token: str | None) -> None:
    with pytest.raises(InvalidApiKeyError) as caught:
        keys.admit(token)
    assert "Account page" in str(caught.value)


def test_requests_per_minute_are_counted_per_key_and_refusals_are_free(
    store: Store, keys: ApiKeys, clock: FakeClock
) -> None:
    ada = member(store, clock, "ada")
    first, second = keys.create(ada), keys.create(ada)
    for _ in range(3):
        keys.admit(first.token)
    clock.advance(20)
    with pytest.raises(KeyRateLimitedError) as caught:
        keys.admit(first.token)
    assert 39 <= (caught.value.retry_after or 0) <= 41
    assert "3 requests in the last minute" in str(caught.value)
    keys.admit(second.token)  # another key has its own budget
    clock.advance(30)
    with pytest.raises(KeyRateLimitedError):
        keys.admit(first.token)  # still the same window; the refusals did not count
    clock.advance(11)
    keys.admit(first.token)
    assert keys.list(ada.id)[1].last_used_at is not None


def test_streams_are_held_until_given_back_or_until_a_crashed_holder_expires(
    store: Store, keys: ApiKeys, clock: FakeClock
) -> None:
    ada = member(store, clock, "ada")
    made = keys.create(ada)
    one = keys.admit(made.token, stream=True)
    keys.admit(made.token, stream=True)
    with pytest.raises(KeyRateLimitedError, match="2 replies running"):
        keys.admit(made.token, stream=True)
    keys.admit(made.token)  # a request that holds no stream still passes
    assert one.stream_id is not None
    keys.release([one.stream_id])
    clock.advance(61)  # one window later
    third = keys.admit(made.token, stream=True)
    assert third.stream_id is not None

    clock.advance(50)
    keys.renew([third.stream_id])  # its process is alive: held again for a full minute
    clock.advance(20)  # the other stream's process died 70 s ago: its row has expired
    keys.admit(made.token, stream=True)
    with pytest.raises(KeyRateLimitedError):
        keys.admit(made.token, stream=True)


def test_two_replicas_cannot_both_take_a_keys_last_stream(
    store: Store, migrated_url: str, clock: FakeClock
) -> None:
    ada = member(store, clock, "ada")
    token = ApiKeys(store).create(ada).token
    replicas = [Store(migrated_url) for _ in range(2)]
    limits = KeyLimits(requests_per_minute=1000, streams=3)
    outcomes: list[str] = []

    def ask(n: int) -> None:
        try:
            ApiKeys(replicas[n % 2], limits=limits).admit(token, stream=True)
            outcomes.append("in")
        except KeyRateLimitedError:
            outcomes.append("refused")

    errors = run_threads(8, ask)
    for replica in replicas:
        replica.close()
    assert errors == []
    assert sorted(outcomes) == ["in"] * 3 + ["refused"] * 5


def test_a_thread_is_found_by_its_owner_only_and_goes_with_its_conversation(
    store: Store, keys: ApiKeys, clock: FakeClock
) -> None:
    ada, bob = member(store, clock, "ada"), member(store, clock, "bob")
    chat = exchange(store, ada.id, None, "Hi", "Hello!").conversation_id
    turns = [ChatTurn("user", "Hi"), ChatTurn("assistant", "Hello!")]
    keys.remember_thread(ada.id, turns, chat)

    assert keys.thread_conversation(ada.id, turns) == chat
    assert keys.thread_conversation(bob.id, turns) is None
    assert keys.thread_conversation(ada.id, [ChatTurn("user", "Hi")]) is None
    assert keys.thread_conversation(ada.id, []) is None
    assert store.api_keys.remember_thread(bob.id, thread_digest(turns), chat, clock()) is False

    store.delete_conversation(ada.id, chat)
    assert keys.thread_conversation(ada.id, turns) is None


def test_deleting_an_account_deletes_its_keys(
    store: Store, keys: ApiKeys, clock: FakeClock
) -> None:
    ada = member(store, clock, "ada")
    made = keys.create(ada)
    keys.admit(made.token, stream=True)
    store.users.delete_user(ada.id)
    with pytest.raises(InvalidApiKeyError):
        keys.admit(made.token)
    assert keys.inactive_among([made.key.id]) == {made.key.id}


def test_a_digest_names_roles_texts_and_image_counts() -> None:
    one = thread_digest([ChatTurn("user", "Hi"), ChatTurn("assistant", "Hello")])
    assert one == thread_digest([ChatTurn("user", "Hi"), ChatTurn("assistant", "Hello")])
    assert one != thread_digest([ChatTurn("assistant", "Hi"), ChatTurn("user", "Hello")])
    assert one != thread_digest([ChatTurn("user", "Hi"), ChatTurn("assistant", "Hello ")])
    assert thread_digest([ChatTurn("user", "\ud800")])  # a lone surrogate cannot break it


# -- the operators' commands ------------------------------------------------------------------


def operator(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`python -m assistant ...` in a folder of its own (no secrets file there)."""
    database = {"DATABASE_URL": f"sqlite:///{tmp_path / 'ops.db'}"}
    return run_assistant(*args, cwd=tmp_path, stdin=stdin, env=database)


def test_operators_create_users_and_keys_list_and_revoke_them(tmp_path: Path) -> None:
    made = operator(tmp_path, "users", "create", "grace", stdin="violet-otter-harbour-42\n")
    assert made.returncode == 0, made.stderr
    refused = operator(tmp_path, "users", "create", "grace", stdin="violet-otter-harbour-42\n")
    assert refused.returncode == 2 and "not available" in refused.stderr
    weak = operator(tmp_path, "users", "create", "hopper", stdin="password\n")
    assert weak.returncode == 2 and "too common" in weak.stderr

    created = operator(tmp_path, "keys", "create", "--user", "grace", "--label", "nightly job")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    key_id = token.split("_")[1]
    assert "shown once" in created.stderr and token not in created.stderr

    listing = operator(tmp_path, "keys", "list", "--user", "grace")
    assert key_id in listing.stdout and "nightly job" in listing.stdout
    assert "active" in listing.stdout and token not in listing.stdout

    store = Store(f"sqlite:///{tmp_path / 'ops.db'}")
    try:
        assert ApiKeys(store).admit(token).user.username == "grace"
        assert operator(tmp_path, "keys", "revoke", key_id).returncode == 0
        with pytest.raises(InvalidApiKeyError):
            ApiKeys(store).admit(token)
    finally:
        store.close()
    again = operator(tmp_path, "keys", "revoke", key_id)
    assert again.returncode == 2 and "no active key" in again.stderr
    nobody = operator(tmp_path, "keys", "create", "--user", "nobody")
    assert nobody.returncode == 2 and "no user named" in nobody.stderr
    assert "revoked" in operator(tmp_path, "keys", "list", "--user", "grace").stdout


def test_requests_arriving_together_are_counted_one_by_one(store: Store, clock: FakeClock) -> None:
    """On SQLite, admissions queued at once are written in one transaction: each still sees
    the ones before it."""
    ada = member(store, clock, "ada")
    keys = ApiKeys(store, clock=clock, limits=KeyLimits(requests_per_minute=4, streams=2))
    token = keys.create(ada).token
    outcomes: list[str] = []

    def ask(n: int) -> None:
        try:
            keys.admit(token, stream=n % 3 == 0)
            outcomes.append("in")
        except KeyRateLimitedError as error:
            outcomes.append("streams" if "running" in str(error) else "requests")

    assert run_threads(12, ask) == []
    assert outcomes.count("in") == 4
    assert store.api_keys.list_keys(ada.id)[0].last_used_at is not None
