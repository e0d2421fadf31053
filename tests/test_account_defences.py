"""Accounts under attack and at scale, on SQLite and PostgreSQL with an injected clock:
throttling that never locks the owner out, input refused by size before any work, guests that
cost nothing until they write, and an upkeep purge that is safe to run anywhere, often."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from assistant import credentials
from assistant.accounts import (
    Accounts,
    GuestLimitError,
    PasswordRejectedError,
    RateLimit,
    RegistrationError,
    SignInError,
    Throttle,
    ThrottledError,
)
from assistant.cookie_tickets import Cookies, CookieTickets
from assistant.store import Store
from assistant.store import models as m
from assistant.store.browsers import PURGE_BATCH
from assistant.tokens import new_token, token_hash
from tests.seeds import ask
from tests.store_fixtures import run_threads

if TYPE_CHECKING:
    from tests.store_fixtures import FakeClock

PASSWORD = "violet lantern harbour"


class RecordingHasher(PasswordHasher):
    """A cheap Argon2id hasher that remembers every password it was given."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.seen: list[int] = []  # lengths, not the passwords

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.seen.append(len(password))
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Any:
        self.seen.append(len(password))
        return super().verify(hash, password)


@pytest.fixture
def hasher() -> RecordingHasher:
    return RecordingHasher()


@pytest.fixture
def accounts(store: Store, clock: FakeClock, hasher: RecordingHasher) -> Accounts:
    return Accounts(
        store,
        hasher=hasher,
        clock=clock,
        account_throttle=Throttle(free_failures=3, base=60.0, cap=900.0),
        client_throttle=Throttle(free_failures=10, base=60.0, cap=900.0),
        device_throttle=Throttle(free_failures=3, base=60.0, cap=900.0),
        guest_limit=RateLimit(3, timedelta(minutes=10)),
    )


def count(store: Store, model: type[m.Base]) -> int:
    with store._db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


# -- throttle, never lock the owner out ---------------------------------------------------------


def test_an_attacker_failing_from_many_addresses_never_stops_the_owners_trusted_browser(
    accounts: Accounts, clock: FakeClock
) -> None:
    owner = accounts.register("owner", PASSWORD)
    for round_ in range(20):  # slowly, from a new address each time, forever
        address = f"ip:192.0.2.{round_}"
        try:
            accounts.sign_in("owner", "guess", client_key=address)
        except ThrottledError as throttled:
            clock.advance(throttled.retry_after)  # the moment the wait ends: fail again
            with pytest.raises(SignInError):
                accounts.sign_in("owner", "guess", client_key=address)
        except SignInError:
            pass
    with pytest.raises(ThrottledError):  # untrusted browsers wait, even with the password
        accounts.sign_in("owner", PASSWORD, client_key="ip:198.51.100.1")
    signed = accounts.sign_in(
        "owner", PASSWORD, client_key="ip:198.51.100.1", device_token=owner.device_token
    )
    assert signed.user.id == owner.user.id  # at once
    with pytest.raises(ThrottledError):  # and that success gave the attacker nothing back
        accounts.sign_in("owner", "guess", client_key="ip:192.0.2.99")


def test_a_sprayer_behind_the_owners_office_address_does_not_block_the_owner(
    accounts: Accounts,
) -> None:
    owner = accounts.register("owner", PASSWORD)
    office = "ip:203.0.113.10"
    for n in range(12):  # many usernames, one address: the address is throttled
        with pytest.raises(SignInError):
            accounts.sign_in(f"colleague{n}", "guess", client_key=office)
    with pytest.raises(ThrottledError):
        accounts.sign_in("owner", PASSWORD, client_key=office)
    signed = accounts.sign_in("owner", PASSWORD, client_key=office, device_token=owner.device_token)
    assert signed.user.id == owner.user.id


def test_a_stolen_device_cookie_is_throttled_per_device(accounts: Accounts) -> None:
    owner = accounts.register("owner", PASSWORD)
    laptop = accounts.sign_in("owner", PASSWORD).device_token  # a second trusted browser
    stolen = owner.device_token
    for _ in range(3):
        with pytest.raises(SignInError) as failed:
            accounts.sign_in("owner", "guess", device_token=stolen)
        assert not isinstance(failed.value, ThrottledError)
    with pytest.raises(ThrottledError):
        accounts.sign_in("owner", "guess", device_token=stolen)
    with pytest.raises(ThrottledError):  # that device waits, right password or not
        accounts.sign_in("owner", PASSWORD, device_token=stolen)
    # Its failures counted against that device only: the account and other devices go on.
    assert accounts.sign_in("owner", PASSWORD, device_token=laptop).user.id == owner.user.id
    assert accounts.sign_in("owner", PASSWORD).user.id == owner.user.id


