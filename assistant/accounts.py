"""Accounts: guests, registration, sign-in (password or single sign-on), sessions, throttling.

    accounts = Accounts(store)
    signed = accounts.start_guest()                         # chat at once, no sign-in
    signed = accounts.register("ada", "correct horse battery", guest_token=signed.token)
    user = accounts.current_user(signed.token)              # None once signed out or idle

Choices, with their reasons (OWASP ASVS 5 and NIST SP 800-63B):

- Passwords are hashed with Argon2id (argon2-cffi's `PasswordHasher` defaults unless a
  stronger hasher is passed) and re-hashed at the next sign-in when the parameters change.
  They are NFKC-normalised, then judged by length only: 8 to 1024 characters, never
  truncated, no composition rules; common passwords and the username itself are refused.
- Sign-in answers "wrong username or password" whether or not the account exists, and an
  unknown account still costs one hash verification (against a dummy hash), so the time
  taken does not tell either.
- Failed sign-ins are counted per account and per client key in the database, so every replica
  sees them. Past a few free failures each further one doubles the wait, up to a cap; while
  waiting, no password is even checked. There is no permanent lockout: after the wait the right
  password works, so an attacker cannot lock a user out for long.
- A session is a random token; only its sha256 is stored. It ends on sign-out, on idle
  expiry, and (all other sessions of the user) on a password change; deleting an account ends
  them all.
- Single sign-on maps an account by (issuer, subject), never by e-mail, so an identity
  provider that lets users choose any address cannot take over an existing account.
- Registration must say when a username is taken (there is no e-mail round-trip to hide it
  behind), but it hashes first so that the timing is the same either way.

`HASH_SLOTS` is a module-level semaphore on purpose: it bounds the CPU and memory (64 MiB per
Argon2id hash by default) that one process spends hashing, and that budget belongs to the
process, not to a user or a session. It holds no per-user data.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from assistant.errors import AssistantError
from assistant.store import Store, User
from assistant.store.database import utc_now
from assistant.store.users import UsernameTakenError

log = logging.getLogger(__name__)

#: At most this many password hashes computed at once in this process (see module docstring).
HASH_SLOTS = threading.BoundedSemaphore(2)

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MIN_USERNAME = 3
MAX_USERNAME = 32
_USERNAME_SYMBOLS = frozenset("._-@+")


class AccountError(AssistantError):
    sentence = "That did not work. Please try again."


class SignInError(AccountError):
    sentence = "The username or password is incorrect."


class ThrottledError(SignInError):
    """Too many recent failures: try again after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        seconds = max(1, math.ceil(retry_after))
        wait = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
        super().__init__(f"Too many failed attempts. Please wait {wait} and try again.")


class RegistrationError(AccountError):
    sentence = "That username is not available. Please choose another."


class PasswordRejectedError(AccountError):
    sentence = "Please choose a different password."


class SessionEndedError(AccountError):
    sentence = "Your session has ended. Please sign in again."


