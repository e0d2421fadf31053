"""Entry point: page config and navigation. Each page lives in pages/."""

import streamlit as st

from ui import browser, identity, interpreter, links

interpreter.share_fairly()
st.set_page_config(
    page_title="Multi-role Assistant",
    # A file served by the app itself: a material-icon page icon is fetched from an outside
    # font host on every page.
    page_icon=str(links.ASSETS / "favicon.png"),
    layout="centered",
    initial_sidebar_state="auto",
)

navigation = st.navigation(
    {
        "Assistant": [
            st.Page(links.CHAT, title="Chat", icon=":material/chat:", default=True),
            st.Page(links.HISTORY, title="History", icon=":material/history:"),
        ],
        "Analytics": [
            st.Page(links.SENTIMENT, title="Sentiment", icon=":material/mood:"),
            st.Page(links.BATCH, title="Batch scoring", icon=":material/table_view:"),
        ],
        "You": [
            st.Page(links.ROLES, title="My roles", icon=":material/theater_comedy:"),
            st.Page(links.ACCOUNT, title="Account", icon=":material/account_circle:"),
        ],
    }
)
# Who this browser is, and the cookie that keeps it so across refreshes, before any page runs
# (code after navigation.run() is skipped when a page switches pages).
identity.current_user()
identity.write_cookie()
browser.install()
navigation.run()
