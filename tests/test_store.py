"""The store's schema and history behaviours, on a SQLite file and on PostgreSQL alike."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from assistant.errors import AssistantError, ConfigurationError
from assistant.events import Usage
from assistant.reply import Reply, ReplyStatus
from assistant.settings import Settings
from assistant.store import (
    ConversationNotFoundError,
    MessageNotFoundError,
    NotFoundError,
    RoleDraft,
    RoleInputError,
    RoleNotFoundError,
    Sentiment,
    Store,
)
from assistant.store import models as m
from assistant.store.conversations import title_from_text
from assistant.store.database import MIGRATIONS
from assistant.store.export import safe_cell
from assistant.store.messages import NotLastReplyError
from tests.seeds import Picture, answer, ask, exchange

if TYPE_CHECKING:
    from tests.store_fixtures import FakeClock


REPO = Path(__file__).resolve().parent.parent


def guest(store: Store, clock: FakeClock) -> int:
    return store.users.create_guest(clock()).id


def count(store: Store, model: type[m.Base]) -> int:
    with store._db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


# -- schema ---------------------------------------------------------------------------------


def test_migrations_build_exactly_the_models(store: Store) -> None:
    store.migrate()  # a second run is a no-op
    with store._db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, m.Base.metadata) == []
        heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
        assert len(heads) == 1  # one line of history, whatever is chained last
        assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [
            (heads[0],)
        ]


def test_sqlite_connections_use_wal_full_sync_foreign_keys_and_busy_timeout(
    tmp_path: Path,
) -> None:
    opened = Store(f"sqlite:///{tmp_path / 'a.db'}", busy_timeout=12.5)
    try:
        opened.migrate()
        with opened._db.engine.connect() as connection:
            pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 2  # FULL
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 12_500
    finally:
        opened.close()


def test_migrate_runs_from_another_working_directory(store_url: str, tmp_path: Path) -> None:
    code = "import sys; from assistant.store import Store; s = Store(sys.argv[1]); s.migrate()"
    done = subprocess.run(
        [sys.executable, "-c", code, store_url],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    opened = Store(store_url)
    try:
        assert opened.list_conversations(1) == []
    finally:
        opened.close()


def test_default_database_is_a_sqlite_file_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "nested" / "data")
    opened = Store.from_settings(settings)
    try:
        opened.migrate()
        assert opened.dialect == "sqlite"
        assert (tmp_path / "nested" / "data" / "assistant.db").exists()
    finally:
        opened.close()


def test_in_memory_sqlite_and_unknown_databases_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        Store("sqlite://")
    with pytest.raises(ConfigurationError):
        Store("mysql://localhost/x")


# -- conversations --------------------------------------------------------------------------


def test_first_message_creates_a_conversation_titled_from_its_first_line(
    store: Store, clock: FakeClock
) -> None:
    owner = guest(store, clock)
    started = ask(
        store,
        owner,
        None,
        "\n  How do I   reset my router?  \nIt blinks red.",
        role_id="gadget",
        model="m/one",
    )
    detail = store.get_conversation(owner, started.conversation_id)
    assert detail.conversation.title == "How do I reset my router?"
    assert detail.conversation.role_id == "gadget"
    assert detail.conversation.model == "m/one"
    assert [x.id for x in detail.messages] == [started.message.id, started.reply_id]
    assert started.message.role == "user" and started.message.status == "complete"
    assert len(started.conversation_id) == 32 and len(started.message.id) == 32


def test_titles_are_cut_near_sixty_characters_at_a_word() -> None:
    title = title_from_text("word " * 40)
    assert len(title) <= 60 and title.endswith("…") and not title.endswith(" …")
    assert title_from_text("") == "New conversation"
    assert title_from_text("   \n\n", has_images=True) == "Image"
    assert title_from_text("x" * 100) == "x" * 59 + "…"


def test_conversations_are_listed_newest_activity_first(store: Store, clock: FakeClock) -> None:
    owner = guest(store, clock)
    first = ask(store, owner, None, "first", role_id="gadget").conversation_id
    clock.advance(10)
    second = ask(store, owner, None, "second", role_id="gadget").conversation_id
    clock.advance(10)
    assert [c.id for c in store.list_conversations(owner)] == [second, first]
    ask(store, owner, first, "again", role_id="legal", model="m2")
    listed = store.list_conversations(owner)
    assert [c.id for c in listed] == [first, second]
    assert listed[0].role_id == "legal" and listed[0].model == "m2"
    assert [c.id for c in store.list_conversations(owner, limit=1, offset=1)] == [second]


def test_continuing_appends_messages_in_order(store: Store, clock: FakeClock) -> None:
    owner = guest(store, clock)
    first = exchange(store, owner, None, "one", "two")
    second = ask(store, owner, first.conversation_id, "three")
    detail = store.get_conversation(owner, first.conversation_id)
    assert [(x.role, x.text) for x in detail.messages] == [
        ("user", "one"),
        ("assistant", "two"),
        ("user", "three"),
        ("assistant", ""),
    ]
    assert [x.parent_id for x in detail.messages] == [
        None,
        first.message.id,
        first.reply_id,
        second.message.id,
    ]
    assert second.message.parent_id == first.reply_id
    assert detail.versions == {} and detail.earlier == ()


def test_start_turn_commits_the_message_and_an_empty_streaming_reply_together(
    store: Store, clock: FakeClock
) -> None:
    owner = guest(store, clock)
    started = ask(store, owner, None, "first question", [Picture(b"photo")], role_id="gadget")
    detail = store.get_conversation(owner, started.conversation_id)
    assert [(x.id, x.role, x.text, x.status) for x in detail.messages] == [
        (started.message.id, "user", "first question", "complete"),
        (started.reply_id, "assistant", "", "streaming"),
    ]
    assert [ref.sha256 for ref in detail.messages[0].images] == [Picture(b"photo").sha256]
    assert started.message.images == detail.messages[0].images
    second = ask(store, owner, started.conversation_id, "and then?", role_id="legal", model="m/2")
    detail = store.get_conversation(owner, started.conversation_id)
    assert [x.id for x in detail.messages][-2:] == [second.message.id, second.reply_id]
    assert detail.conversation.role_id == "legal" and detail.conversation.model == "m/2"


def test_a_follow_up_turn_returns_the_records_the_store_reads_back(
    store: Store, clock: FakeClock
) -> None:
    owner = guest(store, clock)
    first = ask(store, owner, None, "first", role_id="gadget", model="m/one")
    clock.advance(5)
    scores = Sentiment(0.5, 0.4, 0.6, 0.0)
    started = ask(
        store,
        owner,
        first.conversation_id,
        "a \x00 follow-up",
        role_id="legal",
        model="m/two",
        sentiment=scores,
    )
    detail = store.get_conversation(owner, first.conversation_id)
    assert started.conversation_id == first.conversation_id
    assert detail.messages[-2] == started.message
    stored_reply = detail.messages[-1]
    assert (stored_reply.id, stored_reply.status, stored_reply.model) == (
        started.reply_id,
        "streaming",
        "m/two",
    )
    assert stored_reply.sentiment is None
    assert detail.conversation.updated_at == started.message.created_at


def test_start_turn_in_a_stranger_conversation_writes_nothing(
    store: Store, clock: FakeClock
) -> None:
    owner, stranger = guest(store, clock), guest(store, clock)
    conversation_id = ask(store, owner, None, "mine").conversation_id
    with pytest.raises(ConversationNotFoundError):
        ask(store, stranger, conversation_id, "theirs")
    with pytest.raises(ConversationNotFoundError):
        ask(store, stranger, conversation_id, "theirs, with a photo", [Picture(b"x")])
    assert count(store, m.Message) == 2


def test_rename_wins_over_a_later_model_title(store: Store, clock: FakeClock) -> None:
    owner = guest(store, clock)
    conversation_id = ask(store, owner, None, "hi").conversation_id
    assert store.set_generated_title(owner, conversation_id, "Greeting  the\nassistant")
    assert store.get_conversation(owner, conversation_id).conversation.title == (
        "Greeting the assistant"
    )
    store.rename_conversation(owner, conversation_id, "My chat")
    assert not store.set_generated_title(owner, conversation_id, "Model idea")
    conversation = store.get_conversation(owner, conversation_id).conversation
    assert (conversation.title, conversation.title_source) == ("My chat", "user")


def test_delete_conversation_removes_messages_links_feedback_and_orphan_images(
    store: Store, clock: FakeClock
) -> None:
    owner = guest(store, clock)
    shared, only_here = Picture(b"shared"), Picture(b"only here")
    keep = ask(store, owner, None, "keep", [shared]).conversation_id
    gone = ask(store, owner, None, "go", [shared, only_here])
    store.set_feedback(owner, gone.reply_id, "up")
    store.delete_conversation(owner, gone.conversation_id)
    with pytest.raises(ConversationNotFoundError):
        store.get_conversation(owner, gone.conversation_id)
    with pytest.raises(MessageNotFoundError):
        store.get_message(owner, gone.message.id)
    assert count(store, m.Feedback) == 0
    assert count(store, m.MessageImage) == 1
    assert store.image_bytes(owner, shared.sha256) == (b"shared", "image/png")
    assert store.image_bytes(owner, only_here.sha256) is None
    assert count(store, m.Image) == 1
    assert [c.id for c in store.list_conversations(owner)] == [keep]
    with pytest.raises(ConversationNotFoundError):
        store.delete_conversation(owner, gone.conversation_id)


TRICKY_TEXTS = [
    "emoji 👩🏽‍💻🎉 and flags 🇫🇷",
    "مرحبا بالعالم — right-to-left שלום",
    "NUL \x00 inside, control \x07\x1b[31m and \r\n line ends",
    "private use \ue000 and \ue0000 and \ue0001 next to \x00",
    "'; DROP TABLE messages; -- and <script>alert(1)</script> & %_\\",
    "x" * 100_000 + "END",
]


@pytest.mark.parametrize("original", TRICKY_TEXTS, ids=range(len(TRICKY_TEXTS)))
def test_text_round_trips_exactly(store: Store, clock: FakeClock, original: str) -> None:
    owner = guest(store, clock)
    started = ask(store, owner, None, original)
    store.checkpoint_reply(owner, started.reply_id, original, reasoning=original)
    answer(store, owner, started.reply_id, original, status="error", error=original)
    store.rename_conversation(owner, started.conversation_id, original[:150])
    detail = store.get_conversation(owner, started.conversation_id)
    user_message, assistant_message = detail.messages
    assert user_message.text == original
    assert (assistant_message.text, assistant_message.error) == (original, original)
    assert store.get_message(owner, started.message.id).text == original


def test_search_is_case_insensitive_and_treats_wildcards_literally(
    store: Store, clock: FakeClock
) -> None:
    owner = guest(store, clock)
    hit = ask(store, owner, None, "Discount: 50% off_today at the ÉCOLE")
    ask(store, owner, hit.conversation_id, "50 percent offxtoday")
    found = store.search(owner, "50% OFF_")
    assert [h.message_id for h in found] == [hit.message.id]
    assert found[0].conversation_id == hit.conversation_id
    assert "50% off_today" in found[0].snippet
    assert [h.message_id for h in store.search(owner, "école")] == [hit.message.id]
    assert store.search(owner, "%") == found
    assert store.search(owner, "   ") == []
    assert store.search(owner, "nowhere") == []


def test_search_snippet_is_cut_around_the_match(store: Store, clock: FakeClock) -> None:
    owner = guest(store, clock)
    ask(store, owner, None, "a" * 500 + " needle " + "b" * 500)
    (hit,) = store.search(owner, "NEEDLE")
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert "needle" in hit.snippet and len(hit.snippet) < 200


def test_search_finds_reply_text_and_newest_first(store: Store, clock: FakeClock) -> None:
    owner = guest(store, clock)
    first = exchange(store, owner, None, "tea time", "Green TEA is nice")
    assert [h.message_id for h in store.search(owner, "tea")] == [
        first.reply_id,
        first.message.id,
    ]
    assert store.search(owner, "tea")[0].role == "assistant"


# -- versions ---------------------------------------------------------------------------------


def test_regenerating_keeps_the_earlier_reply_as_a_version(store: Store, clock: FakeClock) -> None:
    owner = guest(store, clock)
    first = exchange(store, owner, None, "question", "first answer")
    again = store.revise_turn(owner, first.reply_id, text=None, role_id="r", model="m/2")
    assert again.message == first.message  # the same question, answered again
    answer(store, owner, again.reply_id, "second answer")
    detail = store.get_conversation(owner, first.conversation_id)
    assert [x.text for x in detail.messages] == ["question", "second answer"]
    assert detail.versions[again.reply_id] == (first.reply_id, again.reply_id)
    assert detail.version_of(again.reply_id) == (2, 2)
    assert [(x.id, x.superseded) for x in detail.earlier] == [(first.reply_id, True)]
    # Regenerating from the question's id answers it again too.
    third = store.revise_turn(owner, first.message.id, text=None, role_id="r", model="m")
    detail = store.get_conversation(owner, first.conversation_id)
    assert detail.version_of(third.reply_id) == (3, 3)


def test_editing_an_earlier_message_keeps_the_later_turns_as_an_earlier_version(
    store: Store, clock: FakeClock
) -> None:
    owner = guest(store, clock)
    photo = Picture(b"photo")
    first = exchange(store, owner, None, "first", "one")
    ask_photo = ask(store, owner, first.conversation_id, "second", [photo])
    answer(store, owner, ask_photo.reply_id, "two")
    third = exchange(store, owner, first.conversation_id, "third", "three")
    edited = store.revise_turn(
        owner, ask_photo.message.id, text="second, edited", role_id="r", model="m"
    )
    assert edited.message.parent_id == first.reply_id
    assert [i.sha256 for i in edited.message.images] == [photo.sha256]  # images come along
    detail = store.get_conversation(owner, first.conversation_id)
    assert [x.text for x in detail.messages] == ["first", "one", "second, edited", ""]
    assert detail.version_of(edited.message.id) == (2, 2)
    assert {x.id for x in detail.earlier} == {
        ask_photo.message.id,
        ask_photo.reply_id,
        third.message.id,
        third.reply_id,
    }
    # Going back to the first version shows its whole branch again, down to its newest turn.
    assert store.select_version(owner, ask_photo.message.id) == first.conversation_id
    detail = store.get_conversation(owner, first.conversation_id)
    assert [x.text for x in detail.messages] == ["first", "one", "second", "two", "third", "three"]
    assert detail.version_of(ask_photo.message.id) == (1, 2)


def test_a_reply_to_continue_must_be_the_last_and_stopped_or_cut(
    store: Store, clock: FakeClock
) -> None:
    owner = guest(store, clock)
    first = ask(store, owner, None, "question")
    answer(store, owner, first.reply_id, "Half of", status="stopped", model="m/used")
    resumed = store.resume_reply(owner, first.reply_id)
    assert (resumed.text, resumed.status, resumed.model) == ("Half of", "stopped", "m/used")
    assert store.get_message(owner, first.reply_id).status == "streaming"
    answer(store, owner, first.reply_id, "Half of it", finish_reason="stop")
    with pytest.raises(NotLastReplyError):  # complete: nothing to continue
        store.resume_reply(owner, first.reply_id)
    later = exchange(store, owner, first.conversation_id, "next", "cut", finish_reason="length")
    with pytest.raises(NotLastReplyError):  # no longer the last reply
        store.resume_reply(owner, first.reply_id)
    assert store.resume_reply(owner, later.reply_id).finish_reason == "length"


def test_a_reloaded_reply_is_the_reply_that_was_stored(store: Store, clock: FakeClock) -> None:
    owner = guest(store, clock)
    started = ask(store, owner, None, "question", model="m/asked")
    live = Reply(
        text="Answer",
        reasoning="Because",
        model="provider/m-asked-2026",  # the provider names the model its own way
        requested_model="m/asked",
        model_reason="",
        usage=Usage(prompt_tokens=12, completion_tokens=34, total_tokens=46, cost=0.00042),
        finish_reason="length",
        status=ReplyStatus.COMPLETE,
    )
    store.finish_reply(owner, started.reply_id, live)
    assert Reply.from_message(store.get_message(owner, started.reply_id)) == live
    failed = ask(store, owner, started.conversation_id, "again")
    broken = Reply(
        text="Par",
        requested_model="m",
        status=ReplyStatus.ERROR,
        error="Sentence.",
        error_kind="NetworkError",
    )
    store.finish_reply(owner, failed.reply_id, broken)
    assert Reply.from_message(store.get_message(owner, failed.reply_id)) == broken


def test_versions_are_exported_marked_as_earlier(store: Store, clock: FakeClock) -> None:
    owner = guest(store, clock)
    first = exchange(store, owner, None, "question", "old answer")
    again = store.revise_turn(owner, first.reply_id, text=None, role_id="r", model="m")
    answer(store, owner, again.reply_id, "new answer")
    document = json.loads(store.export_json(owner, first.conversation_id))
    assert [x["text"] for x in document["messages"]] == ["question", "new answer"]
    assert [x["text"] for x in document["earlier_versions"]] == ["old answer"]
    markdown = store.export_markdown(owner, first.conversation_id)
    assert "new answer" in markdown and "old answer" in markdown
    assert markdown.index("old answer") > markdown.index("Earlier versions")
    rows = list(csv.DictReader(io.StringIO(store.export_csv(owner))))
    assert {row["text"]: row["earlier_version"] for row in rows} == {
        "question": "no",
        "new answer": "no",
        "old answer": "yes",
    }


# -- exports ----------------------------------------------------------------------------------


def test_exports_as_markdown_and_json(store: Store, clock: FakeClock) -> None:
    owner = guest(store, clock)
    picture = Picture(b"png bytes")
    started = ask(store, owner, None, "Hi **there**", [picture])
    usage = Usage(prompt_tokens=5)
    answer(store, owner, started.reply_id, "Partial", status="stopped", model="m/used", usage=usage)
    conversation_id = started.conversation_id
    markdown = store.export_markdown(owner, conversation_id)
    assert markdown.startswith("# Hi **there**\n")
    assert "## You" in markdown and "## Assistant (m/used)" in markdown
    assert "Partial\n\n*(stopped before the end)*" in markdown
    assert picture.sha256 in markdown
    document = json.loads(store.export_json(owner, conversation_id))
    assert document["id"] == conversation_id
    assert [x["text"] for x in document["messages"]] == ["Hi **there**", "Partial"]
    assert document["messages"][1]["status"] == "stopped"
    assert document["messages"][1]["prompt_tokens"] == 5
    assert document["messages"][0]["images"][0]["sha256"] == picture.sha256


def test_csv_export_has_every_message_and_defuses_formulas(store: Store, clock: FakeClock) -> None:
    owner = guest(store, clock)
    first = exchange(store, owner, None, '=HYPERLINK("http://x","y")', "-1 is negative")
    exchange(store, owner, None, 'plain, with "quotes"\nand lines', "ok")
    rows = list(csv.DictReader(io.StringIO(store.export_csv(owner))))
    texts = sorted(row["text"] for row in rows)
    assert texts == sorted(
        ['\'=HYPERLINK("http://x","y")', "'-1 is negative", 'plain, with "quotes"\nand lines', "ok"]
    )
    assert {
        row["conversation_title"] for row in rows if row["conversation_id"] == first.conversation_id
    } == {'\'=HYPERLINK("http://x","y")'}


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@x", "\tx", "\rx"])
def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell
    assert safe_cell("a=1") == "a=1"
    assert safe_cell(None) == ""


# -- images, feedback, sentiment --------------------------------------------------------------


def test_images_are_stored_once_and_listed_per_message(store: Store, clock: FakeClock) -> None:
    owner = guest(store, clock)
    a, b = Picture(b"a" * 1000, "image/webp", 10, 20), Picture(b"b")
    started = ask(store, owner, None, "", [a, b])
    ask(store, owner, started.conversation_id, "again", [a])
    refs = store.get_message(owner, started.message.id).images
    assert [(r.sha256, r.mime, r.width, r.height, r.size) for r in refs] == [
        (a.sha256, "image/webp", 10, 20, 1000),
        (b.sha256, "image/png", 2, 3, 1),
    ]
    assert started.message.images == refs
    assert store.get_conversation(owner, started.conversation_id).conversation.title == "Image"
    assert count(store, m.Image) == 2
    assert store.image_bytes(owner, a.sha256) == (a.data, "image/webp")


def test_an_image_whose_hash_does_not_match_its_bytes_is_refused(
    store: Store, clock: FakeClock
) -> None:
    owner = guest(store, clock)

    @dataclass(frozen=True)
    class Lying:
        data: bytes = b"mine"
        mime: str = "image/png"
        width: int = 1
        height: int = 1
        sha256: str = hashlib.sha256(b"someone else's").hexdigest()

    with pytest.raises(ValueError):
        ask(store, owner, None, "x", [Lying()])
    assert store.list_conversations(owner) == []


def test_feedback_can_be_given_changed_and_cleared(store: Store, clock: FakeClock) -> None:
    owner = guest(store, clock)
    reply = ask(store, owner, None, "q").reply_id
    store.set_feedback(owner, reply, "up")
    store.set_feedback(owner, reply, "down", "wrong answer")
    assert store.get_message(owner, reply).feedback == "down"
    assert count(store, m.Feedback) == 1
    store.set_feedback(owner, reply, None)
    assert store.get_message(owner, reply).feedback is None
    with pytest.raises(ValueError):
        store.set_feedback(owner, reply, "sideways")  # type: ignore[arg-type]


def test_sentiment_scores_are_saved_with_the_message_and_the_reply(
    store: Store, clock: FakeClock
) -> None:
    owner = guest(store, clock)
    started = ask(store, owner, None, "I love it", sentiment=Sentiment(0.6, 0.5, 0.5, 0.0))
    answer(store, owner, started.reply_id, "Great!", sentiment=Sentiment(0.7, 0.8, 0.2, 0.0))
    user_message, reply = store.get_conversation(owner, started.conversation_id).messages
    assert user_message.sentiment == Sentiment(0.6, 0.5, 0.5, 0.0)
    assert reply.sentiment == Sentiment(0.7, 0.8, 0.2, 0.0)


# -- custom roles -------------------------------------------------------------------------------


def test_custom_roles_are_created_edited_listed_and_deleted(store: Store, clock: FakeClock) -> None:
    owner = guest(store, clock)
    draft = RoleDraft(
        name="  Pirate   tutor ",
        system_prompt="Talk like a pirate.",
        icon="🏴‍☠️",
        description="Arr",
        starters=["Teach me knots", "  "],
        temperature=1.2,
    )
    role = store.create_role(owner, draft)
    assert (role.slug, role.name, role.starters, role.role_id) == (
        "pirate-tutor",
        "Pirate tutor",
        ("Teach me knots",),
        "custom:pirate-tutor",
    )
    twin = store.create_role(owner, draft)
    assert twin.slug == "pirate-tutor-2"
    edited = store.update_role(owner, role.slug, RoleDraft(name="Sailor", system_prompt="Ahoy"))
    assert (edited.slug, edited.name, edited.temperature) == ("pirate-tutor", "Sailor", None)
    assert store.get_role(owner, role.slug) == edited
    assert [r.slug for r in store.list_roles(owner)] == ["pirate-tutor-2", "pirate-tutor"]
    store.delete_role(owner, role.slug)
    assert [r.slug for r in store.list_roles(owner)] == ["pirate-tutor-2"]
    with pytest.raises(RoleNotFoundError):
        store.get_role(owner, role.slug)


@pytest.mark.parametrize(
    "draft",
    [
        RoleDraft(name=" ", system_prompt="x"),
        RoleDraft(name="x", system_prompt=""),
        RoleDraft(name="x" * 61, system_prompt="x"),
        RoleDraft(name="x", system_prompt="x", temperature=2.5),
        RoleDraft(name="x", system_prompt="x", starters=["s"] * 9),
    ],
)
def test_invalid_roles_are_refused_with_a_sentence(
    store: Store, clock: FakeClock, draft: RoleDraft
) -> None:
    owner = guest(store, clock)
    with pytest.raises(RoleInputError) as raised:
        store.create_role(owner, draft)
    assert isinstance(raised.value, AssistantError) and str(raised.value).endswith(".")
    assert store.list_roles(owner) == []


# -- guests -----------------------------------------------------------------------------------


def test_claiming_a_guest_moves_its_history_and_roles(store: Store, clock: FakeClock) -> None:
    visitor = guest(store, clock)
    account = store.users.create_user("ada", "ada", "hash", clock()).id
    store.create_role(account, RoleDraft(name="Coach", system_prompt="a"))
    role = store.create_role(visitor, RoleDraft(name="Coach", system_prompt="b"))
    picture = Picture(b"guest picture")
    started = ask(store, visitor, None, "as a guest", [picture], role_id=role.role_id)
    store.set_feedback(visitor, started.reply_id, "up")
    assert store.users.claim_guest(visitor, account) == 1
    detail = store.get_conversation(account, started.conversation_id)
    assert [x.text for x in detail.messages] == ["as a guest", ""]
    assert detail.messages[1].feedback == "up"
    assert detail.conversation.role_id == "custom:coach-2"
    assert store.get_role(account, "coach-2").system_prompt == "b"
    assert store.image_bytes(account, picture.sha256) == (picture.data, "image/png")
    assert store.users.get_user(visitor) is None
    with pytest.raises(NotFoundError):
        store.get_message(visitor, started.message.id)


def test_only_a_guest_can_be_claimed(store: Store, clock: FakeClock) -> None:
    victim = store.users.create_user("victim", "victim", "hash", clock()).id
    thief = store.users.create_user("thief", "thief", "hash", clock()).id
    conversation_id = ask(store, victim, None, "mine").conversation_id
    assert store.users.claim_guest(victim, thief) == 0
    assert store.list_conversations(thief) == []
    assert store.get_conversation(victim, conversation_id).messages[0].text == "mine"
