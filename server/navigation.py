"""Every page goes through app.py, even a deep link into a fresh process.

Streamlit decides once per process whether the app uses the old automatic discovery of the
`pages/` folder (`PagesManager.uses_pages_directory`): the first session to start looks for a
`pages/` folder next to the entry script, and only a run of `st.navigation` turns the old way
off. A process whose first visitor opened /history therefore ran pages/history.py on its own,
without app.py: file names in the sidebar, no identity, no session cookie, until somebody
loaded /. The app keeps its pages in `pages/` and always navigates with `st.navigation`, so
the server settles the question at start-up, before any session exists.
"""

from __future__ import annotations


def settle() -> None:
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False


__all__ = ["settle"]
