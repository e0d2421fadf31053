"""Where each page's file lives, named once for `st.Page`, `st.switch_page` and `st.page_link`.

Absolute paths on purpose: Streamlit resolves a relative page path against the folder of the
entry script, so "pages/chat.py" only works when that script is `app.py`. An absolute path
names the same registered page whatever runs the navigation (the app, or a test's entry
script), and `st.switch_page` / `st.page_link` match pages by their resolved path.
"""

from __future__ import annotations

from pathlib import Path

PAGES = Path(__file__).resolve().parent.parent / "pages"
ASSETS = Path(__file__).resolve().parent / "assets"

CHAT = PAGES / "chat.py"
HISTORY = PAGES / "history.py"
ACCOUNT = PAGES / "account.py"
ROLES = PAGES / "roles.py"
SENTIMENT = PAGES / "sentiment.py"
BATCH = PAGES / "batch.py"
