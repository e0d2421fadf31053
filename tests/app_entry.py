"""AppTest's way into app.py, as a browser's: every page of every run goes through app.py.

AppTest decides afresh on every run whether the app uses Streamlit's old automatic discovery of
a `pages/` folder next to the entry script (it resets `PagesManager.uses_pages_directory`), and
with app.py as the entry it does: a test opening pages/account.py then ran that file alone,
without app.py (the same bug as a deep link into a fresh server, which `server.navigation`
settles at start-up). This entry sits in tests/, where there is no `pages/` folder, and runs
app.py as Streamlit does, so its navigation (absolute page paths, `ui.links`) is the one used.
"""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parent.parent / "app.py"), run_name="__main__")
