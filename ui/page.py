"""What every page begins with: the session's defaults, who is here, the process's services.

app.py finds the user once per run, before any page runs, so a page asks nothing of the
database to learn it; a page run on its own (AppTest on one file) finds the user here. Views
get the services they use from their page, as arguments; none fetches its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.services import Services
from assistant.store import User
from ui import identity, services, state


@dataclass(frozen=True, slots=True)
class Page:
    user: User
    app: Services


def begin() -> Page:
    state.init()
    return Page(user=identity.checked_user(), app=services.current())


__all__ = ["Page", "begin"]
