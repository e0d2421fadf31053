"""What the server's middleware and routes share: settings, the trusted proxies, the store.

Built unopened when the app is assembled (middleware needs it at construction) and opened by
the lifespan at start-up, after Streamlit has loaded `.streamlit/secrets.toml`, so the server
reads the same settings as the page script (environment, then secrets). The store is the
process's own (`assistant.services.shared`), the one the pages and the chat API use, built and
migrated here before the first request.
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
from assistant.services import close_all, drain, shared, shared_services
from assistant.settings import Settings
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
        self._settings: Settings | None = None
        self._tickets: CookieTickets | None = None

    @property
    def tickets(self) -> CookieTickets:
        """Built at start-up, or at first use if the database was away then (blocking: call
        it from a worker thread)."""
        if self._settings is None:
            raise RuntimeError("the server context is not open (its lifespan has not run)")
        if self._tickets is None:
            self._tickets = CookieTickets(shared(self._settings).store)
        return self._tickets

    def open(self, settings: Settings | None = None) -> None:
        from streamlit import config

        settings = self._settings = settings or Settings.from_env(os.environ, read_secrets())
        self.proxies = settings.proxies
        self.own_tls = bool(config.get_option("server.sslCertFile"))
        try:
            # The process's services, migrated before any request (replicas may start
            # together); the pages and the API find them built.
            self._tickets = CookieTickets(shared(settings).store)
        except (AssistantError, SQLAlchemyError, OSError):
            # The database is away: the pages show their own sentence meanwhile, and the
            # services are built at their next use.
            log.warning("could not open the database at start-up", exc_info=True)
        navigation.settle()

    def close(self) -> None:
        # The store belongs to the process's services, closed by `close_all` as the server exits.
        self._settings = self._tickets = None

    @asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        self.open()
        try:
            yield None
        finally:
            await asyncio.to_thread(self.drain)
            self.close()
            await asyncio.to_thread(close_all)

    def drain(self) -> None:
        """Graceful stop. By the time the lifespan ends (SIGTERM), uvicorn has closed the
        listening socket, so health checks fail and a load balancer sends nobody new, and it
        has closed the browsers' WebSockets, so they reconnect to another replica and follow
        their replies from the database. The replies still streaming here may end within
        `stop_grace` seconds (checkpointed meanwhile); the rest are stopped and kept."""
        settings = self._settings or Settings.from_env(os.environ, read_secrets())
        grace = settings.stop_grace
        running = sum(services.replies.running() for services in shared_services())
        if running:
            log.info("stopping: %d replies may take up to %g s to end", running, grace)
        stopped = drain(grace)
        if stopped:
            log.warning("stopping: %d replies did not end in time and were stopped", stopped)


__all__ = ["ServerContext", "read_secrets"]
