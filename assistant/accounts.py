"""Accounts: guests, registration, sign-in (password or single sign-on), sessions, throttling.

    accounts = Accounts(store)
    guest = accounts.start_guest(token, client_key="ip:203.0.113.9")   # at the first message
    signed = accounts.register("ada", "correct horse battery", guest_token=guest.token)
    user = accounts.current_user(signed.token)              # None once signed out or idle

Choices, with their reasons (OWASP ASVS 5 and NIST SP 800-63B):

- Passwords are hashed with Argon2id (argon2-cffi's `PasswordHasher` defaults unless a
  stronger hasher is passed) and re-hashed at the next sign-in when the parameters change.
  What counts as a password or a username is `assistant.credentials`: sizes are checked on the
  raw input before it is normalised, looked up or hashed.
- Sign-in answers "wrong username or password" whether or not the account exists, and an
  unknown account still costs one hash verification (against a dummy hash), so the time
  taken does not tell either.
- Throttle, never lock out. Failed sign-ins are counted in the database (every replica sees
  them) per account and per client address; past a few free failures each further one doubles
  the wait, up to a cap, and while waiting no password is checked. That alone would let an
  attacker keep an owner waiting forever (one failure each time the wait ends, from anywhere),
  or let one sprayer behind an office's address hold up everyone there. So a browser that has
  signed in to the account with its password before carries a device cookie (OWASP's "device
  cookies"): an attempt presenting it is judged only by that device's own failures, never by
  the account's or the address's. A stolen device cookie still meets a per-device throttle.
- Guests cost nothing until they write: `start_guest` saves one (user and session rows) when
  its first message is stored, at most `guest_limit` per client address in a window.
- A session is a random token; only its sha256 is stored. It ends on sign-out, on idle
  expiry, and (all other sessions of the user) on a password change; deleting an account ends
  them all. Signing in always makes a new token (no session fixation).
- Single sign-on maps an account by (issuer, subject), never by e-mail, so an identity
  provider that lets users choose any address cannot take over an existing account.
- Registration must say when a username is taken (there is no e-mail round-trip to hide it
  behind), but it hashes first so that the timing is the same either way.

`HASH_SLOTS` is a module-level semaphore on purpose: it bounds the CPU and memory (64 MiB per
Argon2id hash by default) that one process spends hashing, and that budget belongs to the
process, not to a user or a session. It holds no per-user data.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from assistant.cookie_tickets import DEVICE_MAX_AGE
from assistant.credentials import (
    MAX_PASSWORD,
    AccountError,
    PasswordRejectedError,
    RegistrationError,
    SignInError,
    ThrottledError,
    check_password,
    common_passwords,
    normalize_username,
    offered_password,
    username_key,
)
from assistant.store import Store, User
from assistant.store.database import utc_now
from assistant.store.users import OverLimitError, UsernameTakenError
from assistant.throttling import Judgement, RateLimit, Throttle, throttle_key
from assistant.tokens import looks_like_token, new_token, token_hash

log = logging.getLogger(__name__)

#: At most this many password hashes computed at once in this process (see module docstring).
HASH_SLOTS = threading.BoundedSemaphore(2)

#: The defaults (the README's Security section states them).
ACCOUNT_THROTTLE = Throttle(free_failures=5)
CLIENT_THROTTLE = Throttle(free_failures=20)
DEVICE_THROTTLE = Throttle(free_failures=5)
GUEST_LIMIT = RateLimit(50, timedelta(minutes=10))

#: Column sizes of what single sign-on hands over (`assistant.store.models`).
_MAX_ISSUER, _MAX_SUBJECT, _MAX_EMAIL, _MAX_NAME = 500, 255, 320, 200


class SessionEndedError(AccountError):
    sentence = "Your session has ended. Please sign in again."


class GuestLimitError(AccountError):
    sentence = (
        "Too many new guest sessions from your network; please wait a few minutes or sign in."
    )


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A user and the tokens to keep in the browser's cookies (never logged).

    `device_token` is set after a password proved itself (register, sign-in): the browser's
    device cookie, which later exempts it from the account's and the address's throttling.
    """

    user: User
    token: str = field(repr=False)
    device_token: str | None = field(default=None, repr=False)


class Purged(NamedTuple):
    """What one `Accounts.purge_expired` removed."""

    sessions: int
    guests: int
    other: int  # expired cookie tickets, stale device trust, finished counters and failures