def test_a_device_cookie_vouches_only_for_the_accounts_it_signed_in_to(
    accounts: Accounts, clock: FakeClock
) -> None:
    ada = accounts.register("ada", PASSWORD)
    accounts.register("bob", PASSWORD)
    for _ in range(4):
        with pytest.raises(SignInError):
            accounts.sign_in("bob", "guess")
    with pytest.raises(ThrottledError):  # ada's device is nothing to bob's account
        accounts.sign_in("bob", PASSWORD, device_token=ada.device_token)
    with pytest.raises(ThrottledError):  # nor is a made-up one
        accounts.sign_in("bob", PASSWORD, device_token=new_token())
    clock.advance(timedelta(days=366).total_seconds())  # trust lapses after a year unused
    for _ in range(4):
        with pytest.raises(SignInError):
            accounts.sign_in("ada", "guess")
    with pytest.raises(ThrottledError):
        accounts.sign_in("ada", PASSWORD, device_token=ada.device_token)


def test_a_device_cookie_is_kept_when_known_and_replaced_when_not(accounts: Accounts) -> None:
    ada = accounts.register("ada", PASSWORD)
    accounts.register("bob", PASSWORD)
    assert accounts.sign_in("bob", PASSWORD, device_token=ada.device_token).device_token == (
        ada.device_token  # one browser, trusted by both accounts now
    )
    planted = new_token()
    assert accounts.sign_in("ada", PASSWORD, device_token=planted).device_token != planted


def test_re_entering_the_password_is_judged_the_same_way(accounts: Accounts) -> None:
    owner = accounts.register("owner", PASSWORD)
    for n in range(4):
        with pytest.raises(SignInError):
            accounts.sign_in("owner", "guess", client_key=f"ip:192.0.2.{n}")
    with pytest.raises(ThrottledError):
        accounts.change_password(owner.token, PASSWORD, "a brand new passphrase")
    accounts.change_password(
        owner.token, PASSWORD, "a brand new passphrase", device_token=owner.device_token
    )


# -- input refused by its size, before any work -------------------------------------------------


