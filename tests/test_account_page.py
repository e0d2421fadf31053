"""The Account page: register, sign in, sign out, change password, delete the account, SSO."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from assistant.accounts import SignInError
from ui import account_forms, links, services, state

if TYPE_CHECKING:
    from tests.page_harness import BrowserConnection, Pages


def form(at: AppTest, form_id: str) -> Block:
    return next(block for block in at.form if block.key == form_id)


def fill(at: AppTest, form_id: str, **fields: str) -> AppTest:
    """Type into a form's fields (by label) and press its first button."""
    block = form(at, form_id)
    for label, value in fields.items():
        field = next(w for w in block.text_input if w.label == label)
        field.input(value)
    block.button[0].click()
    return at.run()


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def signed_in_as(at: AppTest) -> str:
    user = at.session_state[state.USER]
    return "" if user.is_guest else str(user.label)


def test_a_guest_is_offered_sign_in_and_registration(pages: Pages) -> None:
    at = pages.open(links.ACCOUNT)
    assert {block.key for block in at.form} == {"sign_in", "register"}
    assert at.session_state[state.USER].is_guest
    assert not [b for b in at.button if "single sign-on" in b.label]
    passwords = [w for w in at.text_input if w.label.endswith("assword")]
    assert passwords and all(w.proto.type == w.proto.PASSWORD for w in passwords)


def test_registering_keeps_the_guest_conversation(pages: Pages) -> None:
    at = pages.open(links.ACCOUNT)
    guest_id = pages.saved_guest(at)
    chat_id = pages.seed_chat(guest_id, "Keep me", "Kept.")

    fill(
        at,
        "register",
        Username="grace",
        Password=pages.password,
        **{"Confirm password": pages.password},
    )

    assert not at.exception
    assert signed_in_as(at) == "grace"
    assert any("is ready" in s.value for s in at.success)
    member_id = at.session_state[state.USER_ID]
    assert member_id != guest_id
    assert [c.id for c in pages.store.list_conversations(member_id)] == [chat_id]
    assert form(at, "change_password")  # the page is now the member's


def test_registration_shows_the_core_sentence_and_checks_the_confirmation(pages: Pages) -> None:
    at = pages.open(links.ACCOUNT)
    fill(
        at,
        "register",
        Username="grace",
        Password=pages.password,
        **{"Confirm password": pages.password + "x"},
    )
    assert errors(at) == [account_forms.MISMATCH]

    fill(at, "register", Username="grace", Password="short", **{"Confirm password": "short"})
    assert errors(at) == ["Please use a password of at least 8 characters."]
    pages.member("taken")
    fill(
        at,
        "register",
        Username="taken",
        Password=pages.password,
        **{"Confirm password": pages.password},
    )
    assert errors(at) == ["That username is not available. Please choose another."]
    assert at.session_state[state.USER].is_guest


@pytest.mark.parametrize("username", ["ada", "nobody-here"])
def test_a_wrong_sign_in_gives_the_same_neutral_sentence(pages: Pages, username: str) -> None:
    pages.member("ada")
    at = pages.open(links.ACCOUNT)
    fill(at, "sign_in", Username=username, Password="not-the-password-1")
    assert errors(at) == [SignInError.sentence]
    assert at.session_state[state.USER].is_guest


def test_signing_in_brings_the_guest_conversation_along(pages: Pages) -> None:
    ada = pages.member("ada")
    at = pages.open(links.ACCOUNT)
    chat_id = pages.seed_chat(pages.saved_guest(at), "As a guest", "Noted.")

    fill(at, "sign_in", Username="ada", Password=pages.password)

    assert signed_in_as(at) == "ada"
    assert at.session_state[state.USER_ID] == ada.user.id
    assert any("Welcome back, ada." in s.value for s in at.success)
    assert [c.id for c in pages.store.list_conversations(ada.user.id)] == [chat_id]


def test_repeated_failures_are_throttled_with_a_sentence_saying_how_long(pages: Pages) -> None:
    pages.member("ada")
    at = pages.open(links.ACCOUNT)
    for _ in range(6):
        fill(at, "sign_in", Username="ada", Password="not-the-password-1")
    assert errors(at)[0].startswith("Too many failed attempts. Please wait")
    fill(at, "sign_in", Username="ada", Password=pages.password)  # even the right one waits
    assert errors(at)[0].startswith("Too many failed attempts")
    assert at.session_state[state.USER].is_guest


