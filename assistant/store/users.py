"""Rows behind accounts: users, single-sign-on identities, sessions and sign-in throttling.

No hashing happens here and no policy is decided here: `assistant.accounts` computes password
hashes, token hashes and delays, and passes the time in, so its clock rules expiry and
throttling. Throttling lives in the database so that every replica sees the same counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.store import browsers, conversations, custom_roles, messages
from assistant.store import models as m
from assistant.store.database import Database
from assistant.store.records import User

log = logging.getLogger(__name__)

#: Writing last_seen on every page load would make every rerun a write; once a minute is enough.
TOUCH_EVERY = timedelta(minutes=1)


def prune_images(db: Database) -> None:
    """Delete images no message links to any more, in a transaction of their own.

    On PostgreSQL a message being written at the same moment may link one of them; the
    foreign key then refuses the delete, which is right: the image stays for the next prune.
    """
    try:
        db.write(messages.prune_orphan_images)
    except IntegrityError:
        log.info("store: an image became linked again while pruning; kept for the next prune")


class UsernameTakenError(Exception):
    """Internal: `assistant.accounts` turns it into the user's sentence."""


class OverLimitError(Exception):
    """Internal: a counted action went past its limit; `assistant.accounts` says so."""


@dataclass(frozen=True, slots=True)
class Credentials:
    user: User
    password_hash: str | None


def user_record(row: m.User) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        email=row.email,
        is_guest=row.is_guest,
        created_at=row.created_at,
    )