@pytest.fixture
def normalised(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Lengths of every text the credentials module normalises."""
    seen: list[int] = []
    real = credentials.nfkc

    def recording(text: str) -> str:
        seen.append(len(text))
        return real(text)

    monkeypatch.setattr(credentials, "nfkc", recording)
    return seen


#: 20,000 characters that NFKC would turn into 360,000; and a megabyte of plain text.
EXPANDING = "\ufdfa" * 20_000
MEGABYTE = "x" * 1_000_000


@pytest.mark.parametrize("huge", [EXPANDING, MEGABYTE], ids=["expanding", "megabyte"])
def test_huge_passwords_are_refused_before_normalising_or_hashing(
    accounts: Accounts,
    store: Store,
    hasher: RecordingHasher,
    normalised: list[int],
    huge: str,
) -> None:
    owner = accounts.register("owner", PASSWORD)
    hasher.seen.clear()
    normalised.clear()
    with pytest.raises(SignInError):
        accounts.sign_in("owner", huge)
    with pytest.raises(PasswordRejectedError, match="at most 1024"):
        accounts.register("newcomer", huge)
    with pytest.raises(PasswordRejectedError, match="at most 1024"):
        accounts.change_password(owner.token, PASSWORD, huge)
    with pytest.raises(SignInError):
        accounts.change_password(owner.token, huge, "a brand new passphrase")
    with pytest.raises(SignInError):
        accounts.delete_account(owner.token, huge)
    assert all(length < 1_000 for length in normalised)  # only the short fields
    assert all(length < 1_000 for length in hasher.seen)  # the huge text never hashed
    assert count(store, m.LoginFailure) == 0  # not even counted as a guess


@pytest.mark.parametrize("huge", [EXPANDING[:5_000], MEGABYTE], ids=["expanding", "megabyte"])
def test_huge_usernames_are_refused_before_normalising(
    accounts: Accounts, hasher: RecordingHasher, normalised: list[int], huge: str
) -> None:
    with pytest.raises(SignInError):
        accounts.sign_in(huge, PASSWORD)
    with pytest.raises(RegistrationError, match="3 to 32 characters"):
        accounts.register(huge, PASSWORD)
    assert all(length < 1_000 for length in normalised)
    assert hasher.seen == []


def test_the_size_bounds_let_every_acceptable_password_through(accounts: Accounts) -> None:
    emoji = "🐎" * credentials.MAX_PASSWORD  # 4 bytes each: 4,096 bytes
    decomposed = "e\u0301" * credentials.MAX_PASSWORD  # 2,048 code points, NFKC halves it
    accounts.register("emoji", emoji)
    accounts.register("accents", decomposed)
    assert accounts.sign_in("emoji", emoji).user.username == "emoji"
    assert accounts.sign_in("accents", "\u00e9" * credentials.MAX_PASSWORD).user.username


def test_single_sign_on_fields_are_bounded_before_the_database(accounts: Accounts) -> None:
    signed = accounts.sign_in_with_oidc("https://idp.example", "s-1", "a" * 400 + "@x", "N" * 999)
    assert signed.user.email is None and signed.user.display_name == "N" * 200
    with pytest.raises(SignInError):
        accounts.sign_in_with_oidc("https://idp.example", "s" * 256)


# -- guests cost nothing until they write --------------------------------------------------------


def test_looking_up_an_unknown_token_writes_nothing(accounts: Accounts, store: Store) -> None:
    assert accounts.current_user(new_token()) is None
    assert accounts.current_user("not a token") is None
    assert count(store, m.User) == 0 and count(store, m.AuthSession) == 0


def test_a_guest_is_saved_once_per_token_even_from_two_tabs_at_once(
    accounts: Accounts, store: Store
) -> None:
    token = new_token()
    users: list[int] = []

    def save(_: int) -> None:
        users.append(accounts.start_guest(token).user.id)

    assert run_threads(6, save) == []
    assert len(users) == 6 and len(set(users)) == 1
    assert count(store, m.User) == 1 and count(store, m.AuthSession) == 1
    assert accounts.current_user(token) is not None


def test_new_guests_are_limited_per_address_and_the_window_moves_on(
    accounts: Accounts, store: Store, clock: FakeClock
) -> None:
    for _ in range(3):
        accounts.start_guest(client_key="ip:198.51.100.7")
    with pytest.raises(GuestLimitError) as refused:
        accounts.start_guest(client_key="ip:198.51.100.7")
    assert "please wait a few minutes or sign in" in str(refused.value)
    accounts.start_guest(client_key="ip:198.51.100.8")  # another address is not held back
    known = accounts.start_guest(client_key="ip:198.51.100.8")
    again = accounts.start_guest(known.token, client_key="ip:198.51.100.7")  # not new: fine
    assert again.user.id == known.user.id
    assert count(store, m.User) == 5
    clock.advance(timedelta(minutes=11).total_seconds())
    accounts.start_guest(client_key="ip:198.51.100.7")


# -- the upkeep purge ---------------------------------------------------------------------------


def test_purge_removes_what_has_expired_and_keeps_what_lives(
    accounts: Accounts, store: Store, clock: FakeClock
) -> None:
    abandoned = accounts.start_guest()
    ask(store, abandoned.user.id, None, "forgotten")
    member = accounts.register("member", PASSWORD)
    tickets = CookieTickets(store, clock=clock)
    tickets.issue(Cookies(new_token()), bound_to=None)
    for _ in range(2):
        with pytest.raises(SignInError):
            accounts.sign_in("member", "guess", client_key="ip:192.0.2.1")
    clock.advance(timedelta(days=31).total_seconds())
    kept = accounts.start_guest()
    fresh = tickets.issue(Cookies(new_token()), bound_to=None)

    purged = accounts.purge_expired()

    assert (purged.sessions, purged.guests) == (2, 1)  # the guest's and the member's sessions
    assert purged.other >= 3  # the old ticket, the failure counts, the guest counter
    assert accounts.current_user(kept.token) == kept.user
    assert accounts.current_user(member.token) is None  # idle too long
    assert store.list_conversations(abandoned.user.id) == []
    assert tickets.status(fresh) == "pending"
    assert accounts.sign_in("member", PASSWORD, device_token=member.device_token)  # still trusted
    assert accounts.purge_expired() == (0, 0, 0)  # again: nothing left to do


def test_purges_running_at_once_remove_each_row_once(
    migrated_url: str, store: Store, clock: FakeClock
) -> None:
    accounts = Accounts(store, clock=clock, guest_limit=RateLimit(10_000, timedelta(hours=1)))
    now = clock()
    with store._db.engine.begin() as connection:  # more sessions than one batch holds
        users = [{"is_guest": True, "created_at": now} for _ in range(PURGE_BATCH * 2 + 50)]
        connection.execute(m.User.__table__.insert(), users)
        ids = connection.execute(select(m.User.id)).scalars().all()
        connection.execute(
            m.AuthSession.__table__.insert(),
            [
                {
                    "token_hash": token_hash(new_token()),
                    "user_id": user_id,
                    "created_at": now,
                    "last_seen_at": now,
                }
                for user_id in ids
            ],
        )
    clock.advance(timedelta(days=31).total_seconds())
    replicas = [Store(migrated_url, clock=clock) for _ in range(3)]
    results: list[Any] = []

    def purge(n: int) -> None:
        results.append(Accounts(replicas[n], clock=clock).purge_expired())

    try:
        assert run_threads(3, purge) == []
    finally:
        for replica in replicas:
            replica.close()
    assert len(results) == 3
    assert sum(r.sessions for r in results) == len(ids)
    assert sum(r.guests for r in results) == len(ids)
    assert count(store, m.User) == 0 and count(store, m.AuthSession) == 0
    assert accounts.purge_expired() == (0, 0, 0)
