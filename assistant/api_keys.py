"""Personal API keys: made, listed and revoked by their owner; checked and limited per request.

    keys = ApiKeys(store, limits=KeyLimits(requests_per_minute=60, streams=4))
    made = keys.create(user, "laptop script")     # made.token is shown once, never stored
    caller = keys.admit(made.token, stream=True)  # who is asking; holds one of the key's streams
    keys.release(caller)                          # when the reply has ended

Choices, with their reasons:

- A token is `mra_<id>_<secret>`: `id` is 12 random hex digits, public (lists, revoking, logs),
  `secret` is 32 random bytes. Only the sha256 of the whole token is stored. A fast hash is
  enough because the token is random: guessing 256 bits is hopeless, so the slow, salted hashes
  that protect passwords (Argon2id) add nothing here, and at ~50 ms and 64 MiB per check they
  would make every API request slow and cheap to flood. A copy of the database lets nobody
  call the API.
- Guests have no keys: a key outlives any browser, and a guest's data is purged when its
  session ends.
- Limits are per key and shared by every replica through the database (like sign-in
  throttling): requests per minute in a fixed window counted on the key's own row, and replies
  running at once as rows that hold a stream. A row is renewed by its process while the reply
  runs and expires `stream_ttl` after a crash, so a dead replica cannot hold a key's streams for
  long. Admission is one write that counts only requests it lets in.
- Revocation takes effect at the next request (every request reads the key), and open streams
  are ended by their server, which asks `inactive_among` about the keys it serves every second.
- OpenAI clients send the whole conversation with every request. `thread_digest` names the
  turns answered so far; after a reply the API remembers which stored conversation holds them,
  so the next request that repeats them (and adds a message) continues that conversation.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from assistant.context import ChatTurn
from assistant.errors import AssistantError, InputError
from assistant.store import NotFoundError, Store, User
from assistant.store.api_keys import (
    Admitted,
    ApiKeyRecord,
    Limits,
    PublicIdTakenError,
    Refused,
)
from assistant.store.database import utc_now

TOKEN_PREFIX = "mra_"
_TOKEN = re.compile(r"mra_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")
MAX_LABEL = 80
DEFAULT_LABEL = "API key"
#: Active keys one account may hold: enough for every device and script, not a flood of rows.
MAX_KEYS = 20


class InvalidApiKeyError(AssistantError):
    sentence = (
        "The API key is missing, wrong or revoked. Create a key on the Account page and send "
        "it as 'Authorization: Bearer <key>'."
    )


class KeyRateLimitedError(AssistantError):
    """This key is over one of its limits; `retry_after` seconds until it frees up, if known."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ApiKeyNotFoundError(NotFoundError):
    sentence = "That key was not found. It may have been revoked already."


@dataclass(frozen=True, slots=True)
class KeyLimits:
    requests_per_minute: int = 60
    streams: int = 4
    #: How long a stream's row holds after its process last renewed it (see module docstring).
    stream_ttl: timedelta = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A key just made: `token` is shown to its owner once and kept nowhere."""

    key: ApiKeyRecord
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request comes from: the key's public id, its owner, the stream it holds."""

    key_id: str
    user: User
    stream_id: int | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def key_id_of(token: str) -> str | None:
    """The public id inside a token-shaped string; None for anything else."""
    match = _TOKEN.fullmatch(token)
    return match.group(1) if match else None


