"""What importing the core costs: the chat core and the terminal client load no pandas or numpy.

pandas and numpy take most of a second to import, and only the sentiment page's charts and
batch scoring need them. Each check runs in a fresh interpreter, since this test process has
long since imported both.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "numpy")


def modules_loaded_by(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(done.stdout.split())


@pytest.mark.parametrize(
    "module", ["assistant.chat", "assistant.__main__", "assistant.sentiment", "assistant.turns"]
)
def test_importing_the_core_loads_neither_pandas_nor_numpy(module: str) -> None:
    loaded = modules_loaded_by(module)
    assert module in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_terminal_client_loads_no_database_or_password_libraries() -> None:
    """Only the operators' commands need them (assistant/operators.py, imported when one runs):
    SQLAlchemy, Alembic and argon2 would add about half a second to every `ask`."""
    loaded = modules_loaded_by("assistant.__main__")
    assert not loaded & {"sqlalchemy", "alembic", "argon2"}, sorted(
        loaded & {"sqlalchemy", "alembic", "argon2"}
    )


def test_the_sentiment_card_parser_loads_neither_pandas_nor_numpy() -> None:
    # The chat page parses every sentiment reply; only drawing the card's bar needs plotly.
    assert not modules_loaded_by("assistant.sentiment.card") & set(HEAVY)


def test_the_core_exports_its_public_names_without_loading_them_all() -> None:
    """`import assistant` is light; each public name resolves to its defining module."""
    import importlib

    code = (
        "import sys, assistant; "
        "heavy = [m for m in ('sqlalchemy', 'pandas', 'httpx') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
    package = importlib.import_module("assistant")
    for name in package.__all__:
        assert getattr(package, name) is not None, name
