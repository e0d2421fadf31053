"""The chat API's routes alone as an ASGI app, for `make bench` while app.py does not serve them.

    python -m uvicorn bench.api_app:app --port 8600

Settings come from the environment, as the app reads them. Once app.py serves the routes
(`st.App(..., routes=...)`), the benchmark measures `streamlit run app.py` instead.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

from assistant.settings import Settings
from server.chat_api import routes

app = Starlette(routes=routes(lambda: Settings.from_env(os.environ)))