class Accounts:
    """Account operations over a `Store`; one per process, shared by all sessions."""

    def __init__(
        self,
        store: Store,
        *,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] = utc_now,
        session_idle: timedelta = timedelta(days=30),
        account_throttle: Throttle = ACCOUNT_THROTTLE,
        client_throttle: Throttle = CLIENT_THROTTLE,
        device_throttle: Throttle = DEVICE_THROTTLE,
        failure_window: timedelta = timedelta(hours=1),
        guest_limit: RateLimit = GUEST_LIMIT,
        device_lifetime: timedelta = DEVICE_MAX_AGE,
    ) -> None:
        self._store = store
        self._users = store.users
        self._browsers = store.browsers
        self._hasher = hasher or PasswordHasher()
        self._now = clock
        self.session_idle = session_idle
        self._account_throttle = account_throttle
        self._client_throttle = client_throttle
        self._device_throttle = device_throttle
        self._failure_window = failure_window
        self._guest_limit = guest_limit
        self._device_lifetime = device_lifetime
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

    def _trusted_device(self, user: User | None, device_token: str | None) -> str | None:
        """The device's hash when this browser signed in to `user` with its password before."""
        if user is None or not device_token or not looks_like_token(device_token):
            return None
        device = token_hash(device_token)
        since = self._now() - self._device_lifetime
        return device if self._browsers.device_trusted(device, user.id, since) else None

    def _judge(
        self, key: str, user: User | None, client_key: str, device_token: str | None
    ) -> Judgement:
        """The failure counts that judge this attempt (see the module docstring)."""
        device = self._trusted_device(user, device_token)
        if user is not None and device is not None:
            device_key = throttle_key("device", f"{user.id}\x00{device}")
            return Judgement({device_key: self._device_throttle}, trusted=True)
        keys = {throttle_key("account", key): self._account_throttle}
        if client_key:
            keys[throttle_key("client", client_key)] = self._client_throttle
        return Judgement(keys, trusted=False)

    def _check_throttle(self, judgement: Judgement) -> None:
        now = self._now()
        keys = judgement.keys
        counts = self._users.failures(list(keys), now - self._failure_window)
        wait = 0.0
        for key, (failures, last) in counts.items():
            ready = last + timedelta(seconds=keys[key].delay(failures))
            wait = max(wait, (ready - now).total_seconds())
        if wait > 0:
            raise ThrottledError(wait)

    def _fail(self, judgement: Judgement) -> SignInError:
        now = self._now()
        self._users.record_failure(list(judgement.keys), now, now - self._failure_window)
        log.info("accounts: failed sign-in (key %s…)", next(iter(judgement.keys))[:12])
        return SignInError()

    def _succeed(self, judgement: Judgement, user: User, device_token: str | None) -> str:
        """Forget the failures that judged this attempt; returns the device token to keep.

        A trusted device's success clears that device's count only, never the account's: the
        owner signing in on their laptop must not hand an attacker a fresh set of free
        guesses. An untrusted success clears the account's count.
        """
        self._users.clear_failures([next(iter(judgement.keys))])  # the device's or account's
        known = device_token and looks_like_token(device_token)
        since = self._now() - self._device_lifetime
        if not (known and self._browsers.device_known(token_hash(str(device_token)), since)):
            device_token = new_token()  # reuse only a cookie this app gave out
        assert device_token is not None
        self._browsers.trust_device(token_hash(device_token), user.id, self._now())
        return device_token

    # -- sessions ----------------------------------------------------------------------------

    def _open_session(
        self, user: User, guest_token: str | None, device_token: str | None = None
    ) -> SignedIn:
        if guest_token:
            guest = self.current_user(guest_token)
            if guest is not None and guest.is_guest:
                self._users.claim_guest(guest.id, user.id)
        token = new_token()
        self._users.create_session(user.id, token_hash(token), self._now())
        return SignedIn(user, token, device_token)

    def current_user(self, token: str | None) -> User | None:
        """The user a session token belongs to; None when unknown, signed out or idle too long.

        Reads only, unless the session exists (its last use is renewed now and then).
        """
        if not token or not looks_like_token(token):
            return None
        return self._users.session_user(token_hash(token), self._now(), self.session_idle)

    def _require(self, token: str) -> User:
        user = self.current_user(token)
        if user is None:
            raise SessionEndedError()
        return user

    def start_guest(self, token: str | None = None, *, client_key: str = "") -> SignedIn:
        """Save a guest for this browser's session token (a new one when None), or find the
        guest it already is. Each new guest counts against `client_key`'s limit
        (GuestLimitError past it); an empty key is not counted."""
        token = token if token and looks_like_token(token) else new_token()
        limit = self._guest_limit
        count = (
            (throttle_key("guests", client_key), limit.count, limit.window) if client_key else None
        )
        try:
            user = self._users.create_guest_session(token_hash(token), self._now(), count)
        except OverLimitError:
            raise GuestLimitError() from None
        return SignedIn(user, token)

    def sign_out(self, token: str) -> None:
        if looks_like_token(token):
            self._users.delete_session(token_hash(token))

    def purge_expired(self) -> Purged:
        """Delete idle sessions, guests left without one (with their data), and expired
        tickets, stale device trust and old counters. Safe to run often, and from several
        processes at once: each step deletes in small batches, skipping rows another purge
        holds."""
        now = self._now()
        cutoff = now - self.session_idle
        sessions = self._users.purge_sessions(cutoff)
        guests = self._users.purge_guests(cutoff)
        window = max(self._failure_window, self._guest_limit.window)
        other = self._browsers.purge(now, self._device_lifetime, window)
        other += self._users.purge_failures(now - self._failure_window)
        return Purged(sessions, guests, other)

    # -- the account verbs ----------------------------------------------------------------------

    def register(self, username: str, password: str, *, guest_token: str | None = None) -> SignedIn:
        display, key = normalize_username(username)
        password = check_password(password, display)
        password_hash = self._hash(password)
        try:
            user = self._users.create_user(display, key, password_hash, self._now())
        except UsernameTakenError:
            raise RegistrationError() from None
        device = new_token()
        self._browsers.trust_device(token_hash(device), user.id, self._now())
        return self._open_session(user, guest_token, device)

    def sign_in(
        self,
        username: str,
        password: str,
        *,
        client_key: str = "",
        guest_token: str | None = None,
        device_token: str | None = None,
    ) -> SignedIn:
        """Sign in with a password; SignInError (or ThrottledError) says no, the same way.

        `device_token` is the browser's device cookie, if it has one (see module docstring).
        """
        key = username_key(username)
        offered = offered_password(password)
        if key is None or offered is None:
            raise SignInError()  # too long to be anyone's: refused before any work
        found = self._users.credentials(key)
        judgement = self._judge(key, found.user if found else None, client_key, device_token)
        self._check_throttle(judgement)
        ok = self._verify(found.password_hash if found else None, offered)
        if not ok or found is None:
            raise self._fail(judgement)
        device = self._succeed(judgement, found.user, device_token)
        if found.password_hash and self._hasher.check_needs_rehash(found.password_hash):
            self._users.set_password_hash(found.user.id, self._hash(offered), None)
        return self._open_session(found.user, guest_token, device)

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
        issuer, audience and expiry. Over-long fields are refused (issuer, subject) or dropped
        (e-mail) or cut (display name) before they reach the database.
        """
        if not issuer or not subject or len(issuer) > _MAX_ISSUER or len(subject) > _MAX_SUBJECT:
            raise SignInError("Single sign-on did not return an identity.")
        email = email if email and len(email) <= _MAX_EMAIL else None
        name = name[:_MAX_NAME] if name else None
        user = self._users.identity_user(issuer, subject)
        if user is None:
            user = self._users.create_identity_user(issuer, subject, email, name, self._now())
        return self._open_session(user, guest_token)

    def change_password(
        self,
        token: str,
        current_password: str,
        new_password: str,
        *,
        client_key: str = "",
        device_token: str | None = None,
    ) -> None:
        """Change the password and end every other session of the user."""
        user = self._require(token)
        self._reauthenticate(user, current_password, client_key, device_token)
        new_password = check_password(new_password, user.username or "")
        self._users.set_password_hash(user.id, self._hash(new_password), self._now())
        self._users.delete_sessions(user.id, keep=token_hash(token))

    def delete_account(
        self,
        token: str,
        password: str = "",
        *,
        client_key: str = "",
        device_token: str | None = None,
    ) -> None:
        """Delete the account and all its data; accounts with a password must give it."""
        user = self._require(token)
        if self._users.password_hash(user.id) is not None:
            self._reauthenticate(user, password, client_key, device_token)
        self._users.delete_user(user.id)

    def _reauthenticate(
        self, user: User, password: str, client_key: str, device_token: str | None
    ) -> None:
        offered = offered_password(password)
        if offered is None:
            raise SignInError()
        key = username_key(user.username or "") or f"#{user.id}"
        judgement = self._judge(key, user, client_key, device_token)
        self._check_throttle(judgement)
        if not self._verify(self._users.password_hash(user.id), offered):
            raise self._fail(judgement)


__all__ = [
    "HASH_SLOTS",
    "MAX_PASSWORD",
    "AccountError",
    "Accounts",
    "GuestLimitError",
    "PasswordRejectedError",
    "Purged",
    "RateLimit",
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
