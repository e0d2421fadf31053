"""Process-wide services, built once at the edge and shared by every session.

Only thread-safe, user-independent objects live here (the HTTP pool, the model catalogue, the
bundled model, the database engine): nothing per user is ever cached.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import streamlit as st

from assistant.accounts import Accounts
from assistant.chat import Assistant
from assistant.settings import Settings
from assistant.store import Store

log = logging.getLogger(__name__)

#: Replies not checkpointed for this long when a process starts were cut off by a crash.
STALE_REPLY_AGE = timedelta(minutes=10)


@st.cache_resource(show_spinner=False)
def _secrets() -> Mapping[str, Any]:
    """Read once per process: every `st.secrets` access takes a process-wide lock and, with no
    secrets file, searches the disk and raises; a hundred sessions queued on it. Changing
    secrets therefore needs a restart, as on Streamlit Community Cloud."""
    try:
        return {key: st.secrets[key] for key in st.secrets}  # [auth] included, as a mapping
    except FileNotFoundError:
        return {}
    except Exception:  # a malformed secrets.toml must not take the app down: env still works
        log.warning("could not read .streamlit/secrets.toml", exc_info=True)
        return {}


def settings() -> Settings:
    return Settings.from_env(os.environ, _secrets())


@st.cache_resource(show_spinner=False)
def _assistant(settings: Settings) -> Assistant:
    assistant = Assistant(settings)
    assistant.catalogue.warm()  # fetched in the background; pages never wait for it
    return assistant


def assistant() -> Assistant:
    return _assistant(settings())


@st.cache_resource(show_spinner=False)
def _store(url: str, data_dir: str) -> Store:
    if url.startswith("sqlite:///"):
        os.makedirs(data_dir, exist_ok=True)
    store = Store(url)
    store.migrate()
    store.recover_stale_replies(STALE_REPLY_AGE)
    Accounts(store).purge_expired()
    return store


def store() -> Store:
    current = settings()
    return _store(current.sqlalchemy_url, str(current.data_dir))


@st.cache_resource(show_spinner=False)
def _accounts(url: str, data_dir: str) -> Accounts:
    return Accounts(_store(url, data_dir))


def accounts() -> Accounts:
    """One per database and process: it holds policy and the dummy hash that makes an unknown
    username cost the same time as a wrong password, so it must not be rebuilt per call."""
    current = settings()
    return _accounts(current.sqlalchemy_url, str(current.data_dir))


def sso_configured() -> bool:
    """Single sign-on is offered when `[auth]` is set in secrets (st.login needs it)."""
    return "auth" in _secrets()
