"""The web server around the Streamlit app: extra routes, middleware and lifespan, in one place.

Streamlit 1.67 serves `st.App(script, routes=..., middleware=..., lifespan=...)` next to the
app itself. `streamlit run app.py` finds the `app = st.App(...)` assignment in app.py by
reading the file, imports app.py as module "app" and serves it with uvicorn; any ASGI server
can serve `create_app` instead. The page script (app.py run as "__main__" for every session)
never imports this package, and this package never imports `pages/` or `ui/`.

    routes      POST /auth/session        redeem a cookie ticket           server.ticket_route
                /api/v1/...               the chat API (HTTP and WebSocket) server.chat_api
    middleware  ClientAddressMiddleware   who sent the request             server.client_address
                SessionCookieMiddleware   a page load gets its cookie      server.session_cookie
                UploadNameMiddleware      no NUL in an upload's file name  server.upload_names
    lifespan    ServerContext.lifespan    settings, store, navigation;     server.context
                                          on SIGTERM, replies may end

Middleware runs in the order listed, before Streamlit's own.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypedDict

from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from streamlit.starlette import App

from assistant.settings import Settings
from server import chat_api, ticket_route
from server.api_context import ApiContext
from server.client_address import ClientAddressMiddleware
from server.context import ServerContext, read_secrets
from server.session_cookie import SessionCookieMiddleware
from server.upload_names import UploadNameMiddleware


class AppOptions(TypedDict):
    routes: list[BaseRoute]
    middleware: list[Middleware]
    lifespan: Any


def app_options() -> AppOptions:
    """The routes, middleware and lifespan to give `st.App` (see the module docstring)."""
    from streamlit import config

    base_path = str(config.get_option("server.baseUrlPath") or "")
    context = ServerContext()
    # The API builds the process's services at its first request, from the settings the pages
    # read (environment, then secrets), so both share one store, one set of running replies.
    api = ApiContext(lambda: Settings.from_env(os.environ, read_secrets()))

    @asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        async with context.lifespan(app):
            yield None

    return {
        "routes": [*ticket_route.routes(context, base_path), *chat_api.routes(api, base_path)],
        "middleware": [
            Middleware(ClientAddressMiddleware, context=context),
            Middleware(SessionCookieMiddleware, base_path=base_path),
            Middleware(UploadNameMiddleware),
        ],
        "lifespan": lifespan,
    }


def create_app(script_path: str | Path) -> App:
    """The whole server for `script_path`, for ASGI servers other than `streamlit run`."""
    return App(script_path, **app_options())


__all__ = ["AppOptions", "ServerContext", "app_options", "create_app"]
