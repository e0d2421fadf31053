"""Process-wide services for the pages, built once at the edge and shared by every session.

The objects themselves live in `assistant.services`, shared with the chat API; this module
reads the settings (environment and secrets) the way the app does. Only thread-safe objects
live there: nothing per user is ever cached.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import streamlit as st

from assistant.accounts import Accounts
from assistant.chat import Assistant
from assistant.cookie_tickets import CookieTickets
from assistant.services import Services, shared
from assistant.settings import Settings
from assistant.store import Store

log = logging.getLogger(__name__)


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


def current() -> Services:
    """The process's shared services for the current settings (see `assistant.services`)."""
    return shared(settings())


def assistant() -> Assistant:
    return current().assistant


def store() -> Store:
    return current().store


def accounts() -> Accounts:
    """One per database and process: it holds policy and the dummy hash that makes an unknown
    username cost the same time as a wrong password, so it must not be rebuilt per call."""
    return current().accounts


def tickets() -> CookieTickets:
    """Cookie tickets on the shared store (a light object: the state is in the database)."""
    return CookieTickets(store())


def sso_configured() -> bool:
    """Single sign-on is offered when `[auth]` is set in secrets (st.login needs it)."""
    return "auth" in _secrets()
