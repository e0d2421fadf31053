"""Engine, transactions and migrations: the part of the store that differs between databases.

SQLite is opened the way a multi-user web process needs it:

- WAL journal, so readers never wait for the writer and the writer never waits for readers;
- `synchronous=FULL`, so a committed chat message survives a power cut, not only a crash;
- `foreign_keys=ON`, so the schema's cascades and restrictions actually run;
- a `busy_timeout`, so a writer waits for the lock instead of failing at once;
- a small page cache per connection (`PAGE_CACHE_KB`): the operating system caches the file;
- `secure_delete=ON`, so deleted rows are overwritten with zeros instead of lingering in free
  space; after an account or a conversation is deleted `forget_deleted()` checkpoints the WAL
  and truncates it, since the WAL still holds the pages as they were before the delete;
- write transactions start with `BEGIN IMMEDIATE`. A deferred transaction that reads and then
  writes must upgrade its read lock; two such sessions can each hold a read snapshot and wait
  for the other, and SQLite breaks that deadlock by failing one with "database is locked" at
  once, whatever the busy timeout. Taking the write lock at BEGIN means writers queue instead.
  Reads use plain deferred BEGIN and never block in WAL mode.

pysqlite's own transaction handling is switched off (`isolation_level = None`) so that
SQLAlchemy's "begin" event can emit the BEGIN we choose.

Writers in this process queue on one Python lock per SQLite database (the write gate). SQLite
has one writer at a time, and a writer that finds the file locked sleeps in its busy handler
(1, 2, 5 ... up to 100 ms) instead of being woken when the lock is free: with a hundred
sessions writing, new turns waited seconds behind other writes while the lock sat idle. Queued
on a Python lock, each writer starts the moment the previous one commits. `try_write` skips
instead of queueing (a reply's checkpoint tries again a moment later, so a busy database never
delays the tokens), and `write_grouped` commits writes queued at the same moment in one
transaction (group commit: whoever takes the gate writes everything queued by then). On
PostgreSQL, writers to different rows proceed at once: there is no gate and no grouping.

PostgreSQL keeps deleted rows in its table files until VACUUM makes the space reusable (and even
then the bytes stay until overwritten); that is the operator's job (see the README), not the
app's. PostgreSQL runs at READ COMMITTED; the store locks rows in a fixed order (conversation before
its messages), and a serialization failure or deadlock (SQLSTATE 40001/40P01) retries the whole
transaction, as does a SQLite lock that outlasted the busy timeout. Retries are bounded; what is
left is reported as `StoreBusyError`, a sentence, never the driver's "database is locked".
"""

from __future__ import annotations

import contextlib
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from assistant.errors import AssistantError, ConfigurationError

log = logging.getLogger(__name__)

T = TypeVar("T")
Item = TypeVar("Item")
Clock = Callable[[], datetime]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_WRITE = "assistant_write"
_TRANSIENT_SQLSTATES = {"40001", "40P01"}
#: SQLite's page cache per connection, in kB (its default is 2,000). Every pooled connection
#: keeps its own copy of the pages it read, on top of the operating system's cache of the same
#: file: with 25 connections the default could hold 50 MB of copies, which showed in the memory
#: of every idle session, while a long conversation opens as fast with the small cache.
PAGE_CACHE_KB = 128
#: How long (ms) `forget_deleted` waits for readers to leave the WAL before giving up on
#: truncating it this time (a chat write would otherwise queue behind it).
CHECKPOINT_WAIT_MS = 2000
#: Any constant; identifies the migration lock among PostgreSQL advisory locks.
_MIGRATION_LOCK = 0x61737374


class StoreError(AssistantError):
    sentence = "Your history could not be reached right now. Please try again in a moment."


class StoreBusyError(StoreError):
    retryable = True
    sentence = "The service is busy right now. Please try again in a moment."


def utc_now() -> datetime:
    return datetime.now(UTC)


def _casefold(value: str | None) -> str | None:
    return None if value is None else value.casefold()


def _is_transient(error: DBAPIError) -> bool:
    if isinstance(error, IntegrityError):
        return False
    code = getattr(error.orig, "sqlstate", None)
    if code in _TRANSIENT_SQLSTATES:
        return True
    message = str(error.orig).lower()
    return "database is locked" in message or "database is busy" in message


