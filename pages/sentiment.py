"""The sentiment page: how the mood of a conversation moves, and which turns need a look."""

import streamlit as st

from assistant.errors import AssistantError
from assistant.sentiment import statistics
from ui import identity, links, state
from ui.sentiment_view import choose_scope, draw_overview, draw_tables, load

state.init()
user = identity.current_user()

st.title("Sentiment")
st.caption(
    "Each message is scored on this server with VADER (no network): compound runs from -1 "
    "(very negative) to +1 (very positive); the grey band (±0.05) is neutral."
)
scope = choose_scope(user, st.session_state[state.CONVERSATION_ID])
try:
    records, titles = load(user, scope) if scope else ([], {})
except AssistantError:  # deleted meanwhile, or not this user's: the same to us
    records, titles = [], {}
if records:
    frame = statistics.turn_frame(records)
    attention = statistics.attention_turns(frame)
    draw_overview(frame, attention)
    draw_tables(frame, attention, titles)
else:
    st.info(
        "Nothing to chart yet: start a conversation in the chat, then come back.",
        icon=":material/mood:",
    )
    st.page_link(links.CHAT, label="Start chatting", icon=":material/chat:")