def thread_digest(turns: Sequence[ChatTurn]) -> str:
    """A name for a conversation's turns: roles, texts and how many images each carried."""
    canonical = json.dumps(
        [[turn.role, turn.text, len(turn.images)] for turn in turns],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def clean_label(label: str) -> str:
    text = " ".join(unicodedata.normalize("NFKC", label).split())
    if len(text) > MAX_LABEL:
        raise InputError(f"A key's name has at most {MAX_LABEL} characters.")
    return text or DEFAULT_LABEL


class ApiKeys:
    """Key operations over a `Store`; one per process, shared by the app and the API."""

    def __init__(
        self,
        store: Store,
        *,
        limits: KeyLimits = KeyLimits(),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._keys = store.api_keys
        self.limits = limits
        self._now = clock

    # -- the owner's verbs ---------------------------------------------------------------------

    def create(self, user: User, label: str = "") -> NewApiKey:
        """A new key for `user` (not a guest), named `label`."""
        if user.is_guest:
            raise InputError("Guests cannot have API keys. Create an account or sign in first.")
        name = clean_label(label)
        if self._keys.count_active(user.id) >= MAX_KEYS:
            raise InputError(
                f"This account already has {MAX_KEYS} active keys. Revoke one to make another."
            )
        for _ in range(5):  # 48-bit public ids: a collision is rare, five in a row impossible
            public_id = secrets.token_hex(6)
            token = f"{TOKEN_PREFIX}{public_id}_{secrets.token_urlsafe(32)}"
            try:
                record = self._keys.create(user.id, public_id, token_hash(token), name, self._now())
            except PublicIdTakenError:
                continue
            return NewApiKey(record, token)
        raise AssistantError()

    def list(self, user_id: int) -> list[ApiKeyRecord]:
        """The user's keys, newest first, revoked ones included."""
        return self._keys.list_keys(user_id)

    def revoke(self, user_id: int, key_id: str) -> None:
        """Revoke one of the user's keys; another user's id is a key that does not exist."""
        if not self._keys.revoke(key_id, self._now(), owner_id=user_id):
            raise ApiKeyNotFoundError()

    def revoke_any(self, key_id: str) -> bool:
        """Revoke a key whoever owns it (operators); False if no such active key."""
        return self._keys.revoke(key_id, self._now(), owner_id=None)

    # -- requests -----------------------------------------------------------------------------

    def admit(self, token: str | None, *, stream: bool = False) -> Caller:
        """Check the key and count the request; with `stream`, take one of the key's streams
        (give it back with `release`). Raises `InvalidApiKeyError` or `KeyRateLimitedError`."""
        if not token or key_id_of(token) is None:
            raise InvalidApiKeyError()
        limits = Limits(
            requests_per_window=self.limits.requests_per_minute,
            window=timedelta(minutes=1),
            streams=self.limits.streams,
            stream_ttl=self.limits.stream_ttl,
        )
        outcome = self._keys.admit(token_hash(token), self._now(), limits, take_stream=stream)
        if isinstance(outcome, Admitted):
            return Caller(outcome.key_id, outcome.user, outcome.stream_id)
        return self._refusal(outcome)

    def _refusal(self, refused: Refused) -> Caller:
        if refused.reason == "requests":
            wait = max(1, math.ceil(refused.retry_after or 1))
            raise KeyRateLimitedError(
                f"This key has made {self.limits.requests_per_minute} requests in the last "
                f"minute, its limit. Please wait {wait} seconds and try again.",
                retry_after=wait,
            )
        if refused.reason == "streams":
            count = self.limits.streams
            running = f"{count} {'reply' if count == 1 else 'replies'} running"
            raise KeyRateLimitedError(
                f"This key already has {running}, its limit. "
                "Wait for one to finish, or stop one, and try again.",
                retry_after=1,
            )
        raise InvalidApiKeyError()

    def release(self, stream_ids: Sequence[int]) -> None:
        """Give back streams taken by `admit` (their replies have ended)."""
        self._keys.release(stream_ids)

    def renew(self, stream_ids: Sequence[int]) -> None:
        """Keep streams whose replies are still running held for another `stream_ttl`."""
        self._keys.renew(stream_ids, self._now() + self.limits.stream_ttl)

    def inactive_among(self, key_ids: Sequence[str]) -> set[str]:
        """Which of these keys have been revoked, or deleted with their owner's account."""
        return self._keys.inactive_among(key_ids)

    # -- threads ------------------------------------------------------------------------------

    def thread_conversation(self, user_id: int, turns: Sequence[ChatTurn]) -> str | None:
        """The user's stored conversation that the API answered with exactly these turns."""
        if not turns:
            return None
        return self._keys.thread_conversation(user_id, thread_digest(turns))

    def remember_thread(
        self, user_id: int, turns: Sequence[ChatTurn], conversation_id: str
    ) -> None:
        """After a reply: the turns through it live in `conversation_id`."""
        self._keys.remember_thread(user_id, thread_digest(turns), conversation_id, self._now())


__all__ = [
    "DEFAULT_LABEL",
    "MAX_KEYS",
    "MAX_LABEL",
    "TOKEN_PREFIX",
    "ApiKeyNotFoundError",
    "ApiKeyRecord",
    "ApiKeys",
    "Caller",
    "InvalidApiKeyError",
    "KeyLimits",
    "KeyRateLimitedError",
    "NewApiKey",
    "clean_label",
    "key_id_of",
    "thread_digest",
    "token_hash",
]
