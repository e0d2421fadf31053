"""Entry point, in two roles (Streamlit Community Cloud runs `streamlit run app.py`).

- As the page script: Streamlit runs this file as "__main__" for every session and every
  rerun. It sets up the page, finds out who this browser is, and builds the navigation; each
  page lives in pages/.
- As the server: `streamlit run` reads this file, finds the `app = st.App(...)` below, and
  imports it as module "app" to serve it with uvicorn. Then it only wraps this same file in
  the app's own routes and middleware (`server/`: HttpOnly session cookies, client
  addresses, deep links).
"""

import streamlit as st

if __name__ == "__main__":
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
    # Who this browser is, and any cookie change still to hand to the browser, before any page
    # runs (code after navigation.run() is skipped when a page switches pages).
    identity.current_user()
    identity.deliver_cookies()
    browser.install()
    navigation.run()
else:
    import server

    app = st.App(__file__, **server.app_options())
