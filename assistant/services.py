"""What one process shares among all its sessions, built once per settings at the edge.

The app's pages (through `ui.services`), the chat API routes and the operators' commands all
reach the same objects here, so a reply started by one is visible to the others: the store and
its engine, the model client and catalogue, accounts, API keys, the process's running replies,
the turn service and the periodic upkeep. Nothing here holds per-user data; every lookup is
scoped to an owner.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from assistant.accounts import Accounts
from assistant.api_keys import ApiKeys, KeyLimits
from assistant.chat import Assistant
from assistant.replies import Replies
from assistant.settings import Settings
from assistant.store import Store
from assistant.titles import title_in_background
from assistant.turns import Turns
from assistant.upkeep import Upkeep


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    assistant: Assistant
    accounts: Accounts
    api_keys: ApiKeys
    replies: Replies
    turns: Turns
    upkeep: Upkeep

    def close(self) -> None:
        """Stop what runs (replies at once, kept as stopped; upkeep) and close the model's and
        the database's connections."""
        self.replies.drain(0)
        self.upkeep.stop()
        self.assistant.close()
        self.store.close()


_lock = threading.Lock()
_shared: dict[Settings, Services] = {}


def shared(settings: Settings) -> Services:
    """The process's services for `settings` (made, migrated and recovered on first use)."""
    with _lock:
        found = _shared.get(settings)
        if found is None:
            found = _shared[settings] = build(settings)
        return found


def shared_services() -> list[Services]:
    """Every `Services` this process has built (one per settings in use)."""
    with _lock:
        return list(_shared.values())


def drain(timeout: float) -> int:
    """The process is stopping: refuse new replies, let every running one end for up to
    `timeout` seconds, then stop the rest (kept as they are, marked stopped). Returns how many
    had to be stopped."""
    built = shared_services()
    deadline = time.monotonic() + timeout
    stopped = 0
    for services in built:
        stopped += services.replies.drain(max(0.0, deadline - time.monotonic()))
        services.upkeep.stop()
    return stopped


def close_all() -> None:
    """Stop and forget every shared `Services`: replies stopped at once (kept, marked
    stopped), upkeep ended, model and database connections closed. The server calls it after
    `drain` as it exits; tests call it after each test, whose database is its own."""
    with _lock:
        built = list(_shared.values())
        _shared.clear()
    for services in built:
        services.close()


def build(settings: Settings) -> Services:
    """New services for `settings`, shared with nobody: `shared` makes the process's one;
    tests make one per simulated replica."""
    url = settings.sqlalchemy_url
    if url.startswith("sqlite:///"):
        os.makedirs(settings.data_dir, exist_ok=True)
    store = Store(url)
    store.migrate()
    assistant = Assistant(settings)
    assistant.catalogue.warm()  # fetched in the background; pages never wait for it
    accounts = Accounts(store)
    replies = Replies(assistant, store, unwatched_after=settings.unwatched_reply_timeout)
    upkeep = Upkeep(store, accounts.purge_expired)
    upkeep.start()
    return Services(
        settings=settings,
        store=store,
        assistant=assistant,
        accounts=accounts,
        api_keys=ApiKeys(
            store,
            limits=KeyLimits(
                requests_per_minute=settings.api_requests_per_minute,
                streams=settings.api_streams,
            ),
        ),
        replies=replies,
        turns=Turns(
            store,
            replies,
            titles=lambda owner, conversation, first: title_in_background(
                assistant, store, owner, conversation, first
            ),
        ),
        upkeep=upkeep,
    )


__all__ = ["Services", "build", "close_all", "drain", "shared", "shared_services"]
