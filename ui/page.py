"""What every page begins with: the session's defaults, who is here, the process's services.

app.py finds the user once per run, before any page runs, so a page asks nothing of the
database to learn it; a page run on its own (AppTest on one file) finds the user here. Views
get the services they use from their page, as arguments; none fetches its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from assistant.safe_markdown import make_safe
from assistant.services import Services
from assistant.store import User
from ui import identity, links, services, state


@dataclass(frozen=True, slots=True)
class Page:
    user: User
    app: Services


def begin() -> Page:
    state.init()
    return Page(user=identity.checked_user(), app=services.current())


def invite_to_sign_in(why: str, icon: str) -> None:
    """Tell a guest what an account would give them here, with the way to the Account page."""
    st.info(make_safe(why), icon=icon)  # plain prose: shown as written
    st.page_link(links.ACCOUNT, label="Create an account or sign in", icon=":material/login:")


__all__ = ["Page", "begin", "invite_to_sign_in"]
