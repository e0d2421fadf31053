"""Accounts against the README's Security rules, on SQLite and PostgreSQL, with an injected clock.

Tests use a cheap Argon2id hasher (the parameters are not what is tested here, except in
`test_default_hasher_is_argon2id_at_least_at_library_defaults`), so the suite stays fast.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import pytest
from argon2 import PasswordHasher, extract_parameters
from argon2.low_level import Type

from assistant.accounts import (
    MAX_PASSWORD,
    Accounts,
    PasswordRejectedError,
    RegistrationError,
    SessionEndedError,
    SignInError,
    Throttle,
    ThrottledError,
    check_password,
    common_passwords,
)
from assistant.errors import AssistantError
from assistant.store import NotFoundError, RoleDraft, Store
from assistant.store import models as m
from tests.seeds import ask

if TYPE_CHECKING:
    from tests.store_fixtures import FakeClock


PASSWORD = "violet lantern harbour"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def accounts(store: Store, clock: FakeClock) -> Accounts:
    return Accounts(
        store,
        hasher=CHEAP,
        clock=clock,
        session_idle=timedelta(days=30),
        account_throttle=Throttle(free_failures=3, base=2.0, cap=60.0),
        client_throttle=Throttle(free_failures=10, base=2.0, cap=60.0),
    )


def stored_hash(store: Store, username_key: str) -> str | None:
    found = store.users.credentials(username_key)
    assert found is not None
    return found.password_hash


# -- registration and passwords ------------------------------------------------------------------


def test_register_signs_in_and_keeps_only_an_argon2id_hash(
    accounts: Accounts, store: Store
) -> None:
    signed = accounts.register("  Ada.Lovelace ", PASSWORD)
    assert signed.user.username == "Ada.Lovelace" and not signed.user.is_guest
    assert accounts.current_user(signed.token) == signed.user
    password_hash = stored_hash(store, "ada.lovelace")
    assert password_hash is not None and password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash and signed.token not in repr(signed)


def test_usernames_are_unique_without_regard_to_case(accounts: Accounts) -> None:
    accounts.register("Grace", PASSWORD)
    with pytest.raises(RegistrationError) as raised:
        accounts.register(" grace ", PASSWORD)
    assert str(raised.value) == RegistrationError.sentence


@pytest.mark.parametrize("username", ["ab", "x" * 33, "has space", "semi;colon", "tab\tname"])
def test_unreasonable_usernames_are_refused(accounts: Accounts, username: str) -> None:
    with pytest.raises(RegistrationError):
        accounts.register(username, PASSWORD)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short12", "at least 8"),
        ("password123", "too common"),
        ("QWERTY123", "too common"),
        ("Ada.Lovelace", "not your username"),
        ("x" * (MAX_PASSWORD + 1), "at most"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(
    accounts: Accounts, password: str, reason: str
) -> None:
    with pytest.raises(PasswordRejectedError) as raised:
        accounts.register("Ada.Lovelace", password)
    assert reason in str(raised.value)


def test_no_composition_rules_and_the_common_list_is_substantial() -> None:
    assert check_password("all lower case words") == "all lower case words"
    assert len(common_passwords()) >= 300
    assert {"123456", "password", "qwerty123", "iloveyou"} <= common_passwords()


def test_long_passwords_are_accepted_and_not_truncated(accounts: Accounts) -> None:
    long = "correct horse battery staple " * 4 + "🐎" * 10  # 126 characters
    assert len(long) > 100
    accounts.register("longpass", long)
    accounts.sign_in("longpass", long)
    for wrong in (long[:-1], long[:72], long[:100], long + "x"):
        with pytest.raises(SignInError):
            accounts.sign_in("longpass", wrong)


def test_passwords_are_normalised_before_hashing(accounts: Accounts) -> None:
    accounts.register("unicode", "caf\u00e9 au lait!")
    accounts.sign_in("unicode", "cafe\u0301 au lait!")  # the same text, decomposed


# -- sign-in ------------------------------------------------------------------------------------


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified += 1
        return super().verify(hash, password)


def test_unknown_user_and_wrong_password_get_the_same_answer(
    store: Store, clock: FakeClock
) -> None:
    hasher = CountingHasher()
    accounts = Accounts(store, hasher=hasher, clock=clock)
    accounts.register("known", PASSWORD)
    with pytest.raises(SignInError) as unknown:
        accounts.sign_in("nobody", PASSWORD)
    with pytest.raises(SignInError) as wrong:
        accounts.sign_in("known", "not the password")
    assert (type(unknown.value), str(unknown.value)) == (type(wrong.value), str(wrong.value))
    assert str(wrong.value) == "The username or password is incorrect."
    # An unknown account costs a hash verification too, so timing does not tell them apart.
    assert hasher.verified == 2


def test_sign_in_is_case_insensitive_on_the_username(accounts: Accounts) -> None:
    accounts.register("MixedCase", PASSWORD)
    assert accounts.sign_in(" mixedcase ", PASSWORD).user.username == "MixedCase"


def test_throttling_grows_then_lets_the_right_password_in(
    accounts: Accounts, clock: FakeClock
) -> None:
    accounts.register("target", PASSWORD)
    for _ in range(3):  # the free failures
        with pytest.raises(SignInError):
            accounts.sign_in("target", "guess")
    waits = []
    for _ in range(4):
        with pytest.raises(SignInError):
            accounts.sign_in("target", "guess")  # allowed, fails, raises the delay
        with pytest.raises(ThrottledError) as throttled:
            accounts.sign_in("target", PASSWORD)  # even the right password waits
        waits.append(throttled.value.retry_after)
        assert "wait" in str(throttled.value)
        clock.advance(throttled.value.retry_after)
    assert waits == sorted(waits) and waits[-1] > 2 * waits[0]
    assert accounts.sign_in("target", PASSWORD).user.username == "target"
    with pytest.raises(SignInError) as after:  # success reset the account's count
        accounts.sign_in("target", "guess")
    assert not isinstance(after.value, ThrottledError)


def test_throttling_has_a_cap_so_there_is_no_permanent_lockout(
    accounts: Accounts, clock: FakeClock
) -> None:
    accounts.register("victim", PASSWORD)
    for _ in range(30):
        try:
            accounts.sign_in("victim", "guess")
        except ThrottledError as throttled:
            assert throttled.retry_after <= 60
            clock.advance(throttled.retry_after)
        except SignInError:
            pass
    clock.advance(60)
    accounts.sign_in("victim", PASSWORD)


def test_throttling_counts_per_client_across_accounts(accounts: Accounts) -> None:
    accounts.register("someone", PASSWORD)
    for n in range(10):  # a spray over many usernames from one client
        with pytest.raises(SignInError):
            accounts.sign_in(f"user{n}", "guess", client_key="203.0.113.9")
    with pytest.raises(ThrottledError):
        accounts.sign_in("someone", PASSWORD, client_key="203.0.113.9")
    accounts.sign_in("someone", PASSWORD, client_key="198.51.100.1")


def test_throttling_is_shared_by_replicas_through_the_database(
    accounts: Accounts, migrated_url: str, clock: FakeClock
) -> None:
    accounts.register("shared", PASSWORD)
    other_store = Store(migrated_url, clock=clock)
    try:
        replica = Accounts(other_store, hasher=CHEAP, clock=clock, account_throttle=Throttle(3))
        for _ in range(4):
            with pytest.raises(SignInError):
                replica.sign_in("shared", "guess")
    finally:
        other_store.close()
    with pytest.raises(ThrottledError):
        accounts.sign_in("shared", PASSWORD)


def test_old_hash_parameters_are_upgraded_at_sign_in(
    accounts: Accounts, store: Store, clock: FakeClock
) -> None:
    accounts.register("upgrade", PASSWORD)
    before = stored_hash(store, "upgrade")
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    Accounts(store, hasher=stronger, clock=clock).sign_in("upgrade", PASSWORD)
    after = stored_hash(store, "upgrade")
    assert after != before and after is not None
    assert extract_parameters(after).memory_cost == 2048
    Accounts(store, hasher=stronger, clock=clock).sign_in("upgrade", PASSWORD)


def test_default_hasher_is_argon2id_at_least_at_library_defaults(store: Store) -> None:
    accounts = Accounts(store)
    signed = accounts.register("defaults", PASSWORD)
    assert signed.user.username == "defaults"
    parameters = extract_parameters(stored_hash(store, "defaults") or "")
    library = PasswordHasher()
    assert parameters.type is Type.ID
    assert parameters.memory_cost >= library.memory_cost
    assert parameters.time_cost >= library.time_cost


# -- sessions -----------------------------------------------------------------------------------


def test_sign_out_ends_the_session(accounts: Accounts) -> None:
    signed = accounts.register("leaver", PASSWORD)
    other = accounts.sign_in("leaver", PASSWORD)
    accounts.sign_out(signed.token)
    assert accounts.current_user(signed.token) is None
    assert accounts.current_user(other.token) == other.user


def test_tokens_are_stored_only_as_hashes(accounts: Accounts, store: Store) -> None:
    signed = accounts.register("hashed", PASSWORD)
    with store._db.engine.connect() as connection:
        stored = connection.execute(m.AuthSession.__table__.select()).all()
    assert stored and all(signed.token not in str(row) for row in stored)
    assert accounts.current_user("not-a-token") is None
    assert accounts.current_user("") is None


def test_password_change_ends_the_other_sessions(accounts: Accounts) -> None:
    here = accounts.register("changer", PASSWORD)
    elsewhere = accounts.sign_in("changer", PASSWORD)
    with pytest.raises(SignInError):
        accounts.change_password(here.token, "wrong current", "a brand new passphrase")
    accounts.change_password(here.token, PASSWORD, "a brand new passphrase")
    assert accounts.current_user(here.token) == here.user
    assert accounts.current_user(elsewhere.token) is None
    with pytest.raises(SignInError):
        accounts.sign_in("changer", PASSWORD)
    accounts.sign_in("changer", "a brand new passphrase")


def test_sessions_expire_when_idle(accounts: Accounts, clock: FakeClock) -> None:
    signed = accounts.register("sleeper", PASSWORD)
    clock.advance(timedelta(days=29).total_seconds())
    assert accounts.current_user(signed.token) == signed.user  # use renews the idle timer
    clock.advance(timedelta(days=29).total_seconds())
    assert accounts.current_user(signed.token) == signed.user
    clock.advance(timedelta(days=31).total_seconds())
    assert accounts.current_user(signed.token) is None
    with pytest.raises(SessionEndedError):
        accounts.change_password(signed.token, PASSWORD, "another long passphrase")


def test_delete_account_removes_its_data_and_sessions(accounts: Accounts, store: Store) -> None:
    signed = accounts.register("goner", PASSWORD)
    other = accounts.sign_in("goner", PASSWORD)
    user = signed.user.id
    conversation = ask(store, user, None, "private").conversation_id
    store.create_role(user, RoleDraft(name="Mine", system_prompt="x"))
    with pytest.raises(SignInError):
        accounts.delete_account(signed.token, "wrong password")
    accounts.delete_account(signed.token, PASSWORD)
    assert accounts.current_user(signed.token) is None
    assert accounts.current_user(other.token) is None
    with pytest.raises(NotFoundError):
        store.get_conversation(user, conversation)
    assert store.list_roles(user) == []
    for table in (m.Conversation, m.Message, m.CustomRole, m.AuthSession):
        with store._db.engine.connect() as connection:
            assert connection.execute(table.__table__.select()).all() == []
    with pytest.raises(SignInError):
        accounts.sign_in("goner", PASSWORD)
    accounts.register("goner", PASSWORD)  # the name is free again


# -- guests and single sign-on ----------------------------------------------------------------


def test_guests_chat_at_once_and_their_history_follows_them_into_an_account(
    accounts: Accounts, store: Store
) -> None:
    guest = accounts.start_guest()
    assert guest.user.is_guest and accounts.current_user(guest.token) == guest.user
    conversation = ask(store, guest.user.id, None, "as a guest").conversation_id
    account = accounts.register("newcomer", PASSWORD, guest_token=guest.token)
    assert [c.id for c in store.list_conversations(account.user.id)] == [conversation]
    assert accounts.current_user(guest.token) is None
    assert store.list_conversations(guest.user.id) == []


def test_signing_in_claims_the_guest_history_too(accounts: Accounts, store: Store) -> None:
    accounts.register("returning", PASSWORD)
    guest = accounts.start_guest()
    conversation = ask(store, guest.user.id, None, "hi").conversation_id
    signed = accounts.sign_in("returning", PASSWORD, guest_token=guest.token)
    assert [c.id for c in store.list_conversations(signed.user.id)] == [conversation]


def test_a_non_guest_token_claims_nothing(accounts: Accounts, store: Store) -> None:
    victim = accounts.register("victim2", PASSWORD)
    conversation = ask(store, victim.user.id, None, "mine").conversation_id
    thief = accounts.register("thief2", PASSWORD, guest_token=victim.token)
    assert store.list_conversations(thief.user.id) == []
    assert [c.id for c in store.list_conversations(victim.user.id)] == [conversation]


def test_abandoned_guests_are_purged_with_their_data(
    accounts: Accounts, store: Store, clock: FakeClock
) -> None:
    guest = accounts.start_guest()
    ask(store, guest.user.id, None, "hello")
    clock.advance(timedelta(days=31).total_seconds())
    kept = accounts.start_guest()
    purged = accounts.purge_expired()
    assert (purged.sessions, purged.guests) == (1, 1)
    assert store.list_conversations(guest.user.id) == []
    assert accounts.current_user(kept.token) == kept.user


def test_single_sign_on_maps_accounts_by_issuer_and_subject(accounts: Accounts) -> None:
    first = accounts.sign_in_with_oidc("https://idp.example", "sub-1", "a@example.com", "Ann")
    again = accounts.sign_in_with_oidc("https://idp.example", "sub-1", "new@example.com", "Ann")
    other_issuer = accounts.sign_in_with_oidc("https://other.example", "sub-1", "a@example.com")
    same_email = accounts.sign_in_with_oidc("https://idp.example", "sub-2", "a@example.com")
    assert first.user.id == again.user.id
    assert first.user.label == "Ann" and first.user.email == "a@example.com"
    assert len({first.user.id, other_issuer.user.id, same_email.user.id}) == 3
    with pytest.raises(SignInError):  # no password to sign in with
        accounts.sign_in("Ann", "")
    accounts.delete_account(first.token)  # nothing to re-enter for a password-less account
    assert accounts.current_user(again.token) is None


def test_errors_are_assistant_errors_with_a_sentence() -> None:
    for error in (SignInError(), ThrottledError(90), RegistrationError(), SessionEndedError()):
        assert isinstance(error, AssistantError)
        assert str(error).endswith(".") and "Traceback" not in str(error)
    assert "2 minutes" in str(ThrottledError(90)) or "90 seconds" in str(ThrottledError(90))
