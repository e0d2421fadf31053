"""Fixtures for storage tests: a real SQLite file and a real PostgreSQL server per test run.

The PostgreSQL server is started once per test session from Debian's binaries
(`/usr/lib/postgresql/15/bin`), in a temporary folder, on a free loopback port, with its unix
socket in that folder too. As root (here and in CI) it runs as the `postgres` OS user, since
PostgreSQL refuses to run as root. Each test starts from empty tables (in one database migrated
once per session; tests of migrations get a new, empty database); the server stops at the end.
Without the binaries the PostgreSQL half of the suite is skipped with the reason.

The test server runs with fsync off: that only makes the tests faster; durability across a
power cut cannot be tested here anyway.

Test modules load these with `pytest_plugins = ("tests.store_fixtures",)`.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.store import Store
from assistant.store.models import Base

PG_BIN = Path("/usr/lib/postgresql/15/bin")
REPO = Path(__file__).resolve().parent.parent


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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_unavailable() -> str | None:
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / tool).exists():
            return f"PostgreSQL binaries not found in {PG_BIN} (apt-get install postgresql-15)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "no 'postgres' OS user to run the PostgreSQL server as"
        if shutil.which("runuser") is None and shutil.which("su") is None:
            return "neither runuser nor su is available to drop root for PostgreSQL"
    return None


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *command]
    return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(command)]


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=cwd)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed:\n{done.stdout}\n{done.stderr}")


@dataclass
class PostgresServer:
    port: int
    root: Path

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(sql.encode())

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return name

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
    reason = _postgres_unavailable()
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI must run the PostgreSQL tests ({reason}); `make postgres` installs it")
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="assistant-pg-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
    data = root / "data"
    port = _free_port()
    initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    _run(_as_postgres([*initdb, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]), root)
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data)]
    _run(_as_postgres([*pg_ctl, "-l", str(root / "log"), "-w", "-o", options, "start"]), root)
    try:
        yield PostgresServer(port, root)
    finally:
        subprocess.run(
            _as_postgres([*pg_ctl, "-m", "fast", "-w", "stop"]),
            capture_output=True,
            timeout=60,
            cwd=root,
        )
        shutil.rmtree(root, ignore_errors=True)


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
