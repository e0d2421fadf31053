"""Rows behind personal API keys: the keys, the streams they hold, the threads they continue.

No hashing and no policy here: `assistant.api_keys` makes tokens, hashes them and decides the
limits, and passes the time in. Every read and write of a key names its owner, except the two
that start from a secret (the token's hash) and the operator's revoke-by-id.

Admission (`admit`) is one write transaction that locks the key's row first (`FOR UPDATE` on
PostgreSQL; SQLite has one writer anyway), so two requests of one key arriving together on two
replicas cannot both take the last stream or the last request of the minute. On SQLite the
API's writes (admissions, streams given back, threads) queued at the same moment are committed
together (`Database.write_grouped`): under a burst, every transaction costs far more than its
statements, as the writer waits for the GIL between them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.errors import AssistantError
from assistant.store import models as m
from assistant.store.database import Database
from assistant.store.messages import upsert
from assistant.store.records import User
from assistant.store.users import user_record


class PublicIdTakenError(Exception):
    """Internal: a new key's random public id collided; `assistant.api_keys` draws another."""


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str  # the public id
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class Limits:
    requests_per_window: int
    window: timedelta
    streams: int
    stream_ttl: timedelta


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request let in: whose key it is, and the stream it holds (None when it takes none)."""

    key_id: str
    user: User
    stream_id: int | None


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a request was not let in: "key" (unknown, revoked, or its owner is gone),
    "requests" or "streams" (over a limit; `retry_after` seconds until one frees up, when
    known)."""

    reason: str
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class _Admission:
    token_hash: str
    now: datetime
    limits: Limits
    take_stream: bool


@dataclass(frozen=True, slots=True)
class _Decided:
    outcome: Admitted | Refused


def _admit_all(session: Session, batch: Sequence[_Admission]) -> list[_Decided | AssistantError]:
    """Each admission in turn, in one transaction: those of one key see each other's counts."""
    return [_Decided(_admit(session, item)) for item in batch]


def _admit(session: Session, item: _Admission) -> Admitted | Refused:
    """One admission in plain statements (no ORM objects: this runs before every API turn's
    model call): lock and read the key with its owner, count the live streams, then write."""
    now, limits = item.now, item.limits
    key = m.ApiKey.__table__.c
    found = session.execute(
        select(key.id, key.public_id, key.revoked_at, key.window_started_at)
        .add_columns(key.window_requests, m.User)
        .join(m.User, m.User.id == key.owner_id)
        .where(key.token_hash == item.token_hash)
        .with_for_update(of=m.ApiKey.__table__)
    ).first()
    if found is None:
        return Refused("key")
    key_id, public_id, revoked_at, started, used, owner = found
    if revoked_at is not None or owner.is_guest:
        return Refused("key")
    if started is None or now - started >= limits.window:
        started, used = now, 0
    if used >= limits.requests_per_window:
        return Refused("requests", (started + limits.window - now).total_seconds())
    stream_id = None
    if item.take_stream:
        stream_id = _take_stream(session, key_id, now, limits)
        if stream_id is None:
            return Refused("streams")
    session.execute(
        update(m.ApiKey)
        .where(key.id == key_id)
        .values(window_started_at=started, window_requests=used + 1, last_used_at=now)
    )
    return Admitted(public_id, user_record(owner), stream_id)


def _take_stream(session: Session, key_id: int, now: datetime, limits: Limits) -> int | None:
    """A stream slot, unless the key's live ones (not expired) are at the limit; expired rows
    (their process died) are deleted only then, off the common path."""
    streams = m.ApiStream.__table__.c
    live = (streams.key_id == key_id) & (streams.expires_at > now)
    count = session.execute(select(func.count()).where(live)).scalar_one()
    if count >= limits.streams:
        session.execute(
            delete(m.ApiStream).where(streams.key_id == key_id, streams.expires_at <= now)
        )
        return None
    inserted = session.execute(
        insert(m.ApiStream)
        .values(key_id=key_id, expires_at=now + limits.stream_ttl)
        .returning(streams.id)
    )
    return int(inserted.scalar_one())


def _release_all(session: Session, batch: Sequence[tuple[int, ...]]) -> list[AssistantError | None]:
    ids = sorted({stream_id for stream_ids in batch for stream_id in stream_ids})
    session.execute(delete(m.ApiStream).where(m.ApiStream.id.in_(ids)))
    return [None] * len(batch)


@dataclass(frozen=True, slots=True)
class _Thread:
    owner_id: int
    digest: str
    conversation_id: str
    now: datetime


@dataclass(frozen=True, slots=True)
class _Remembered:
    outcome: bool


def _remember_all(session: Session, batch: Sequence[_Thread]) -> list[_Remembered | AssistantError]:
    return [_Remembered(_remember(session, item)) for item in batch]


def _remember(session: Session, item: _Thread) -> bool:
    conversation = session.execute(
        select(m.Conversation.id).where(
            m.Conversation.public_id == item.conversation_id,
            m.Conversation.owner_id == item.owner_id,
        )
    ).scalar_one_or_none()
    if conversation is None:
        return False
    insert = upsert(session, m.ApiThread).values(
        owner_id=item.owner_id,
        digest=item.digest,
        conversation_id=conversation,
        created_at=item.now,
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[m.ApiThread.owner_id, m.ApiThread.digest],
            set_={"conversation_id": conversation, "created_at": item.now},
        )
    )
    return True


