"""The sentiment page: how the mood of a conversation moves, and which turns need a look."""

import streamlit as st

from assistant.sentiment import statistics
from ui import links, page, state
from ui.sentiment_view import draw_overview, draw_tables, read_records

here = page.begin()

st.title("Sentiment")
st.caption(
    "Each message is scored on this server with VADER (no network): compound runs from -1 "
    "(very negative) to +1 (very positive); the grey band (±0.05) is neutral."
)
found = read_records(here.app.store, here.user, st.session_state[state.CONVERSATION_ID])
if found is not None and found[0]:  # None: the store failed, and the page said so
    records, titles = found
    frame = statistics.turn_frame(records)
    attention = statistics.attention_turns(frame)
    draw_overview(frame, attention)
    draw_tables(frame, attention, titles)
elif found is not None:
    st.info(
        "Nothing to chart yet: start a conversation in the chat, then come back.",
        icon=":material/mood:",
    )
    st.page_link(links.CHAT, label="Start chatting", icon=":material/chat:")
