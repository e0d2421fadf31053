"""Rows about browsers rather than people: cookie tickets, trusted devices, per-key counters.

Like `users`, nothing here hashes or decides: `assistant.cookie_tickets` and
`assistant.accounts` pass hashes, sealed bytes and the time in.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import case, delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from assistant.store import messages
from assistant.store import models as m
from assistant.store.database import Database

TicketStatus = Literal["pending", "redeemed", "lost"]

#: Rows deleted per statement by the purge: short transactions, never a long lock.
PURGE_BATCH = 500
#: A used or expired ticket is kept this long, so the session that issued it can still see
#: whether the browser redeemed it.
TICKET_KEPT = timedelta(days=1)


def bump(session: Session, key: str, now: datetime, window: timedelta) -> int:
    """Count one hit for `key` in its fixed window (a window older than `window` restarts);
    returns the hits in the window, this one included. Runs in the caller's transaction, so a
    caller that refuses the hit by raising also takes it back."""
    stale = m.RateCount.window_started_at < now - window
    statement = (
        messages.upsert(session, m.RateCount)
        .values(key=key, hits=1, window_started_at=now)
        .on_conflict_do_update(
            index_elements=[m.RateCount.key],
            set_={
                "hits": case((stale, 1), else_=m.RateCount.hits + 1),
                "window_started_at": case((stale, now), else_=m.RateCount.window_started_at),
            },
        )
        .returning(m.RateCount.hits)
    )
    return int(session.execute(statement).scalar_one())


def purge_batches(
    db: Database,
    table: type[m.Base],
    condition: ColumnElement[bool],
    key: InstrumentedAttribute[Any],
) -> int:
    """Delete the rows matching `condition` a batch at a time; returns how many went.

    Each batch is its own short transaction. On PostgreSQL the batch skips rows another purge
    has locked, so two purges running at once neither wait for nor deadlock with each other.
    """
    chosen = (
        select(key)
        .where(condition)
        .order_by(key)
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    statement = delete(table).where(key.in_(chosen))

    def work(session: Session) -> int:
        return int(session.connection().execute(statement).rowcount)

    total = 0
    while True:
        done = db.write(work)
        total += done
        if done < PURGE_BATCH:
            return total


class BrowserStore:
    """Reached as `Store.browsers`; used by `assistant.accounts` and `assistant.cookie_tickets`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- trusted devices ----------------------------------------------------------------------

    def trust_device(self, token_hash: str, user_id: int, now: datetime) -> None:
        """Remember that this device signed in to this account (or renew that it did)."""

        def work(session: Session) -> None:
            statement = (
                messages.upsert(session, m.TrustedDevice)
                .values(token_hash=token_hash, user_id=user_id, created_at=now, last_used_at=now)
                .on_conflict_do_update(
                    index_elements=[m.TrustedDevice.token_hash, m.TrustedDevice.user_id],
                    set_={"last_used_at": now},
                )
            )
            session.execute(statement)

        with contextlib.suppress(IntegrityError):  # the account was deleted meanwhile
            self._db.write(work)

    def device_trusted(self, token_hash: str, user_id: int, since: datetime) -> bool:
        """Whether this device signed in to this account, last on or after `since`."""
        return self._device_used_since(token_hash, since, user_id)

    def device_known(self, token_hash: str, since: datetime) -> bool:
        """Whether any account trusts this device (its cookie is one this app gave out)."""
        return self._device_used_since(token_hash, since)

    def _device_used_since(
        self, token_hash: str, since: datetime, user_id: int | None = None
    ) -> bool:
        """Whether this device signed in on or after `since`: to this account, or to any."""
        conditions = [
            m.TrustedDevice.token_hash == token_hash,
            m.TrustedDevice.last_used_at >= since,
        ]
        if user_id is not None:
            conditions.append(m.TrustedDevice.user_id == user_id)
        return bool(
            self._db.read(lambda s: s.execute(select(exists().where(*conditions))).scalar())
        )

    # -- cookie tickets -----------------------------------------------------------------------

    def create_ticket(
        self,
        ticket_hash: str,
        sealed: bytes,
        bound_to: str | None,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        self._db.write(
            lambda s: s.add(
                m.CookieTicket(
                    ticket_hash=ticket_hash,
                    sealed=sealed,
                    bound_to=bound_to,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        )

    def redeem_ticket(
        self, ticket_hash: str, presented_hash: str | None, now: datetime
    ) -> bytes | None:
        """Mark a live, unused ticket used and hand back its sealed bytes, once.

        A ticket bound to a session cookie is only given to a request presenting that cookie
        (`presented_hash`); for anyone else it stays as it was. The row is locked while it is
        read (SQLite's write transaction, PostgreSQL's FOR UPDATE), so of two redeemers at
        once, on any replica, exactly one gets it. The sealed bytes are wiped as it is used.
        """

        live = (
            m.CookieTicket.ticket_hash == ticket_hash,
            m.CookieTicket.redeemed_at.is_(None),
            m.CookieTicket.expires_at > now,
        )

        def work(session: Session) -> bytes | None:
            row = session.execute(
                select(m.CookieTicket).where(*live).with_for_update()
            ).scalar_one_or_none()
            if row is None or row.bound_to not in (None, presented_hash):
                return None
            sealed = bytes(row.sealed)
            row.redeemed_at, row.sealed = now, b""
            return sealed

        # A read first: a made-up ticket (anyone can post one) never takes SQLite's write lock
        # away from the chat.
        found = self._db.read(lambda s: s.execute(select(exists().where(*live))).scalar())
        return self._db.write(work) if found else None

    def ticket_status(self, ticket_hash: str, now: datetime) -> TicketStatus:
        def work(session: Session) -> TicketStatus:
            row = session.execute(
                select(m.CookieTicket.redeemed_at, m.CookieTicket.expires_at).where(
                    m.CookieTicket.ticket_hash == ticket_hash
                )
            ).first()
            if row is None:
                return "lost"
            if row[0] is not None:
                return "redeemed"
            return "pending" if row[1] > now else "lost"

        return self._db.read(work)

    # -- upkeep -------------------------------------------------------------------------------

    def purge(self, now: datetime, device_lifetime: timedelta, count_window: timedelta) -> int:
        """Delete tickets a day past their expiry, devices unused for `device_lifetime` and
        finished counters."""
        return (
            purge_batches(
                self._db,
                m.CookieTicket,
                m.CookieTicket.expires_at < now - TICKET_KEPT,
                m.CookieTicket.id,
            )
            + purge_batches(
                self._db,
                m.TrustedDevice,
                m.TrustedDevice.last_used_at < now - device_lifetime,
                m.TrustedDevice.id,
            )
            + purge_batches(
                self._db,
                m.RateCount,
                m.RateCount.window_started_at < now - count_window,
                m.RateCount.key,
            )
        )


__all__ = ["PURGE_BATCH", "BrowserStore", "TicketStatus", "bump", "purge_batches"]