def _record(row: m.ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(row.public_id, row.label, row.created_at, row.last_used_at, row.revoked_at)


class ApiKeyStore:
    """Reached as `Store.api_keys`; used by `assistant.api_keys`, not by pages or routes."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- keys --------------------------------------------------------------------------------

    def create(
        self, owner_id: int, public_id: str, token_hash: str, label: str, now: datetime
    ) -> ApiKeyRecord:
        def work(session: Session) -> ApiKeyRecord:
            row = m.ApiKey(
                public_id=public_id,
                owner_id=owner_id,
                token_hash=token_hash,
                label=label,
                created_at=now,
                window_requests=0,
            )
            session.add(row)
            session.flush()
            return _record(row)

        try:
            return self._db.write(work)
        except IntegrityError as error:
            raise PublicIdTakenError() from error

    def count_active(self, owner_id: int) -> int:
        return self._db.read(
            lambda s: int(
                s.execute(
                    select(func.count())
                    .select_from(m.ApiKey)
                    .where(m.ApiKey.owner_id == owner_id, m.ApiKey.revoked_at.is_(None))
                ).scalar_one()
            )
        )

    def list_keys(self, owner_id: int) -> list[ApiKeyRecord]:
        """The owner's keys, newest first, revoked ones included."""
        return self._db.read(
            lambda s: [
                _record(row)
                for row in s.execute(
                    select(m.ApiKey)
                    .where(m.ApiKey.owner_id == owner_id)
                    .order_by(m.ApiKey.id.desc())
                ).scalars()
            ]
        )

    def revoke(self, public_id: str, now: datetime, *, owner_id: int | None) -> bool:
        """Revoke a key of `owner_id` (None: any owner's, for operators); False if there is no
        such active key."""
        statement = update(m.ApiKey).where(
            m.ApiKey.public_id == public_id, m.ApiKey.revoked_at.is_(None)
        )
        if owner_id is not None:
            statement = statement.where(m.ApiKey.owner_id == owner_id)
        revoked: int = self._db.write(
            lambda s: s.connection().execute(statement.values(revoked_at=now)).rowcount
        )
        return revoked > 0

    def inactive_among(self, public_ids: Sequence[str]) -> set[str]:
        """Those of `public_ids` that are revoked or gone (their owner deleted the account)."""
        wanted = set(public_ids)
        if not wanted:
            return set()
        active = self._db.read(
            lambda s: set(
                s.execute(
                    select(m.ApiKey.public_id).where(
                        m.ApiKey.public_id.in_(wanted), m.ApiKey.revoked_at.is_(None)
                    )
                ).scalars()
            )
        )
        return wanted - active

    # -- admission ---------------------------------------------------------------------------

    def admit(
        self, token_hash: str, now: datetime, limits: Limits, *, take_stream: bool
    ) -> Admitted | Refused:
        """Let a request in, or say why not, in one write (see the module docstring).

        A request that is let in is counted in its key's window (and takes a stream when asked);
        a refused one changes nothing, so a client waiting out a limit does not extend it.
        Admissions queued at the same moment on SQLite are written together (group commit):
        a burst of requests costs a few transactions, not one each."""
        item = _Admission(token_hash, now, limits, take_stream)
        return self._db.write_grouped("api_admit", item, _admit_all).outcome

    def release(self, stream_ids: Sequence[int]) -> None:
        """Give streams back (grouped with others queued at once on SQLite, like `admit`)."""
        if stream_ids:
            self._db.write_grouped("api_release", tuple(stream_ids), _release_all)

    def renew(self, stream_ids: Sequence[int], expires_at: datetime) -> None:
        if stream_ids:
            self._db.write(
                lambda s: s.execute(
                    update(m.ApiStream)
                    .where(m.ApiStream.id.in_(stream_ids))
                    .values(expires_at=expires_at)
                )
            )

    # -- threads -----------------------------------------------------------------------------

    def thread_conversation(self, owner_id: int, digest: str) -> str | None:
        """The public id of the owner's conversation that the turns with `digest` live in."""
        return self._db.read(
            lambda s: s.execute(
                select(m.Conversation.public_id)
                .join(m.ApiThread, m.ApiThread.conversation_id == m.Conversation.id)
                .where(
                    m.ApiThread.owner_id == owner_id,
                    m.ApiThread.digest == digest,
                    m.Conversation.owner_id == owner_id,
                )
            ).scalar_one_or_none()
        )

    def remember_thread(
        self, owner_id: int, digest: str, conversation_id: str, now: datetime
    ) -> bool:
        """Record that the turns with `digest` are stored in the owner's `conversation_id`;
        False when that conversation is not the owner's (or no longer exists)."""

        item = _Thread(owner_id, digest, conversation_id, now)
        return self._db.write_grouped("api_thread", item, _remember_all).outcome


__all__ = [
    "Admitted",
    "ApiKeyRecord",
    "ApiKeyStore",
    "Limits",
    "PublicIdTakenError",
    "Refused",
]
