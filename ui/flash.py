"""A one-off sentence that survives the `st.rerun()` after an action (signed out, deleted...).

Pages act on a button during a run, then rerun so everything drawn reflects the new state; the
sentence saying what happened is kept here for that next run, shown once, then dropped.
"""

from __future__ import annotations

from typing import Literal

import streamlit as st

from assistant.safe_markdown import make_safe
from ui import state

FLASH = state.FLASH

Kind = Literal["success", "info"]


def remember(sentence: str, kind: Kind = "success") -> None:
    st.session_state[FLASH] = (kind, sentence)


def draw() -> None:
    """Show the remembered sentence, if any, and forget it."""
    pending = st.session_state.pop(FLASH, None)
    if pending is None:
        return
    kind, said = pending
    if kind == "success":
        st.success(make_safe(said), icon=":material/check_circle:")
    else:
        st.info(make_safe(said), icon=":material/info:")
