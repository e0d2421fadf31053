"""What the server's middleware and routes share: settings, the trusted proxies, the store.

Built unopened when the app is assembled (middleware needs it at construction) and opened by
the lifespan at start-up, after Streamlit has loaded `.streamlit/secrets.toml`, so the server
reads the same settings as the page script (environment, then secrets).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from assistant.cookie_tickets import CookieTickets
from assistant.errors import AssistantError
from assistant.proxies import TrustedProxies
from assistant.services import drain, shared_services
from assistant.settings import Settings
from assistant.store import Store
from server import navigation

log = logging.getLogger(__name__)


def read_secrets() -> Mapping[str, Any]:
    """`st.secrets` as a plain mapping; empty without a secrets file (or with a broken one)."""
    import streamlit as st

    try:
        return {key: st.secrets[key] for key in st.secrets}
    except FileNotFoundError:
        return {}
    except Exception:  # a malformed secrets.toml must not stop the server: env still works
        log.warning("could not read .streamlit/secrets.toml", exc_info=True)
        return {}


class ServerContext:
    """One per server process; see the module docstring."""

    def __init__(self) -> None:
        self.proxies = TrustedProxies()
        self.own_tls = False
        self._store: Store | None = None
        self._tickets: CookieTickets | None = None

    @property
    def tickets(self) -> CookieTickets:
        if self._tickets is None:
            raise RuntimeError("the server context is not open (its lifespan has not run)")
        return self._tickets

    def open(self, settings: Settings | None = None) -> None:
        from streamlit import config

        settings = settings or Settings.from_env(os.environ, read_secrets())
        self.proxies = settings.proxies
        self.own_tls = bool(config.get_option("server.sslCertFile"))
        if settings.database_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._store = Store(settings.sqlalchemy_url)
        try:
            self._store.migrate()  # before any request; replicas may start together
        except (AssistantError, SQLAlchemyError):
            # The pages migrate too, and show their own sentence while the database is away.
            log.warning("could not migrate the database at start-up", exc_info=True)
        self._tickets = CookieTickets(self._store)
        navigation.settle()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store = self._tickets = None

    @asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        self.open()
        try:
            yield None
        finally:
            await asyncio.to_thread(self.drain)
            self.close()

    def drain(self) -> None:
        """Graceful stop. By the time the lifespan ends (SIGTERM), uvicorn has closed the
        listening socket, so health checks fail and a load balancer sends nobody new, and it
        has closed the browsers' WebSockets, so they reconnect to another replica and follow
        their replies from the database. The replies still streaming here may end within
        `stop_grace` seconds (checkpointed meanwhile); the rest are stopped and kept."""
        grace = Settings.from_env(os.environ, read_secrets()).stop_grace
        running = sum(services.replies.running() for services in shared_services())
        if running:
            log.info("stopping: %d replies may take up to %g s to end", running, grace)
        stopped = drain(grace)
        if stopped:
            log.warning("stopping: %d replies did not end in time and were stopped", stopped)


__all__ = ["ServerContext", "read_secrets"]
