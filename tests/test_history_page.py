"""The History page: list, open and continue, rename, delete, search, exports."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

import pytest
from streamlit.testing.v1 import AppTest

from assistant.roles import roles_for
from assistant.store import ConversationNotFoundError, RoleDraft
from ui import conversation, history_view, links, state

if TYPE_CHECKING:
    from tests.page_harness import Pages


def titles(at: AppTest) -> list[str]:
    """The bold first line of each conversation row, in page order."""
    return [
        m.value.strip("*") for m in at.markdown if m.value.startswith("**") and " · " not in m.value
    ]


def click(at: AppTest, key: str) -> None:
    at.button(key=key).click()


def test_a_new_guest_sees_the_empty_state_and_a_note_about_accounts(pages: Pages) -> None:
    at = pages.open(links.HISTORY)
    assert any("No conversations yet" in c.value for c in at.caption)
    assert any("Create an account to keep them" in i.value for i in at.info)
    links_shown = [(link.proto.label, bool(link.proto.page_script_hash)) for link in at.page_link]
    assert links_shown == [("Create an account or sign in", True), ("Start a chat", True)]
    assert not at.download_button


def test_conversations_are_listed_newest_first_with_their_role(pages: Pages) -> None:
    ada = pages.member()
    pages.seed_chat(ada.user.id, "Oldest question", "a")
    pages.seed_chat(ada.user.id, "Middle question", "b", role_id="legal")
    pages.seed_chat(ada.user.id, "Newest question", "c")

    at = pages.open(links.HISTORY, token=ada.token)

    assert titles(at) == ["Newest question", "Middle question", "Oldest question"]
    legal = roles_for(pages.store, ada.user)["legal"]
    assert any(c.value.startswith(legal.label) for c in at.caption)
    assert not at.info  # members get no guest note


def test_another_users_conversations_never_show(pages: Pages) -> None:
    ada, bob = pages.member("ada"), pages.member("bob")
    pages.seed_chat(bob.user.id, "Bob's private chat", "x")
    at = pages.open(links.HISTORY, token=ada.token)
    assert titles(at) == []


def test_open_shows_the_conversation_in_the_chat_and_continues_it(pages: Pages) -> None:
    ada = pages.member()
    chat_id = pages.seed_chat(ada.user.id, "My phone is slow", "Try a restart.")
    at = pages.open(links.HISTORY, token=ada.token)

    click(at, f"open_{chat_id}")
    pages.run(at)

    assert at.session_state[state.CONVERSATION_ID] == chat_id
    assert at.query_params[conversation.QUERY_KEY] == chat_id
    assert [m.markdown[0].value for m in at.chat_message] == ["My phone is slow", "Try a restart."]

    pages.now_on(at, links.CHAT)
    at.chat_input[0].set_value("It is still slow")
    pages.run(at)

    stored = pages.store.get_conversation(ada.user.id, chat_id).messages
    assert [m.text for m in stored][2:] == ["It is still slow", "Echo: It is still slow"]
    assert len(pages.store.list_conversations(ada.user.id)) == 1


def test_rename_changes_the_stored_title(pages: Pages) -> None:
    ada = pages.member()
    chat_id = pages.seed_chat(ada.user.id, "untitled thing", "ok")
    at = pages.open(links.HISTORY, token=ada.token)

    click(at, f"rename_{chat_id}")
    pages.run(at)
    next(w for w in at.text_input if w.label == "New title").input("Battery questions")
    next(b for b in at.button if b.label == "Save").click()
    pages.run(at)

    assert pages.store.get_conversation(ada.user.id, chat_id).conversation.title == (
        "Battery questions"
    )
    assert titles(at) == ["Battery questions"]
    assert at.session_state[history_view.RENAMING] == ""


def test_delete_asks_for_confirmation_first(pages: Pages) -> None:
    ada = pages.member()
    keep = pages.seed_chat(ada.user.id, "Keep this one", "ok")
    doomed = pages.seed_chat(ada.user.id, "Delete this one", "ok")
    at = pages.open(links.HISTORY, token=ada.token)

    click(at, f"delete_{doomed}")
    pages.run(at)
    assert any("cannot be undone" in w.value for w in at.warning)
    assert pages.store.get_conversation(ada.user.id, doomed)  # nothing deleted yet

    click(at, f"cancel_delete_{doomed}")
    pages.run(at)
    assert not at.warning
    assert len(pages.store.list_conversations(ada.user.id)) == 2

    click(at, f"delete_{doomed}")
    pages.run(at)
    click(at, f"confirm_delete_{doomed}")
    pages.run(at)

    assert [c.id for c in pages.store.list_conversations(ada.user.id)] == [keep]
    assert titles(at) == ["Keep this one"]
    assert any("Deleted" in s.value for s in at.success)


def test_deleting_the_open_conversation_clears_the_chat(pages: Pages) -> None:
    ada = pages.member()
    chat_id = pages.seed_chat(ada.user.id, "Open me", "ok")
    at = pages.open(links.HISTORY, token=ada.token)
    click(at, f"open_{chat_id}")
    pages.run(at)
    assert at.session_state[state.CONVERSATION_ID] == chat_id
    pages.now_on(at, links.HISTORY)
    pages.run(at)

    click(at, f"delete_{chat_id}")
    pages.run(at)
    click(at, f"confirm_delete_{chat_id}")
    pages.run(at)

    assert at.session_state[state.CONVERSATION_ID] == ""
    assert at.session_state[state.MESSAGES] == []


def test_search_finds_the_users_own_messages_only(pages: Pages) -> None:
    ada, bob = pages.member("ada"), pages.member("bob")
    pages.seed_chat(ada.user.id, "The router keeps dropping Wi-Fi", "Update its firmware.")
    pages.seed_chat(ada.user.id, "Printer jam", "Open the tray.")
    pages.seed_chat(bob.user.id, "My router is haunted", "Unplug it.")
    at = pages.open(links.HISTORY, token=ada.token)

    at.text_input(key="history_search").input("ROUTER")
    pages.run(at)

    snippets = [t.value for t in at.text]
    assert len(snippets) == 1 and "router keeps dropping" in snippets[0]
    assert any(c.value == "1 match" for c in at.caption)

    at.text_input(key="history_search").input("haunted")
    pages.run(at)
    assert not at.text
    assert any(c.value == "No messages match." for c in at.caption)


def test_a_search_hit_opens_its_conversation(pages: Pages) -> None:
    ada = pages.member()
    chat_id = pages.seed_chat(ada.user.id, "Where is the reset button?", "On the back.")
    at = pages.open(links.HISTORY, token=ada.token)
    at.text_input(key="history_search").input("reset")
    pages.run(at)

    hit = next(b for b in at.button if b.key and b.key.startswith("hit_"))
    hit.click()
    pages.run(at)

    assert at.session_state[state.CONVERSATION_ID] == chat_id
    assert at.chat_message[1].markdown[0].value == "On the back."


def test_export_buttons_are_drawn_for_each_conversation_and_for_everything(
    pages: Pages,
) -> None:
    ada = pages.member()
    chat_id = pages.seed_chat(ada.user.id, "Export me", "ok")
    at = pages.open(links.HISTORY, token=ada.token)
    assert {b.key for b in at.download_button} == {
        "export_csv",
        f"markdown_{chat_id}",
        f"json_{chat_id}",
    }


def test_exports_carry_the_conversation_and_only_the_users_messages(pages: Pages) -> None:
    ada, bob = pages.member("ada"), pages.member("bob")
    chat_id = pages.seed_chat(ada.user.id, "=SUM(A1) and 🔋 «quotes»", "Fine.")
    pages.seed_chat(bob.user.id, "Bob's secret", "Hush.")
    chat = pages.store.list_conversations(ada.user.id)[0]

    markdown, as_json = history_view.conversation_downloads(pages.store, ada.user.id, chat)
    assert (markdown.mime, as_json.mime) == ("text/markdown", "application/json")
    assert markdown.build() == pages.store.export_markdown(ada.user.id, chat_id)
    assert "=SUM(A1) and 🔋 «quotes»" in markdown.build()
    document = json.loads(as_json.build())
    assert document["id"] == chat_id
    assert [m["text"] for m in document["messages"]] == ["=SUM(A1) and 🔋 «quotes»", "Fine."]

    everything = history_view.all_messages_download(pages.store, ada.user.id)
    assert everything.mime == "text/csv" and everything.file_name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(everything.build())))
    assert [r["text"] for r in rows] == ["'=SUM(A1) and 🔋 «quotes»", "Fine."]
    assert "Bob" not in everything.build()


def test_an_export_is_scoped_to_the_owner_it_was_drawn_for(pages: Pages) -> None:
    ada, bob = pages.member("ada"), pages.member("bob")
    pages.seed_chat(ada.user.id, "Mine", "ok")
    chat = pages.store.list_conversations(ada.user.id)[0]
    markdown, as_json = history_view.conversation_downloads(pages.store, bob.user.id, chat)
    for download in (markdown, as_json):
        with pytest.raises(ConversationNotFoundError):
            download.build()


def test_export_file_names_keep_safe_characters_only() -> None:
    assert history_view.export_filename("Battery: why so fast?", "md") == "Battery-why-so-fast.md"
    assert history_view.export_filename("../../etc/passwd", "json") == "etc-passwd.json"
    assert history_view.export_filename("Café crème", "md") == "Cafe-creme.md"
    assert history_view.export_filename("🔋🔋", "md") == "conversation.md"
    assert len(history_view.export_filename("x" * 500, "json")) <= 65


def test_rows_name_custom_and_deleted_roles(pages: Pages) -> None:
    ada = pages.member()
    mine = pages.store.create_role(ada.user.id, RoleDraft(name="Terse", system_prompt="Brief."))
    gone = pages.store.create_role(ada.user.id, RoleDraft(name="Gone", system_prompt="x"))
    pages.seed_chat(ada.user.id, "With my role", "ok", role_id=mine.role_id)
    pages.seed_chat(ada.user.id, "With a deleted role", "ok", role_id=gone.role_id)
    pages.store.delete_role(ada.user.id, gone.slug)

    at = pages.open(links.HISTORY, token=ada.token)

    captions = [c.value for c in at.caption]
    assert any(c.startswith("🧩 Terse · updated") for c in captions)
    assert any(c.startswith("A deleted role · updated") for c in captions)
