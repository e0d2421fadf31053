"""One replica: the app as shipped, served by `streamlit run` on one address and port.

`python -m deploy.replica --port 8501 --address 0.0.0.0` replaces itself with that command, so
the Dockerfile's start command and the replicas `deploy.cluster` starts are the same line. The
shipped `.streamlit/config.toml` applies (file watcher off); settings come from the environment.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY = "app.py"


def streamlit_command(port: int, address: str) -> list[str]:
    """The `streamlit run` command line of one replica (run from the repository's root)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        ENTRY,
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true",
    ]


def start_command(port: int, address: str, python: str = sys.executable) -> list[str]:
    """How to start one replica: this module, run by `python`."""
    return [python, "-m", "deploy.replica", "--port", str(port), "--address", address]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.replica", description=__doc__)
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args(argv)
    command = streamlit_command(args.port, args.address)
    os.chdir(ROOT)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
