"""Fixtures for storage tests: a real SQLite file and a real PostgreSQL server per test run.

The PostgreSQL server is started once per test session by `deploy/postgres.py` (the same
throwaway server `make cluster` starts: Debian's binaries, a temporary folder, a free loopback
port, fsync off). Each test starts from empty tables (in one database migrated once per
session; tests of migrations get a new, empty database); the server stops at the end. Without
the binaries the PostgreSQL half of the suite is skipped with the reason.

Test modules load these with `pytest_plugins = ("tests.store_fixtures",)`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.store import Store
from assistant.store.models import Base
from deploy import postgres


def run_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run `work(0)` ... `work(count - 1)` on `count` threads released together (as requests
    on several processes at once); returns what they raised, for the caller to assert on."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def body(n: int) -> None:
        try:
            start.wait()
            work(n)
        except BaseException as error:  # collected and asserted on by the caller
            errors.append(error)

    threads = [threading.Thread(target=body, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


class FakeClock:
    """A clock tests move by hand; every reading also ticks 1 ms so rows keep their order."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self._now += timedelta(milliseconds=1)
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


class PostgresServer(postgres.PostgresServer):
    """The throwaway server of `deploy/postgres.py`, with what the storage tests need."""

    def empty_tables(self, database: str) -> None:
        """Delete every row, children first; waits at most 10 s for a straggling connection."""
        import psycopg

        statements = ["SET lock_timeout = '10s'"] + [
            f'DELETE FROM "{table.name}"' for table in reversed(Base.metadata.sorted_tables)
        ]
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True
        ) as connection:
            for statement in statements:
                connection.execute(statement.encode())


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    reason = postgres.unavailable_reason()
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI must run the PostgreSQL tests ({reason}); `make postgres` installs it")
    if reason:
        pytest.skip(reason)
    started = postgres.start_postgres()
    server = PostgresServer(started.port, started.root)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> str:
    """One migrated database that every test starts from, emptied before each test.

    Emptying the tables costs about a millisecond; a CREATE DATABASE per test cost a fifth of
    a second, a third of this suite's time.
    """
    name = postgres_server.create_database()
    migrated = Store(postgres_server.url(name))
    try:
        migrated.migrate()
    finally:
        migrated.close()
    return name


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _database(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, migrated: bool
) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    if migrated:
        name = request.getfixturevalue("postgres_database")
        server.empty_tables(name)
        yield server.url(name)
        return
    # Not dropped after the test: a DROP forces a checkpoint (a quarter second each), and the
    # whole server folder is deleted at the end of the session anyway.
    yield server.url(server.create_database())


@pytest.fixture
def store_url(database_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database: a SQLite file or a PostgreSQL database."""
    yield from _database(database_kind, request, tmp_path, migrated=False)


@pytest.fixture
def migrated_url(
    database_kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """A database with no rows, that may already hold the schema (it does on PostgreSQL)."""
    yield from _database(database_kind, request, tmp_path, migrated=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(migrated_url: str, clock: FakeClock) -> Iterator[Store]:
    """A migrated store on a fresh database, reading time from `clock`."""
    opened = Store(migrated_url, clock=clock)
    opened.migrate()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def second_store(migrated_url: str, store: Store) -> Iterator[Store]:
    """Another connection pool on `store`'s database, as another replica has: it sees only
    what was committed."""
    other = Store(migrated_url)
    try:
        yield other
    finally:
        other.close()