@dataclass(frozen=True, slots=True)
class Throttle:
    """Failures allowed without delay, then a delay doubling from `base` seconds to `cap`."""

    free_failures: int
    base: float = 1.0
    cap: float = 900.0

    def delay(self, failures: int) -> float:
        over = failures - self.free_failures
        return 0.0 if over < 0 else min(self.base * 2.0**over, self.cap)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A user and the session token to keep in the browser (never logged)."""

    user: User
    token: str = field(repr=False)


@cache
def common_passwords() -> frozenset[str]:
    text = (resources.files("assistant") / "data" / "common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def normalize_username(username: str) -> tuple[str, str]:
    """(display form, comparison key); RegistrationError says what is wrong."""
    display = unicodedata.normalize("NFKC", username).strip()
    if not MIN_USERNAME <= len(display) <= MAX_USERNAME:
        raise RegistrationError(f"A username has {MIN_USERNAME} to {MAX_USERNAME} characters.")
    if not all(ch.isalnum() or ch in _USERNAME_SYMBOLS for ch in display):
        raise RegistrationError("A username can use letters, digits and . _ - @ + only.")
    return display, display.casefold()


def _username_key(username: str) -> str:
    return unicodedata.normalize("NFKC", username).strip().casefold()


def check_password(password: str, username: str = "") -> str:
    """The normalised password, or PasswordRejectedError with the reason."""
    normalized = unicodedata.normalize("NFKC", password)
    if len(normalized) < MIN_PASSWORD:
        raise PasswordRejectedError(f"Please use a password of at least {MIN_PASSWORD} characters.")
    if len(normalized) > MAX_PASSWORD:
        raise PasswordRejectedError(f"Please use a password of at most {MAX_PASSWORD} characters.")
    folded = normalized.casefold()
    if username and folded == _username_key(username):
        raise PasswordRejectedError("Please use a password that is not your username.")
    if folded in common_passwords():
        raise PasswordRejectedError(
            "That password is too common and easy to guess. Please choose another."
        )
    return normalized


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _throttle_key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\x00{value}".encode()).hexdigest()


class Accounts:
    """Account operations over a `Store`; one per process, shared by all sessions."""

    def __init__(
        self,
        store: Store,
        *,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] = utc_now,
        session_idle: timedelta = timedelta(days=30),
        account_throttle: Throttle = Throttle(free_failures=5),
        client_throttle: Throttle = Throttle(free_failures=20),
        failure_window: timedelta = timedelta(hours=1),
    ) -> None:
        self._store = store
        self._users = store.users
        self._hasher = hasher or PasswordHasher()
        self._now = clock
        self.session_idle = session_idle
        self._account_throttle = account_throttle
        self._client_throttle = client_throttle
        self._failure_window = failure_window
        self._dummy_hash: str | None = None

    # -- hashing ---------------------------------------------------------------------------

    def _hash(self, password: str) -> str:
        with HASH_SLOTS:
            return self._hasher.hash(password)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        """Check a password; with no hash, spend the same time on a dummy and say no."""
        if password_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = self._hash(secrets.token_urlsafe(16))
            password_hash = self._dummy_hash
            password = "\x00" + password  # can never match the random dummy
        with HASH_SLOTS:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

    # -- throttling --------------------------------------------------------------------------

    def _keys(self, username_key: str, client_key: str) -> dict[str, Throttle]:
        keys = {_throttle_key("account", username_key): self._account_throttle}
        if client_key:
            keys[_throttle_key("client", client_key)] = self._client_throttle
        return keys

    def _check_throttle(self, keys: dict[str, Throttle]) -> None:
        now = self._now()
        counts = self._users.failures(list(keys), now - self._failure_window)
        wait = 0.0
        for key, (failures, last) in counts.items():
            ready = last + timedelta(seconds=keys[key].delay(failures))
            wait = max(wait, (ready - now).total_seconds())
        if wait > 0:
            raise ThrottledError(wait)

    def _fail(self, keys: dict[str, Throttle]) -> SignInError:
        now = self._now()
        self._users.record_failure(list(keys), now, now - self._failure_window)
        log.info("accounts: failed sign-in (account key %s…)", next(iter(keys))[:12])
        return SignInError()

    # -- sessions ----------------------------------------------------------------------------

    def _open_session(self, user: User, guest_token: str | None) -> SignedIn:
        if guest_token:
            guest = self.current_user(guest_token)
            if guest is not None and guest.is_guest:
                self._users.claim_guest(guest.id, user.id)
        token = secrets.token_urlsafe(32)
        self._users.create_session(user.id, _token_hash(token), self._now())
        return SignedIn(user, token)

    def current_user(self, token: str | None) -> User | None:
        """The user a session token belongs to; None when unknown, signed out or idle too long."""
        if not token:
            return None
        return self._users.session_user(_token_hash(token), self._now(), self.session_idle)

    def _require(self, token: str) -> User:
        user = self.current_user(token)
        if user is None:
            raise SessionEndedError()
        return user

    def start_guest(self) -> SignedIn:
        """An anonymous user who can chat at once; claimed by a later register or sign-in."""
        return self._open_session(self._users.create_guest(self._now()), None)

    def sign_out(self, token: str) -> None:
        self._users.delete_session(_token_hash(token))

    def purge_expired(self) -> tuple[int, int]:
        """Delete idle sessions and abandoned guests (with their data): (sessions, guests)."""
        return self._users.purge_expired(self._now(), self.session_idle)

    # -- the account verbs ----------------------------------------------------------------------

    def register(self, username: str, password: str, *, guest_token: str | None = None) -> SignedIn:
        display, key = normalize_username(username)
        password = check_password(password, display)
        password_hash = self._hash(password)
        try:
            user = self._users.create_user(display, key, password_hash, self._now())
        except UsernameTakenError:
            raise RegistrationError() from None
        return self._open_session(user, guest_token)

    def sign_in(
        self,
        username: str,
        password: str,
        *,
        client_key: str = "",
        guest_token: str | None = None,
    ) -> SignedIn:
        """Sign in with a password; SignInError (or ThrottledError) says no, the same way."""
        key = _username_key(username)
        keys = self._keys(key, client_key)
        self._check_throttle(keys)
        found = self._users.credentials(key)
        password = unicodedata.normalize("NFKC", password)
        if len(password) > MAX_PASSWORD:
            password = password[: MAX_PASSWORD + 1]  # fails below; bounds the hashing work
        ok = self._verify(found.password_hash if found else None, password)
        if not ok or found is None:
            raise self._fail(keys)
        account_key = next(iter(keys))
        self._users.clear_failures([account_key])
        if found.password_hash and self._hasher.check_needs_rehash(found.password_hash):
            self._users.set_password_hash(found.user.id, self._hash(password), None)
        return self._open_session(found.user, guest_token)

    def sign_in_with_oidc(
        self,
        issuer: str,
        subject: str,
        email: str | None = None,
        name: str | None = None,
        *,
        guest_token: str | None = None,
    ) -> SignedIn:
        """Sign in with a verified single-sign-on identity, creating the account the first time.

        The caller (the OIDC callback) has already verified the ID token's signature,
        issuer, audience and expiry.
        """
        if not issuer or not subject:
            raise SignInError("Single sign-on did not return an identity.")
        user = self._users.identity_user(issuer, subject)
        if user is None:
            user = self._users.create_identity_user(issuer, subject, email, name, self._now())
        return self._open_session(user, guest_token)

    def change_password(
        self, token: str, current_password: str, new_password: str, *, client_key: str = ""
    ) -> None:
        """Change the password and end every other session of the user."""
        user = self._require(token)
        self._reauthenticate(user, current_password, client_key)
        new_password = check_password(new_password, user.username or "")
        self._users.set_password_hash(user.id, self._hash(new_password), self._now())
        self._users.delete_sessions(user.id, keep=_token_hash(token))

    def delete_account(self, token: str, password: str = "", *, client_key: str = "") -> None:
        """Delete the account and all its data; accounts with a password must give it."""
        user = self._require(token)
        if self._users.password_hash(user.id) is not None:
            self._reauthenticate(user, password, client_key)
        self._users.delete_user(user.id)

    def _reauthenticate(self, user: User, password: str, client_key: str) -> None:
        keys = self._keys(_username_key(user.username or f"#{user.id}"), client_key)
        self._check_throttle(keys)
        normalized = unicodedata.normalize("NFKC", password)[: MAX_PASSWORD + 1]
        if not self._verify(self._users.password_hash(user.id), normalized):
            raise self._fail(keys)


__all__ = [
    "HASH_SLOTS",
    "AccountError",
    "Accounts",
    "PasswordRejectedError",
    "RegistrationError",
    "SessionEndedError",
    "SignInError",
    "SignedIn",
    "Throttle",
    "ThrottledError",
    "check_password",
    "common_passwords",
    "normalize_username",
]