def test_signing_out_ends_the_session_and_starts_a_new_guest(pages: Pages) -> None:
    ada = pages.member("ada")
    at = pages.open(links.ACCOUNT, token=ada.token)
    assert any("Signed in as **ada**" in m.value for m in at.markdown)

    next(b for b in at.button if b.label == "Sign out").click()
    pages.run(at)

    assert pages.accounts.current_user(ada.token) is None
    assert at.session_state[state.USER].is_guest
    assert at.session_state[state.USER_ID] != ada.user.id
    assert any("signed out" in i.value for i in at.info)
    assert {block.key for block in at.form} == {"sign_in", "register"}


def test_changing_the_password(pages: Pages) -> None:
    ada = pages.member("ada")
    other_device = pages.accounts.sign_in("ada", pages.password)
    at = pages.open(links.ACCOUNT, token=ada.token)
    new = "a-brand-new-passphrase"

    fill(
        at,
        "change_password",
        **{
            "Current password": "wrong-password-123",
            "New password": new,
            "Confirm new password": new,
        },
    )
    assert errors(at) == [SignInError.sentence]

    fill(
        at,
        "change_password",
        **{
            "Current password": pages.password,
            "New password": new,
            "Confirm new password": new,
        },
    )
    assert any("password was changed" in s.value for s in at.success)
    assert pages.accounts.current_user(ada.token) is not None  # this session goes on
    assert pages.accounts.current_user(other_device.token) is None
    with pytest.raises(SignInError):
        pages.accounts.sign_in("ada", pages.password)
    assert pages.accounts.sign_in("ada", new).user.id == ada.user.id


def test_deleting_the_account_needs_the_username_and_password(pages: Pages) -> None:
    ada = pages.member("ada")
    chat_id = pages.seed_chat(ada.user.id, "Secret plans", "Safe with me.")
    at = pages.open(links.ACCOUNT, token=ada.token)
    confirm = "Type `ada` to confirm"

    fill(at, "delete_account", **{confirm: "ad", "Password": pages.password})
    assert errors(at) == ["Type ada exactly to confirm."]
    fill(at, "delete_account", **{confirm: "ada", "Password": "wrong-password-123"})
    assert errors(at) == [SignInError.sentence]
    assert pages.store.list_conversations(ada.user.id)[0].id == chat_id

    fill(at, "delete_account", **{confirm: "ada", "Password": pages.password})

    assert any("were deleted" in i.value for i in at.info)
    assert at.session_state[state.USER].is_guest
    assert pages.accounts.current_user(ada.token) is None
    assert pages.store.list_conversations(ada.user.id) == []
    with pytest.raises(SignInError):
        pages.accounts.sign_in("ada", pages.password)


@pytest.fixture
def fresh_secrets() -> Iterator[None]:
    """The app reads secrets once per process; a test that sets its own starts afresh."""
    services._secrets.clear()
    yield
    services._secrets.clear()


def test_single_sign_on_is_offered_when_configured(pages: Pages, fresh_secrets: None) -> None:
    at = AppTest.from_file("../app.py", default_timeout=30)
    at.secrets["auth"] = {"client_id": "x", "server_metadata_url": "https://idp.example/.wk"}
    at.user = {"is_logged_in": False}
    at.switch_page("pages/account.py")
    pages.run(at)
    assert [b.label for b in at.button if "single sign-on" in b.label] == [
        "Sign in with single sign-on"
    ]


def test_a_single_sign_on_account_has_no_password_to_give(pages: Pages) -> None:
    signed = pages.accounts.sign_in_with_oidc("https://idp.example", "sub-1", None, "Lin")
    at = pages.open(links.ACCOUNT, token=signed.token)
    assert any("Signed in as **Lin**" in m.value for m in at.markdown)
    assert "change_password" not in {block.key for block in at.form}

    fill(at, "delete_account", **{"Type `delete my account` to confirm": "delete my account"})

    assert at.session_state[state.USER].is_guest
    assert pages.accounts.current_user(signed.token) is None


def test_failures_from_one_address_are_throttled_across_usernames(
    pages: Pages, browser: BrowserConnection
) -> None:
    at = pages.open(links.ACCOUNT)
    for n in range(21):  # the per-client budget is 20 free failures, whatever the username
        fill(at, "sign_in", Username=f"user{n}", Password="not-the-password-1")
    assert errors(at)[0].startswith("Too many failed attempts")

    browser.remote_ip = "198.51.100.20"  # another client is not held back
    fill(at, "sign_in", Username="someone-else", Password="not-the-password-1")
    assert errors(at) == [SignInError.sentence]
