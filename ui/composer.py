"""The message box, and what it gives back when it cannot take something.

- The chat input accepts images; `ui.uploads` checks each by its content, whatever its name,
  and says which file was refused and why (see `ui.uploads.IMAGE_TYPES`).
- The box has no length limit of its own (the browser would cut long text silently): a message
  over the limit is refused by the server with a sentence and given back here, whole, in a box
  where it can be shortened and sent.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from assistant.limits import MAX_MESSAGE_CHARS, MAX_UPLOAD_MB
from ui import state
from ui.chat_actions import discard_returned, resend_returned
from ui.uploads import IMAGE_TYPES


def chat_box(placeholder: str) -> Any:
    """The chat input's value this run (text and files), or None."""
    return st.chat_input(
        placeholder,  # plain text, not Markdown
        accept_file="multiple",
        file_type=IMAGE_TYPES,
        max_upload_size=MAX_UPLOAD_MB,
        # One widget whatever the placeholder says: without a key a new role's input was a
        # new element, and for a moment the page showed both.
        key=state.CHAT_BOX,
    )


def draw_returned() -> None:
    """A message refused as too long, whole, to shorten and send again."""
    if not st.session_state[state.RETURNED]:
        return
    with st.form("returned_message"):
        text = st.session_state[state.RETURNED]
        if len(text) > MAX_MESSAGE_CHARS:
            why = f"the limit is {MAX_MESSAGE_CHARS:,} characters. Here it is, whole, to shorten"
        else:
            why = "the reason is above. Here it is, to send again"
        st.caption(f"Your message was not sent: {why}:")
        st.text_area("Your message", key=state.RETURNED_BOX, height=200)
        send, discard = st.columns(2)
        send.form_submit_button(
            "Send", icon=":material/send:", type="primary", on_click=resend_returned
        )
        discard.form_submit_button("Discard", on_click=discard_returned)


__all__ = ["chat_box", "draw_returned"]
