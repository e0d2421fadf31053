"""Entry point: page config and navigation. Each page lives in pages/."""

import streamlit as st

from ui import identity

st.set_page_config(
    page_title="Multi-role Assistant",
    page_icon=":material/forum:",
    layout="centered",
    initial_sidebar_state="auto",
)

navigation = st.navigation(
    [
        st.Page("pages/chat.py", title="Chat", icon=":material/chat:", default=True),
    ]
)
navigation.run()
identity.write_cookie()