class Database:
    """One engine and the transaction runner every store operation goes through."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = utc_now,
        busy_timeout: float = 30.0,
        retry_budget: float = 30.0,
        pool_size: int = 5,
        max_overflow: int = 20,
    ) -> None:
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self.now = clock
        self._retry_budget = retry_budget
        self._busy_timeout = busy_timeout
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file::memory:"):
                raise ConfigurationError(
                    "DATABASE_URL must name a SQLite file (an in-memory database is not shared)."
                )
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                parsed,
                pool_size=pool_size,
                max_overflow=max_overflow,
                connect_args={"check_same_thread": False, "timeout": busy_timeout},
            )
            _configure_sqlite(engine, busy_timeout)
        elif self.dialect == "postgresql":
            engine = create_engine(
                parsed, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True
            )
        else:
            raise ConfigurationError("DATABASE_URL must be a sqlite:// or postgresql:// URL.")
        self.engine: Engine = engine
        self._write_engine = engine.execution_options(**{_WRITE: True})
        self._gate: threading.Lock | None = threading.Lock() if self.dialect == "sqlite" else None
        self._groups: dict[str, _Group[Any, Any]] = {}
        self._groups_lock = threading.Lock()

    def read(self, work: Callable[[Session], T]) -> T:
        return self._run(work, self.engine)

    def write(self, work: Callable[[Session], T]) -> T:
        with self._gated():
            return self._run(work, self._write_engine)

    def try_write(self, work: Callable[[Session], T]) -> tuple[bool, T | None]:
        """Write now unless another writer of this process holds the gate: (written, result)."""
        if self._gate is not None and not self._gate.acquire(blocking=False):
            return False, None
        try:
            return True, self._run(work, self._write_engine)
        finally:
            if self._gate is not None:
                self._gate.release()

    def write_grouped(
        self,
        group: str,
        item: Item,
        work: Callable[[Session, Sequence[Item]], Sequence[T | AssistantError]],
    ) -> T:
        """Write `item` with every other item of `group` queued when the gate comes free.

        `work` writes a batch in one transaction and returns one outcome per item: its result,
        or the error that stopped it alone (the others are still written).
        """
        if self._gate is None:
            (outcome,) = self.write(lambda session: work(session, [item]))
        else:
            outcome = self._group(group).write(item, work, self)
        if isinstance(outcome, AssistantError):
            raise outcome
        return outcome

    def _group(self, name: str) -> _Group[Any, Any]:
        with self._groups_lock:
            found = self._groups.get(name)
            if found is None:
                found = self._groups[name] = _Group()
            return found

    @contextlib.contextmanager
    def _gated(self) -> Iterator[None]:
        if self._gate is None:
            yield
            return
        with self._gate:
            yield

    def _run(self, work: Callable[[Session], T], bind: Engine) -> T:
        """Run `work` in one transaction, retrying it whole on lock contention."""
        deadline = time.monotonic() + self._retry_budget
        delay = 0.02
        while True:
            try:
                with Session(bind, expire_on_commit=False) as session, session.begin():
                    return work(session)
            except DBAPIError as error:
                if not _is_transient(error):
                    if error.connection_invalidated or isinstance(
                        error, (OperationalError, InterfaceError)
                    ):
                        raise StoreError(detail=type(error.orig).__name__) from error
                    raise
                if time.monotonic() + delay > deadline:
                    log.warning("store: gave up after lock contention (%s)", error.orig)
                    raise StoreBusyError(detail=str(error.orig)) from error
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)

    def migrate(self) -> None:
        """Bring the schema to the newest migration (safe to call from many replicas at once)."""
        config = Config()
        # Config values go through configparser interpolation: a literal % must be doubled.
        config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
        with self._write_engine.begin() as connection:
            if self.dialect == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def forget_deleted(self) -> None:
        """After deleting someone's data: make SQLite's files stop holding it.

        With `secure_delete` the database file's pages are zeroed as rows go, but the WAL still
        holds every page as it was written, deleted text included, until it is checkpointed
        and truncated. A reader still using the WAL makes the truncation wait; past
        `CHECKPOINT_WAIT_MS` it is left for the next checkpoint (logged). PostgreSQL: nothing
        to do here (VACUUM; see the module docstring).
        """
        if self.dialect != "sqlite":
            return
        # Through the write gate: this process's writers queue on it meanwhile, as usual.
        with self._gated():
            connection = self.engine.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
                busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                cursor.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
                cursor.close()
            finally:
                connection.close()
        if busy:
            log.info("store: the WAL was in use; deleted pages stay in it until a later checkpoint")

    def close(self) -> None:
        self.engine.dispose()


class _Group(Generic[Item, T]):
    """Items queued for one group commit, and what became of each (see `write_grouped`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[Item] = []
        self.outcomes: dict[int, T | AssistantError] = {}  # id(item) -> outcome

    def write(
        self,
        item: Item,
        work: Callable[[Session, Sequence[Item]], Sequence[T | AssistantError]],
        db: Database,
    ) -> T | AssistantError:
        with self.lock:
            self.items.append(item)
        with db._gated():
            with self.lock:
                batch, self.items = self.items, []
            if batch:
                outcomes: Sequence[T | AssistantError]
                try:
                    outcomes = db._run(lambda s: work(s, batch), db._write_engine)
                except AssistantError as exc:
                    outcomes = [exc] * len(batch)
                except Exception as exc:  # a bug must not leave the other writers without answer
                    log.exception("writing a group of %d failed", len(batch))
                    outcomes = [StoreError(detail=repr(exc))] * len(batch)
                with self.lock:
                    for queued, outcome in zip(batch, outcomes, strict=True):
                        self.outcomes[id(queued)] = outcome
            with self.lock:
                return self.outcomes.pop(id(item))


def _use_wal(cursor: Any, busy_timeout: float) -> None:
    """Switch the file to WAL once; the mode is stored in the file, so later opens only read it.

    Switching needs the file to itself, and SQLite does not call the busy handler for it: a
    replica opening a new database while another one migrates it got "database is locked".
    Such a switch is retried here until the busy timeout runs out.
    """
    deadline = time.monotonic() + busy_timeout
    while True:
        mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to the "begin" hook below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            _use_wal(cursor, busy_timeout)
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA secure_delete = ON")
            cursor.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KB}")
        finally:
            cursor.close()
        # SQLite's lower() only knows ASCII; search needs Unicode case folding.
        dbapi_connection.create_function("assistant_casefold", 1, _casefold, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


__all__ = ["Clock", "Database", "StoreBusyError", "StoreError", "utc_now"]
