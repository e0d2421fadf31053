"""Who a browser is, through the pages (AppTest): lazy guests, cookie tickets, device cookies,
the server-resolved client address, and the Account page's delete section."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from assistant.accounts import GuestLimitError, SignInError
from assistant.cookie_tickets import DEVICE_COOKIE, SESSION_COOKIE, CookieTickets
from assistant.proxies import CLIENT_ADDRESS_HEADER
from assistant.store import models as m
from assistant.tokens import new_token
from tests.page_harness import ENTRY, page_path
from tests.test_account_page import errors, fill, signed_in_as
from ui import account_forms, links, state

if TYPE_CHECKING:
    from tests.page_harness import BrowserConnection, Pages

ALL_PAGES = [links.CHAT, links.HISTORY, links.ACCOUNT, links.ROLES, links.SENTIMENT, links.BATCH]


def rows(pages: Pages, model: type[m.Base]) -> int:
    with pages.store._db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def send(at: AppTest, text: str) -> AppTest:
    at.chat_input[0].set_value(text).run()
    assert not at.exception, at.exception
    return at


def tickets_drawn(at: AppTest) -> list[dict[str, Any]]:
    """The data of every cookie-ticket component on the page."""
    found = []
    for element in at.get("bidi_component"):
        if element.proto.component_name.endswith("assistant_cookie_ticket"):
            found.append(json.loads(element.proto.json))
    return found


# -- guests cost nothing until they write -----------------------------------------------------


@pytest.mark.parametrize("page", ALL_PAGES, ids=lambda p: p.stem)
def test_a_new_browser_can_open_any_page_without_a_row_being_written(
    pages: Pages, page: Any
) -> None:
    at = pages.open(page)
    user = at.session_state[state.USER]
    assert user.is_guest and not user.is_saved and user.id == 0
    pages.run(at)  # and again: a rerun writes nothing either
    assert rows(pages, m.User) == 0 and rows(pages, m.AuthSession) == 0
    assert tickets_drawn(at) == []


def test_the_first_message_saves_the_guest_under_the_browsers_cookie(
    pages: Pages, browser: BrowserConnection
) -> None:
    cookie = new_token()  # what the server's first page gave this browser
    browser.cookies[SESSION_COOKIE] = cookie
    at = pages.open(links.CHAT)
    assert rows(pages, m.User) == 0

    send(at, "Keep this one")

    guest = pages.accounts.current_user(cookie)
    assert guest is not None and guest.is_guest and guest.id == at.session_state[state.USER_ID]
    (chat,) = pages.store.list_conversations(guest.id)
    assert chat.id == at.session_state[state.CONVERSATION_ID]
    assert rows(pages, m.User) == 1 and rows(pages, m.AuthSession) == 1
    assert tickets_drawn(at) == []  # the browser already holds this token: nothing to hand over
    send(at, "and a second message")
    assert rows(pages, m.User) == 1  # saved once


def test_a_browser_without_a_cookie_gets_it_through_a_ticket_that_does_not_carry_the_token(
    pages: Pages,
) -> None:
    at = pages.open(links.CHAT)
    send(at, "no cookie here")
    token = at.session_state[state.TOKEN]
    (drawn,) = tickets_drawn(at)
    assert set(drawn) == {"ticket", "url"} and drawn["url"] == "/auth/session"
    assert token not in json.dumps(drawn)
    cookies = CookieTickets(pages.store).redeem(drawn["ticket"], presented=None)
    assert cookies is not None and cookies.session == token
    pages.run(at)  # the next run sees the ticket redeemed and stops offering it
    assert tickets_drawn(at) == []
    assert at.session_state[state.BROWSER_TOKEN] == token


def test_new_guests_from_one_address_are_limited(pages: Pages, browser: BrowserConnection) -> None:
    browser.headers = [(CLIENT_ADDRESS_HEADER, "198.51.100.7")]
    for _ in range(50):  # the limit: 50 new guests per address in 10 minutes
        pages.accounts.start_guest(client_key="ip:198.51.100.7")
    at = pages.open(links.CHAT)
    send(at, "one guest too many")
    assert GuestLimitError.sentence in [w.value for w in at.warning]
    assert at.session_state[state.CONVERSATION_ID] == ""  # nothing stored, nothing shown
    assert rows(pages, m.User) == 50

    browser.headers = [(CLIENT_ADDRESS_HEADER, "198.51.100.8")]  # another address
    other = pages.open(links.CHAT)
    send(other, "a guest from elsewhere")
    assert other.session_state[state.CONVERSATION_ID]


# -- the cookie changes only through tickets --------------------------------------------------


def test_signing_in_rotates_the_token_and_hands_it_over_bound_to_the_old_cookie(
    pages: Pages, browser: BrowserConnection
) -> None:
    pages.member("ada")
    old = new_token()
    browser.cookies[SESSION_COOKIE] = old
    at = pages.open(links.ACCOUNT)
    fill(at, "sign_in", Username="ada", Password=pages.password)
    assert signed_in_as(at) == "ada"
    new = at.session_state[state.TOKEN]
    assert new != old  # no session fixation
    (drawn,) = tickets_drawn(at)
    assert new not in json.dumps(drawn)
    tickets = CookieTickets(pages.store)
    assert tickets.redeem(drawn["ticket"], presented=new_token()) is None  # not this browser
    cookies = tickets.redeem(drawn["ticket"], presented=old)
    assert cookies is not None and cookies.session == new and cookies.device
    assert tickets.redeem(drawn["ticket"], presented=old) is None  # once only


def test_signing_out_hands_the_browser_a_fresh_guest_token(pages: Pages) -> None:
    ada = pages.member("ada")
    at = pages.open(links.ACCOUNT, token=ada.token)
    next(b for b in at.button if b.label == "Sign out").click()
    pages.run(at)
    fresh = at.session_state[state.TOKEN]
    assert fresh != ada.token and pages.accounts.current_user(ada.token) is None
    (drawn,) = tickets_drawn(at)
    cookies = CookieTickets(pages.store).redeem(drawn["ticket"], presented=None)
    assert cookies is not None and cookies.session == fresh


def test_single_sign_on_opens_a_new_session_handed_over_by_ticket(pages: Pages) -> None:
    from ui import services

    services._secrets.clear()
    try:
        at = AppTest.from_file(ENTRY, default_timeout=30)
        at.secrets["auth"] = {"client_id": "x", "server_metadata_url": "https://idp.example/.wk"}
        at.user = {"is_logged_in": True, "iss": "https://idp.example", "sub": "s-1", "name": "Lin"}
        at.switch_page(page_path(links.ACCOUNT))
        pages.run(at)
        assert signed_in_as(at) == "Lin"
        token = at.session_state[state.TOKEN]
        (drawn,) = tickets_drawn(at)
        cookies = CookieTickets(pages.store).redeem(drawn["ticket"], presented=None)
        assert cookies is not None and cookies.session == token
    finally:
        services._secrets.clear()


# -- throttling never locks the owner out ------------------------------------------------------


def test_a_browser_that_signed_in_before_is_let_in_while_the_account_is_throttled(
    pages: Pages, browser: BrowserConnection
) -> None:
    ada = pages.member("ada")
    assert ada.device_token
    for n in range(12):  # an attacker from many addresses
        with pytest.raises(SignInError):
            pages.accounts.sign_in("ada", "wrong-guess-123", client_key=f"ip:192.0.2.{n}")
    stranger = pages.open(links.ACCOUNT)  # the right password from an untrusted browser waits
    fill(stranger, "sign_in", Username="ada", Password=pages.password)
    assert errors(stranger)[0].startswith("Too many failed attempts")

    browser.cookies[DEVICE_COOKIE] = ada.device_token  # the owner's own browser
    owner = pages.open(links.ACCOUNT)
    fill(owner, "sign_in", Username="ada", Password=pages.password)
    assert signed_in_as(owner) == "ada"


def test_the_address_the_server_resolved_is_what_sign_in_failures_count_against(
    pages: Pages, browser: BrowserConnection
) -> None:
    browser.remote_ip = "203.0.113.7"  # the connection: a proxy, say
    browser.headers = [(CLIENT_ADDRESS_HEADER, "198.51.100.30")]
    at = pages.open(links.ACCOUNT)
    for n in range(21):  # the per-client budget is 20 free failures, whatever the username
        fill(at, "sign_in", Username=f"user{n}", Password="not-the-password-1")
    assert errors(at)[0].startswith("Too many failed attempts")
    browser.headers = [(CLIENT_ADDRESS_HEADER, "198.51.100.31")]  # same proxy, another client
    fill(at, "sign_in", Username="someone-else", Password="not-the-password-1")
    assert errors(at) == [SignInError.sentence]


def test_failures_with_a_stolen_device_cookie_are_throttled_for_that_device(
    pages: Pages, browser: BrowserConnection
) -> None:
    ada = pages.member("ada")
    browser.cookies[DEVICE_COOKIE] = str(ada.device_token)
    at = pages.open(links.ACCOUNT)
    for _ in range(6):
        fill(at, "sign_in", Username="ada", Password="stolen-cookie-guess")
    assert errors(at)[0].startswith("Too many failed attempts")
    # Those guesses counted against that device only: the account is not held back.
    assert pages.accounts.sign_in("ada", pages.password).user.id == ada.user.id


# -- the Account page's delete section --------------------------------------------------------


def test_a_wrong_phrase_keeps_the_delete_section_open_with_its_error(pages: Pages) -> None:
    ada = pages.member("ada")
    at = pages.open(links.ACCOUNT, token=ada.token)
    at.session_state[account_forms.DELETE_SECTION] = True  # the user opened the section
    pages.run(at)
    fill(at, "delete_account", **{"Type `ada` to confirm": "ad", "Password": pages.password})
    (section,) = at.expander
    assert section.proto.expanded  # still open on the run that shows the refusal
    assert [e.value for e in section.error] == ["Type ada exactly to confirm."]
    assert pages.accounts.current_user(ada.token) is not None  # nothing was deleted