class AccountStore:
    """Reached as `Store.users`; used by `assistant.accounts`, not by pages."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create_user(
        self, username: str, username_key: str, password_hash: str, now: datetime
    ) -> User:
        def work(session: Session) -> User:
            taken = session.execute(
                select(exists().where(m.User.username_key == username_key))
            ).scalar()
            if taken:
                raise UsernameTakenError()
            row = m.User(
                username=username,
                username_key=username_key,
                password_hash=password_hash,
                is_guest=False,
                created_at=now,
                password_changed_at=now,
            )
            session.add(row)
            session.flush()
            return user_record(row)

        try:
            return self._db.write(work)
        except IntegrityError as error:  # a concurrent registration won the race
            raise UsernameTakenError() from error

    def create_guest(self, now: datetime) -> User:
        def work(session: Session) -> User:
            row = m.User(is_guest=True, created_at=now)
            session.add(row)
            session.flush()
            return user_record(row)

        return self._db.write(work)

    def create_guest_session(
        self, token_hash: str, now: datetime, count: tuple[str, int, timedelta] | None = None
    ) -> User:
        """A guest and its session for this token hash, in one transaction; the existing user
        when the token already has a session (two tabs saving the same guest at once).

        `count` is (key, limit, window): one more guest counted under `key`, refused with
        OverLimitError past `limit` in the window (the refusal is not counted).
        """

        def existing(session: Session) -> User | None:
            row = session.execute(
                select(m.User)
                .join(m.AuthSession, m.AuthSession.user_id == m.User.id)
                .where(m.AuthSession.token_hash == token_hash)
            ).scalar_one_or_none()
            return None if row is None else user_record(row)

        def work(session: Session) -> User:
            found = existing(session)
            if found is not None:
                return found
            if count is not None:
                key, limit, window = count
                if browsers.bump(session, key, now, window) > limit:
                    raise OverLimitError()
            row = m.User(is_guest=True, created_at=now)
            session.add(row)
            session.flush()
            session.add(
                m.AuthSession(
                    token_hash=token_hash, user_id=row.id, created_at=now, last_seen_at=now
                )
            )
            session.flush()
            return user_record(row)

        try:
            return self._db.write(work)
        except IntegrityError:  # the other tab's transaction won: its guest is ours too
            found = self._db.read(existing)
            if found is None:
                raise
            return found

    def get_user(self, user_id: int) -> User | None:
        def work(session: Session) -> User | None:
            row = session.get(m.User, user_id)
            return None if row is None else user_record(row)

        return self._db.read(work)

    def credentials(self, username_key: str) -> Credentials | None:
        def work(session: Session) -> Credentials | None:
            row = session.execute(
                select(m.User).where(m.User.username_key == username_key)
            ).scalar_one_or_none()
            return None if row is None else Credentials(user_record(row), row.password_hash)

        return self._db.read(work)

    def password_hash(self, user_id: int) -> str | None:
        return self._db.read(
            lambda s: s.execute(
                select(m.User.password_hash).where(m.User.id == user_id)
            ).scalar_one_or_none()
        )

    def set_password_hash(
        self, user_id: int, password_hash: str, changed_at: datetime | None
    ) -> None:
        values: dict[str, object] = {"password_hash": password_hash}
        if changed_at is not None:
            values["password_changed_at"] = changed_at
        self._db.write(
            lambda s: s.execute(update(m.User).where(m.User.id == user_id).values(**values))
        )

    # -- single sign-on -------------------------------------------------------------------

    def identity_user(self, issuer: str, subject: str) -> User | None:
        def work(session: Session) -> User | None:
            row = session.execute(
                select(m.User)
                .join(m.Identity, m.Identity.user_id == m.User.id)
                .where(m.Identity.issuer == issuer, m.Identity.subject == subject)
            ).scalar_one_or_none()
            return None if row is None else user_record(row)

        return self._db.read(work)

    def create_identity_user(
        self, issuer: str, subject: str, email: str | None, name: str | None, now: datetime
    ) -> User:
        """Create the account for a first single sign-on; a concurrent twin returns the same."""

        def work(session: Session) -> User:
            row = m.User(is_guest=False, display_name=name, email=email, created_at=now)
            session.add(row)
            session.flush()
            session.add(
                m.Identity(
                    user_id=row.id, issuer=issuer, subject=subject, email=email, created_at=now
                )
            )
            session.flush()
            return user_record(row)

        try:
            return self._db.write(work)
        except IntegrityError:
            found = self.identity_user(issuer, subject)
            if found is None:
                raise
            return found

    # -- sessions ---------------------------------------------------------------------------

    def create_session(self, user_id: int, token_hash: str, now: datetime) -> None:
        self._db.write(
            lambda s: s.add(
                m.AuthSession(
                    token_hash=token_hash, user_id=user_id, created_at=now, last_seen_at=now
                )
            )
        )

    def session_user(self, token_hash: str, now: datetime, idle: timedelta) -> User | None:
        """The user of a live session; an idle one is deleted and gives None."""

        def read(session: Session) -> tuple[User, datetime] | None:
            row = session.execute(
                select(m.User, m.AuthSession.last_seen_at)
                .join(m.AuthSession, m.AuthSession.user_id == m.User.id)
                .where(m.AuthSession.token_hash == token_hash)
            ).first()
            return None if row is None else (user_record(row[0]), row[1])

        found = self._db.read(read)
        if found is None:
            return None
        user, last_seen = found
        if now - last_seen > idle:
            self.delete_session(token_hash)
            return None
        if now - last_seen >= TOUCH_EVERY:
            self._db.write(
                lambda s: s.execute(
                    update(m.AuthSession)
                    .where(m.AuthSession.token_hash == token_hash)
                    .values(last_seen_at=now)
                )
            )
        return user

    def delete_session(self, token_hash: str) -> None:
        self._db.write(
            lambda s: s.execute(delete(m.AuthSession).where(m.AuthSession.token_hash == token_hash))
        )

    def delete_sessions(self, user_id: int, *, keep: str | None = None) -> None:
        """End every session of a user, except the one whose hash is `keep`."""
        statement = delete(m.AuthSession).where(m.AuthSession.user_id == user_id)
        if keep is not None:
            statement = statement.where(m.AuthSession.token_hash != keep)
        self._db.write(lambda s: s.execute(statement))

    def purge_sessions(self, cutoff: datetime) -> int:
        """Delete sessions last seen before `cutoff`; returns how many."""
        return browsers.purge_batches(
            self._db, m.AuthSession, m.AuthSession.last_seen_at < cutoff, m.AuthSession.id
        )

    def purge_guests(self, cutoff: datetime) -> int:
        """Delete guests created before `cutoff` that have no session left, with everything
        they wrote; returns how many."""
        live = exists().where(m.AuthSession.user_id == m.User.id)
        abandoned = m.User.is_guest & (m.User.created_at < cutoff) & ~live
        deleted = browsers.purge_batches(self._db, m.User, abandoned, m.User.id)
        if deleted:
            prune_images(self._db)
            self._db.forget_deleted()
        return deleted

    def purge_failures(self, since: datetime) -> int:
        """Delete failure counts whose last failure is before `since`."""
        return browsers.purge_batches(
            self._db, m.LoginFailure, m.LoginFailure.last_failure_at < since, m.LoginFailure.key
        )

    # -- throttling ---------------------------------------------------------------------------

    def failures(self, keys: list[str], since: datetime) -> dict[str, tuple[int, datetime]]:
        """Failure counts per key, counting only keys whose last failure is after `since`."""

        def work(session: Session) -> dict[str, tuple[int, datetime]]:
            rows = session.execute(
                select(m.LoginFailure).where(
                    m.LoginFailure.key.in_(keys), m.LoginFailure.last_failure_at >= since
                )
            ).scalars()
            return {row.key: (row.failures, row.last_failure_at) for row in rows}

        return self._db.read(work)

    def record_failure(self, keys: list[str], now: datetime, since: datetime) -> None:
        """Count one more failure per key; a count whose last failure predates `since` restarts."""

        def work(session: Session) -> None:
            for key in sorted(keys):  # a fixed order, so concurrent writers cannot deadlock
                insert = messages.upsert(session, m.LoginFailure).values(
                    key=key, failures=1, last_failure_at=now
                )
                restart = m.LoginFailure.last_failure_at < since
                session.execute(
                    insert.on_conflict_do_update(
                        index_elements=[m.LoginFailure.key],
                        set_={
                            "failures": case((restart, 1), else_=m.LoginFailure.failures + 1),
                            "last_failure_at": now,
                        },
                    )
                )
            session.execute(delete(m.LoginFailure).where(m.LoginFailure.last_failure_at < since))

        self._db.write(work)

    def clear_failures(self, keys: list[str]) -> None:
        self._db.write(
            lambda s: s.execute(delete(m.LoginFailure).where(m.LoginFailure.key.in_(keys)))
        )

    # -- whole accounts ---------------------------------------------------------------------

    def claim_guest(self, guest_id: int, user_id: int) -> int:
        """Move a guest's conversations and roles to an account and delete the guest.

        Only a row marked as guest can be claimed, so a wrong id cannot pull in someone's
        account. Returns how many conversations moved.
        """

        def work(session: Session) -> int:
            guest = session.execute(
                select(m.User).where(m.User.id == guest_id, m.User.is_guest)
            ).scalar_one_or_none()
            if guest is None or guest_id == user_id:
                return 0
            custom_roles.claim(session, guest_id, user_id)
            moved = conversations.claim_conversations(session, guest_id, user_id)
            session.execute(delete(m.User).where(m.User.id == guest_id))
            return moved

        return self._db.write(work)

    def delete_user(self, user_id: int) -> None:
        """Delete the account and, through the schema's cascades, everything it owns."""
        self._db.write(lambda s: s.execute(delete(m.User).where(m.User.id == user_id)))
        prune_images(self._db)
        self._db.forget_deleted()


__all__ = [
    "AccountStore",
    "Credentials",
    "OverLimitError",
    "UsernameTakenError",
    "prune_images",
    "user_record",
]
