"""The My roles page: members create, edit and delete their own roles; guests are told why not."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streamlit.testing.v1 import AppTest

from assistant.roles import builtin_roles, roles_for
from assistant.store import RoleDraft
from ui import links, state

if TYPE_CHECKING:
    from tests.fake_openrouter import FakeOpenRouter
    from tests.page_harness import Pages


def field(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    """The editor's input with this label (text input, text area, toggle or slider)."""
    for widgets in (at.text_input, at.text_area, at.toggle, at.slider):
        for widget in widgets:
            if widget.label == label:
                return widget
    raise AssertionError(f"no field labelled {label!r}")


def press(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click()


def open_editor(pages: Pages, at: AppTest, template: str = "") -> AppTest:
    at.selectbox[0].set_value(template)
    press(at, "New role")
    return pages.run(at)


def test_a_guest_is_told_roles_need_an_account(pages: Pages) -> None:
    at = pages.open(links.ROLES)
    assert any("need an account" in i.value for i in at.info)
    assert [link.proto.page for link in at.page_link] == ["account"]
    assert not at.button and not at.form
    assert pages.store.list_roles(at.session_state[state.USER_ID]) == []


def test_create_a_role_from_scratch(pages: Pages) -> None:
    ada = pages.member()
    at = pages.open(links.ROLES, token=ada.token)
    assert any("no roles of your own" in c.value for c in at.caption)
    open_editor(pages, at)
    assert field(at, "Name").value == ""

    field(at, "Name").input("Plant doctor")
    field(at, "Icon").input("🌱")
    field(at, "Description").input("Keeps houseplants alive")
    field(at, "Instructions (system prompt)").input("You diagnose houseplant problems.")
    field(at, "Starter questions, one per line").input(
        "Why are my leaves yellow?\n\nHow much water?"
    )
    press(at, "Save")
    pages.run(at)

    [role] = pages.store.list_roles(ada.user.id)
    assert (role.name, role.icon, role.description) == (
        "Plant doctor",
        "🌱",
        "Keeps houseplants alive",
    )
    assert role.system_prompt == "You diagnose houseplant problems."
    assert role.starters == ("Why are my leaves yellow?", "How much water?")
    assert role.temperature is None  # "use the provider's default" starts on
    assert any("Saved" in s.value for s in at.success)
    assert at.session_state[state.ROLES_EDITING] is None
    assert role.role_id in roles_for(pages.store, ada.user)


def test_a_new_role_can_start_from_a_built_in_one(pages: Pages) -> None:
    ada = pages.member()
    legal = builtin_roles()["legal"]
    at = pages.open(links.ROLES, token=ada.token)
    open_editor(pages, at, "legal")

    assert field(at, "Name").value == f"{legal.name} (my version)"
    assert field(at, "Instructions (system prompt)").value == legal.system_prompt
    assert field(at, "Starter questions, one per line").value == "\n".join(legal.starters)

    field(at, "Use the provider's default temperature").set_value(False)
    field(at, "Temperature").set_value(0.3)
    press(at, "Save")
    pages.run(at)

    [role] = pages.store.list_roles(ada.user.id)
    assert role.system_prompt == legal.system_prompt
    assert role.temperature == 0.3


def test_edit_a_role_keeps_its_id(pages: Pages) -> None:
    ada = pages.member()
    made = pages.store.create_role(
        ada.user.id, RoleDraft(name="Chef", system_prompt="You cook.", temperature=1.2)
    )
    at = pages.open(links.ROLES, token=ada.token)

    at.button(key=f"edit_role_{made.slug}").click()
    pages.run(at)
    assert field(at, "Name").value == "Chef"
    assert field(at, "Temperature").value == 1.2
    assert field(at, "Use the provider's default temperature").value is False
    field(at, "Name").input("Pastry chef")
    field(at, "Instructions (system prompt)").input("You bake.")
    press(at, "Save")
    pages.run(at)

    [role] = pages.store.list_roles(ada.user.id)
    assert (role.slug, role.name, role.system_prompt) == (made.slug, "Pastry chef", "You bake.")


def test_an_invalid_role_shows_the_stores_sentence_and_stays_open(pages: Pages) -> None:
    ada = pages.member()
    at = pages.open(links.ROLES, token=ada.token)
    open_editor(pages, at)
    field(at, "Name").input("No instructions")
    press(at, "Save")
    pages.run(at)

    assert [e.value for e in at.error] == ["A role needs instructions of 1 to 20000 characters."]
    assert at.session_state[state.ROLES_EDITING] == ""
    assert pages.store.list_roles(ada.user.id) == []


def test_cancel_leaves_the_editor_without_saving(pages: Pages) -> None:
    ada = pages.member()
    at = pages.open(links.ROLES, token=ada.token)
    open_editor(pages, at)
    field(at, "Name").input("Never mind")
    press(at, "Cancel")
    pages.run(at)
    assert at.session_state[state.ROLES_EDITING] is None
    assert pages.store.list_roles(ada.user.id) == []


def test_delete_asks_for_confirmation_first(pages: Pages) -> None:
    ada = pages.member()
    made = pages.store.create_role(ada.user.id, RoleDraft(name="Temp", system_prompt="x"))
    at = pages.open(links.ROLES, token=ada.token)

    at.button(key=f"delete_role_{made.slug}").click()
    pages.run(at)
    assert any("Delete" in w.value for w in at.warning)
    assert len(pages.store.list_roles(ada.user.id)) == 1

    at.button(key=f"confirm_delete_role_{made.slug}").click()
    pages.run(at)
    assert pages.store.list_roles(ada.user.id) == []
    assert any("Deleted" in s.value for s in at.success)


def test_a_member_sees_only_their_own_roles(pages: Pages) -> None:
    ada, bob = pages.member("ada"), pages.member("bob")
    pages.store.create_role(bob.user.id, RoleDraft(name="Bob's role", system_prompt="x"))
    at = pages.open(links.ROLES, token=ada.token)
    assert not any("Bob" in m.value for m in at.markdown)
    assert not [b for b in at.button if b.key and b.key.startswith("edit_role_")]


def test_a_saved_role_is_used_in_the_chat_like_a_built_in_one(
    pages: Pages, fake: FakeOpenRouter
) -> None:
    ada = pages.member()
    at = pages.open(links.ROLES, token=ada.token)
    open_editor(pages, at)
    field(at, "Name").input("Pirate")
    field(at, "Description").input("Arr")
    field(at, "Instructions (system prompt)").input("Answer like a pirate.")
    field(at, "Use the provider's default temperature").set_value(False)
    field(at, "Temperature").set_value(1.5)
    press(at, "Save")
    pages.run(at)
    [role] = pages.store.list_roles(ada.user.id)

    pages.now_on(at, links.CHAT)
    pages.run(at)
    at.selectbox(key=state.ROLE_ID).set_value(role.role_id)
    pages.run(at)
    at.chat_input[0].set_value("Where is the treasure?")
    pages.run(at)

    system = {"role": "system", "content": "Answer like a pirate."}
    [request] = [r.json for r in fake.chat_requests if r.json["messages"][0] == system]
    assert request["messages"][-1] == {"role": "user", "content": "Where is the treasure?"}
    assert request["temperature"] == 1.5
    [chat] = pages.store.list_conversations(ada.user.id)
    assert chat.role_id == role.role_id


def test_a_role_without_a_description_does_not_break_the_chat(pages: Pages) -> None:
    ada = pages.member()
    pages.store.create_role(ada.user.id, RoleDraft(name="Terse", system_prompt="Be brief."))
    at = pages.open(links.CHAT, token=ada.token)
    assert "🧩 Terse" in at.selectbox(key=state.ROLE_ID).options  # labels, by role id
