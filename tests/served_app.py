"""Serve the real app with `streamlit run` on a loopback port, for browser tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_env(provider_url: str, data: Path | str, **extra: str) -> dict[str, str]:
    """The served app's settings: the fake provider at `provider_url`, no fallbacks or retries
    (a test sees the first answer), its files in `data`, plus `extra`."""
    return {
        "OPENROUTER_API_KEY": "sk-or-v1-test",
        "OPENROUTER_BASE_URL": provider_url,
        "OPENROUTER_FALLBACK_MODELS": "",
        "ASSISTANT_MAX_RETRIES": "0",
        "ASSISTANT_DATA_DIR": str(data),
        **extra,
    }


@contextmanager
def served_app(
    env: Mapping[str, str], *, script: Path = ROOT / "app.py", timeout: float = 60.0
) -> Iterator[str]:
    """Start the app as shipped (same entry file and .streamlit/config.toml); yield its URL.

    `script` serves another entry file the same way (the benchmarks' plain baseline app).
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    health = "/_stcore/health"
    with serving(script.name, command, port, env, ready=health, timeout=timeout) as url:
        yield url


@contextmanager
def serving(
    name: str,
    command: Sequence[str],
    port: int,
    env: Mapping[str, str],
    *,
    ready: str,
    status: int = 200,
    timeout: float = 60.0,
) -> Iterator[str]:
    """Run `command` (a server listening on loopback `port`) from the repository root with this
    process's environment plus `env`; yield its URL once GET `ready` answers `status`, and stop
    it after the block. A server that exits or stays unready for `timeout` seconds raises
    RuntimeError naming it (`name`) with the end of what it wrote to stderr."""
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    # A file, not a pipe: a pipe nobody reads would block a talkative app mid-test.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=log
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if httpx.get(f"{url}{ready}", timeout=1).status_code == status:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    err = log.read().decode(errors="replace")
                    raise RuntimeError(f"{name} did not start:\n{err[-3000:]}")
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
