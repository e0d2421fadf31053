"""The database every replica shares: DATABASE_URL checked, reached once, migrated once.

`python -m deploy.database` does the three for the URL in the environment and exits (compose's
`migrate` service); `deploy.cluster` calls the same functions. A wrong URL is one sentence
and exit code 2, instead of every replica failing on its own.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRETS = ROOT / ".streamlit" / "secrets.toml"
EXAMPLE = "postgresql+psycopg://user:password@host:5432/database"


class DeployError(Exception):
    """What went wrong, as the sentence the person at the terminal reads."""

    exit_code = 1


class BadInput(DeployError):
    """The command or its environment needs fixing; nothing was started."""

    exit_code = 2


def configured_url(environ: Mapping[str, str]) -> str | None:
    """DATABASE_URL as the replicas will read it: secrets.toml first, then the environment."""
    if SECRETS.exists():
        try:
            value = tomllib.loads(SECRETS.read_text(encoding="utf-8")).get("DATABASE_URL")
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise BadInput(f"Cannot read {SECRETS.relative_to(ROOT)}: {error}.") from None
        if value:
            return str(value)
    return environ.get("DATABASE_URL") or None


def check_url(url: str) -> None:
    """Several replicas share one PostgreSQL database, reached through psycopg 3."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadInput(f"DATABASE_URL is not a database URL: write it as {EXAMPLE}.") from None
    backend = parsed.get_backend_name()
    if backend not in ("postgresql", "postgres"):  # postgres:// is common, if not SQLAlchemy's
        raise BadInput(
            f"DATABASE_URL must name a PostgreSQL server for several replicas (it names "
            f"{backend}): write it as {EXAMPLE} (`make cluster` starts a throwaway one when "
            "it is unset)."
        )
    try:
        driver = parsed.get_driver_name()  # plain postgresql:// means psycopg2 before 2.1
    except NoSuchModuleError:
        driver = ""
    if driver != "psycopg":
        raise BadInput(
            f"DATABASE_URL must use the psycopg driver the app ships with: write it as {EXAMPLE}."
        )


def reach(url: str) -> None:
    """Connect once (5 s at most), so a wrong host or password is one sentence, not N crashes."""
    import psycopg
    from psycopg.conninfo import make_conninfo
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    parts: dict[str, str | int | None] = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        "dbname": parsed.database,
    }
    for key, value in parsed.query.items():  # sslmode=require and the like
        parts[key] = value if isinstance(value, str) else value[-1]
    conninfo = make_conninfo("", **{k: v for k, v in parts.items() if v is not None})
    try:
        psycopg.connect(conninfo, connect_timeout=5).close()
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        where = parsed.render_as_string(hide_password=True)
        raise BadInput(
            f"Cannot reach the database in DATABASE_URL ({where}): {reason}. Check that "
            "PostgreSQL runs there and that the host, port, user and password are right."
        ) from None


def migrate(url: str) -> None:
    """Bring the schema up to date once, before any replica starts."""
    from assistant.errors import AssistantError
    from assistant.store import Store

    try:
        store = Store(url)
        try:
            store.migrate()
        finally:
            store.close()
    except AssistantError as error:
        raise DeployError(f"Could not prepare the database: {error}") from None


def without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> int:
    try:
        url = configured_url(os.environ)
        if not url:
            raise BadInput(f"Set DATABASE_URL to the shared PostgreSQL database ({EXAMPLE}).")
        check_url(url)
        reach(url)
        migrate(url)
    except DeployError as error:
        print(error, file=sys.stderr, flush=True)
        return error.exit_code
    print(f"Database ready: {without_password(url)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
