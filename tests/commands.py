"""The project's code run in a fresh interpreter, as a person or a deployment would start it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SETTINGS = ("OPENROUTER_", "ASSISTANT_")


def run_python(
    code: str, *, timeout: float = 60, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """`python -c code` from the repository root, with this process's environment."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def run_assistant(
    *args: str, cwd: Path = ROOT, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m assistant args` in `cwd`, without this process's app settings: only `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(_SETTINGS)}
    environment |= {"PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
