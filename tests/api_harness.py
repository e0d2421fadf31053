"""The chat API served for real: uvicorn on a loopback port, the fake provider, a real store.

`serve(context)` runs a plain Starlette app of the API's routes (`server.chat_api.routes`)
with uvicorn on a thread, as a replica would serve them next to the app. Each `Replica` has
services of its own (`assistant.services.build`) over the test's database, so two replicas
share only the database, as two processes would.

Fixtures: `api` (one replica on a SQLite file, answered by the `fake` OpenRouter of
`tests.page_harness`), `ada` and `bob` (accounts with a key each: `ada.key` is the token,
shown once at creation).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import uvicorn
from argon2 import PasswordHasher
from starlette.applications import Starlette

from assistant.accounts import Accounts
from assistant.services import Services, build
from assistant.settings import Settings
from assistant.store import User
from server.api_context import ApiContext
from server.chat_api import routes
from tests.fake_openrouter import FakeOpenRouter

PASSWORD = "violet-otter-harbour-42"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(context: ApiContext) -> Iterator[str]:
    """The API's routes on a loopback port; yields the base URL ("http://127.0.0.1:PORT")."""
    port = free_port()
    config = uvicorn.Config(
        Starlette(routes=routes(context)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws_ping_interval=5.0,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"api-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Member:
    user: User
    key: str  # the token, as the Account page shows it once

    @property
    def key_id(self) -> str:
        return self.key.split("_")[1]


@dataclass
class Replica:
    services: Services
    url: str

    @property
    def base_url(self) -> str:
        """What an OpenAI client is given."""
        return f"{self.url}/api/v1"

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/v1/ws"

    def member(self, name: str) -> Member:
        accounts = Accounts(
            self.services.store,
            hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
        )
        user = accounts.register(name, PASSWORD).user
        return Member(user, self.services.api_keys.create(user, f"{name}'s key").token)

    def texts(self, owner: User, conversation_id: str) -> list[tuple[str, str, str]]:
        """(role, text, status) of every message the conversation shows."""
        detail = self.services.store.get_conversation(owner.id, conversation_id)
        return [(m.role, m.text, str(m.status)) for m in detail.messages]


def settings_for(fake: FakeOpenRouter, database_url: str, **changes: object) -> Settings:
    base = Settings(
        api_key="sk-or-v1-test",
        base_url=fake.url,
        fallback_models=(),
        max_retries=0,
        database_url=database_url,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@contextmanager
def replica(settings: Settings) -> Iterator[Replica]:
    services = build(settings)
    services.assistant.catalogue.wait_ready(10)
    try:
        with serve(ApiContext(services=services)) as url:
            yield Replica(services, url)
    finally:
        services.replies.drain(2.0)
        services.close()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'api.db').as_posix()}"


@pytest.fixture
def api(fake: FakeOpenRouter, database_url: str) -> Iterator[Replica]:
    with replica(settings_for(fake, database_url)) as served:
        yield served


@pytest.fixture
def ada(api: Replica) -> Member:
    return api.member("ada")


@pytest.fixture
def bob(api: Replica) -> Member:
    return api.member("bob")


__all__ = [
    "PASSWORD",
    "Member",
    "Replica",
    "free_port",
    "replica",
    "serve",
    "settings_for",
]
