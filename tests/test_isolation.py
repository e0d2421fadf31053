"""No id, guessed or leaked, gives one user anything of another's.

User B holds every id of user A's data and tries every read and write path with them. Each
must behave exactly as for an id that does not exist, and A's data must be unchanged after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from assistant.reply import Reply, ReplyStatus
from assistant.store import NewTurn, NotFoundError, RoleDraft, Store
from tests.seeds import Picture, answer, ask

if TYPE_CHECKING:
    from tests.store_fixtures import FakeClock


SECRET = "Alice's secret plan"
PICTURE = Picture(b"alice's photo")


@dataclass(frozen=True)
class World:
    a: int
    b: int
    conversation: str
    message: str
    reply: str
    role: str


@pytest.fixture
def world(store: Store, clock: FakeClock) -> World:
    a = store.users.create_user("alice", "alice", "hash", clock()).id
    b = store.users.create_user("bob", "bob", "hash", clock()).id
    started = ask(store, a, None, SECRET, [PICTURE])
    reply = started.reply_id
    answer(store, a, reply, f"{SECRET}, continued", status="stopped")
    store.set_feedback(a, reply, "up", "good")
    role = store.create_role(a, RoleDraft(name="Spy", system_prompt=SECRET)).slug
    ask(store, b, None, "Bob's own chat")
    store.create_role(b, RoleDraft(name="Bob role", system_prompt="bob"))
    return World(a, b, started.conversation_id, started.message.id, reply, role)


Attempt = Callable[[Store, World], Any]

ATTEMPTS: dict[str, Attempt] = {
    "get conversation": lambda s, w: s.get_conversation(w.b, w.conversation),
    "rename conversation": lambda s, w: s.rename_conversation(w.b, w.conversation, "mine"),
    "model title": lambda s, w: s.set_generated_title(w.b, w.conversation, "mine"),
    "delete conversation": lambda s, w: s.delete_conversation(w.b, w.conversation),
    "append message": lambda s, w: s.start_turn(NewTurn(w.b, w.conversation, "hi", "r", "m")),
    "append photo": lambda s, w: s.start_turn(
        NewTurn(w.b, w.conversation, "hi", "r", "m", images=(PICTURE,))
    ),
    "regenerate reply": lambda s, w: s.revise_turn(w.b, w.reply, text=None, role_id="r", model="m"),
    "edit message": lambda s, w: s.revise_turn(w.b, w.message, text="x", role_id="r", model="m"),
    "continue reply": lambda s, w: s.resume_reply(w.b, w.reply),
    "show a version": lambda s, w: s.select_version(w.b, w.message),
    "read reply context": lambda s, w: s.reply_context(w.b, w.reply),
    "read user message": lambda s, w: s.get_message(w.b, w.message),
    "read reply": lambda s, w: s.get_message(w.b, w.reply),
    "checkpoint reply": lambda s, w: s.checkpoint_reply(w.b, w.reply, "overwritten"),
    "finish reply": lambda s, w: s.finish_reply(
        w.b, w.reply, Reply(text="x", status=ReplyStatus.COMPLETE)
    ),
    "give feedback": lambda s, w: s.set_feedback(w.b, w.reply, "down"),
    "clear feedback": lambda s, w: s.set_feedback(w.b, w.reply, None),
    "export markdown": lambda s, w: s.export_markdown(w.b, w.conversation),
    "export json": lambda s, w: s.export_json(w.b, w.conversation),
    "get role": lambda s, w: s.get_role(w.b, w.role),
    "edit role": lambda s, w: s.update_role(w.b, w.role, RoleDraft(name="x", system_prompt="x")),
    "delete role": lambda s, w: s.delete_role(w.b, w.role),
}


def snapshot(store: Store, world: World) -> tuple[Any, ...]:
    return (
        store.get_conversation(world.a, world.conversation),
        store.list_roles(world.a),
        store.image_bytes(world.a, PICTURE.sha256),
        store.search(world.a, "secret"),
    )


@pytest.mark.parametrize("name", list(ATTEMPTS))
def test_another_users_id_behaves_as_not_found(store: Store, world: World, name: str) -> None:
    before = snapshot(store, world)
    store.touch_replies([(world.b, world.reply)])  # a heartbeat names its owner too
    with pytest.raises(NotFoundError) as raised:
        ATTEMPTS[name](store, world)
    assert "not found" in str(raised.value)
    assert snapshot(store, world) == before


def test_a_guessed_id_and_another_users_id_raise_the_same_sentence(
    store: Store, world: World
) -> None:
    with pytest.raises(NotFoundError) as foreign:
        store.get_conversation(world.b, world.conversation)
    with pytest.raises(NotFoundError) as missing:
        store.get_conversation(world.b, "f" * 32)
    assert (type(foreign.value), str(foreign.value)) == (type(missing.value), str(missing.value))


def test_listings_search_and_csv_show_only_the_owners_data(store: Store, world: World) -> None:
    assert [c.title for c in store.list_conversations(world.b)] == ["Bob's own chat"]
    assert store.search(world.b, "secret") == []
    assert store.search(world.b, "Alice") == []
    assert SECRET not in store.export_csv(world.b)
    assert [r.name for r in store.list_roles(world.b)] == ["Bob role"]
    assert all(c.title != SECRET for c, _ in store.all_messages(world.b))
    assert store.image_bytes(world.b, PICTURE.sha256) is None


def test_the_same_image_bytes_give_each_uploader_their_own_access(
    store: Store, world: World
) -> None:
    bobs = ask(store, world.b, None, "same photo", [PICTURE]).conversation_id
    assert store.image_bytes(world.b, PICTURE.sha256) == (PICTURE.data, "image/png")
    store.delete_conversation(world.b, bobs)
    assert store.image_bytes(world.b, PICTURE.sha256) is None
    assert store.image_bytes(world.a, PICTURE.sha256) == (PICTURE.data, "image/png")
    store.delete_conversation(world.a, world.conversation)
    assert store.image_bytes(world.a, PICTURE.sha256) is None


def test_deleting_an_account_leaves_other_users_untouched(store: Store, world: World) -> None:
    before = store.get_conversation(world.a, world.conversation)
    store.users.delete_user(world.b)
    assert store.get_conversation(world.a, world.conversation) == before
    assert store.list_conversations(world.b) == []
