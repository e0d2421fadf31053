"""Operators' commands on the app's database: `python -m assistant users|keys ...`.

They read the settings as the app does (DATABASE_URL or the SQLite file in ASSISTANT_DATA_DIR,
from the environment or ./.streamlit/secrets.toml). The terminal client imports this module only
when one of these commands runs, so `ask` and `chat` never load the database's libraries.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

from assistant.accounts import AccountError, Accounts, normalize_username
from assistant.api_keys import ApiKeys
from assistant.errors import InputError
from assistant.settings import Settings
from assistant.store import Store, User


def operator_settings(folder: Path | None = None) -> Settings:
    """Settings as the app reads them: the environment, then ./.streamlit/secrets.toml."""
    path = (folder or Path.cwd()) / ".streamlit" / "secrets.toml"
    secrets: dict[str, object] = {}
    if path.is_file():
        try:
            secrets = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"Cannot read {path}: {exc}") from None
    return Settings.from_env(os.environ, secrets)


def open_store() -> Store:
    settings = operator_settings()
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.sqlalchemy_url)
    store.migrate()
    return store


def _member(store: Store, name: str) -> User:
    try:
        key = normalize_username(name)[1]
    except AccountError:
        key = ""
    found = store.users.credentials(key) if key else None
    if found is None:
        raise InputError(f"There is no user named {name!r}.")
    return found.user


def _read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\r\n")


def users_create(args: argparse.Namespace, store: Store) -> int:
    accounts = Accounts(store)
    try:
        signed = accounts.register(args.name, _read_password())
    except AccountError as exc:
        raise InputError(str(exc)) from None
    accounts.sign_out(signed.token)  # an operator's account starts with no open session
    print(f"Created user {signed.user.username}.", file=sys.stderr)
    return 0


def keys_create(args: argparse.Namespace, store: Store) -> int:
    made = ApiKeys(store).create(_member(store, args.user), args.label or "")
    print(made.token)
    print(
        f"Key {made.key.id} ({made.key.label}) for {args.user}: shown once, copy it now.",
        file=sys.stderr,
    )
    return 0


def keys_list(args: argparse.Namespace, store: Store) -> int:
    user = _member(store, args.user)
    for key in ApiKeys(store).list(user.id):
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
        state = "active" if key.active else f"revoked {key.revoked_at:%Y-%m-%d %H:%M}"
        print(f"{key.id}  {key.created_at:%Y-%m-%d %H:%M}  {used:<16}  {state:<24}  {key.label}")
    return 0


def keys_revoke(args: argparse.Namespace, store: Store) -> int:
    if not ApiKeys(store).revoke_any(args.id):
        raise InputError(f"There is no active key with the id {args.id!r}.")
    print(f"Revoked key {args.id}.", file=sys.stderr)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Store], int]] = {
    "users_create": users_create,
    "keys_create": keys_create,
    "keys_list": keys_list,
    "keys_revoke": keys_revoke,
}


def run(command: str, args: argparse.Namespace) -> int:
    """Run an operator's command on the app's (migrated) database; its exit code."""
    store = open_store()
    try:
        return int(COMMANDS[command](args, store))
    finally:
        store.close()


__all__ = ["COMMANDS", "open_store", "operator_settings", "run"]
