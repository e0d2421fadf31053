"""A failure shown to a person is also logged, once, with what the sentence leaves out.

Errors carry the sentence a user reads (`str(error)`) and, for the log, a `detail` (see
assistant/errors.py). Pages show failures through `show` so that neither half is forgotten.
"""

from __future__ import annotations

import logging

import streamlit as st

from assistant.safe_markdown import sentence

log = logging.getLogger(__name__)


def show(error: BaseException, *, icon: str = ":material/error:") -> None:
    """The error's sentence, where it happened; its detail and traceback, in the log."""
    detail = getattr(error, "detail", "") or str(error)
    log.warning("shown to a user: %s: %s", type(error).__name__, detail, exc_info=error)
    st.error(sentence(error), icon=icon)


__all__ = ["show"]
