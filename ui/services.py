"""Process-wide services, built once at the edge and shared by every session.

Only stateless or thread-safe, user-independent objects live here (the HTTP pool, the model
catalogue, the bundled model): nothing per user is ever cached.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import streamlit as st

from assistant.chat import Assistant
from assistant.settings import Settings


def _secrets() -> Mapping[str, Any]:
    try:
        return {key: st.secrets[key] for key in st.secrets}
    except FileNotFoundError:
        return {}
    except Exception:  # a malformed secrets.toml must not take the app down: env still works
        return {}


@st.cache_resource(show_spinner=False)
def _assistant(settings: Settings) -> Assistant:
    return Assistant(settings)


def settings() -> Settings:
    return Settings.from_env(os.environ, _secrets())


def assistant() -> Assistant:
    return _assistant(settings())
