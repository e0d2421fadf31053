"""A throwaway PostgreSQL 15 server: `make cluster` and the test suite start it the same way.

It runs from Debian's binaries (`/usr/lib/postgresql/15/bin`) in a folder of its own, on a
loopback port, with its unix socket in that folder too, and trusts local connections (it
listens on 127.0.0.1 only). As root (here and in CI) it runs as the `postgres` OS user, since
PostgreSQL refuses to run as root. `fsync` is off: the data is deleted when the server stops,
so there is no durability to pay for.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unavailable_reason() -> str | None:
    """Why a throwaway server cannot start here, or None when it can."""
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
    """A running throwaway server; `stop()` ends it and deletes its folder."""

    port: int
    root: Path

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str, database: str = "postgres") -> None:
        """Run one statement as the superuser, outside a transaction."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True
        ) as connection:
            connection.execute(sql.encode())

    def create_database(self, name: str | None = None) -> str:
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        self.admin(f'CREATE DATABASE "{name}"')
        return name

    def stop(self) -> None:
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w"]
        try:
            subprocess.run(
                _as_postgres([*pg_ctl, "stop"]), capture_output=True, timeout=60, cwd=self.root
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(max_connections: int = 200) -> PostgresServer:
    """initdb a new cluster in a temporary folder and start it; raises RuntimeError on failure.

    Call `unavailable_reason()` first for a sentence about what is missing.
    """
    root = Path(tempfile.mkdtemp(prefix="assistant-pg-"))
    try:
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(root, account.pw_uid, account.pw_gid)
        data = root / "data"
        port = free_port()
        initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
        _run(_as_postgres([*initdb, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]), root)
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"-c full_page_writes=off -c max_connections={max_connections}"
        )
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data)]
        _run(_as_postgres([*pg_ctl, "-l", str(root / "log"), "-w", "-o", options, "start"]), root)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return PostgresServer(port, root)
