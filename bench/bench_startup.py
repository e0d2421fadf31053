"""Start-up of the terminal client: `python -m assistant ask ...` from launch to its answer.

Each run is a fresh interpreter, as a user typing the command gets, against the local fake
OpenRouter server (no network, no token delay). Measured side by side, alternating run by run
so machine noise hits all of them equally:

- `ask`: the terminal client, `python -m assistant ask "..."`;
- baseline: a ten-line script that imports httpx and the core's `ChatClient` only, streams the
  same question from the same server and prints it: what a client cannot go below without
  changing the HTTP layer;
- `import assistant.chat` alone, in a fresh interpreter: the import cost the app's pages and
  the terminal client pay before doing anything.

Figures are medians: time to the first byte on stdout (the answer's first token) and to the
process's exit.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNS = 9
TARGET = "< 0.6"
QUESTION = "How do I reset my router?"

BASELINE = """
import os, sys
import httpx
from assistant.client import ChatClient
from assistant.events import TextDelta
from assistant.settings import Settings

settings = Settings(api_key=os.environ["OPENROUTER_API_KEY"],
                    base_url=os.environ["OPENROUTER_BASE_URL"], fallback_models=())
client = ChatClient(settings)
for event in client.stream_chat([{"role": "user", "content": sys.argv[1]}], sys.argv[2]):
    if isinstance(event, TextDelta):
        sys.stdout.write(event.text)
        sys.stdout.flush()
print()
"""


def _environment(url: str) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENROUTER_", "ASSISTANT_", "DATABASE_URL"))
    }
    return clean | {
        "OPENROUTER_API_KEY": "sk-or-v1-bench",
        "OPENROUTER_BASE_URL": url,
        "OPENROUTER_FALLBACK_MODELS": "",
        "ASSISTANT_MAX_RETRIES": "0",
    }


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds to the first byte on stdout and to the exit of `command`."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    first = process.stdout.read(1)
    first_byte = time.perf_counter() - started
    rest, errors = process.communicate(timeout=60)
    total = time.perf_counter() - started
    if process.returncode != 0 or not (first + rest).strip():
        raise RuntimeError(f"{command[1:]} failed: {errors.decode(errors='replace')}")
    return first_byte, total


def _import_seconds(env: dict[str, str]) -> float:
    code = "import time; t = time.perf_counter(); import assistant.chat; "
    code += "print(time.perf_counter() - t)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, check=True
    )
    return float(done.stdout)


def _heavy_modules(env: dict[str, str]) -> str:
    code = "import sys, assistant.chat; "
    code += "print(','.join(m for m in ('pandas', 'numpy') if m in sys.modules) or 'none')"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, check=True
    )
    return done.stdout.decode().strip()


def _ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000, 1)


def run(runs: int = RUNS) -> list[dict[str, Any]]:
    from tests.fake_openrouter import TEXT_MODEL, FakeOpenRouter

    with FakeOpenRouter() as fake:
        env = _environment(fake.url)
        ask = [sys.executable, "-m", "assistant", "ask", QUESTION]
        baseline = [sys.executable, "-c", BASELINE, QUESTION, TEXT_MODEL]
        _timed(ask, env)  # warm the file cache for both
        _timed(baseline, env)
        ask_first, ask_total, base_first, base_total, imports = [], [], [], [], []
        for _ in range(runs):
            first, total = _timed(ask, env)
            ask_first.append(first)
            ask_total.append(total)
            first, total = _timed(baseline, env)
            base_first.append(first)
            base_total.append(total)
            imports.append(_import_seconds(env))
        heavy = _heavy_modules(env)

    def median_row(name: str, samples: list[float], target: str | None = None) -> dict[str, Any]:
        return {
            "name": f"startup: {name}",
            "value": round(statistics.median(samples), 3),
            "unit": f"s, median of {runs}",
            "target": target,
        }

    return [
        median_row("`python -m assistant ask`, first output byte", ask_first, TARGET),
        median_row("`python -m assistant ask`, exit", ask_total),
        median_row("baseline httpx + ChatClient, first output byte", base_first),
        median_row("baseline httpx + ChatClient, exit", base_total),
        {
            "name": "startup: first output byte, ask / baseline",
            "value": round(statistics.median(ask_first) / statistics.median(base_first), 2),
            "unit": "x",
            "target": None,
        },
        {
            "name": "startup: `import assistant.chat` in a fresh interpreter",
            "value": _ms(imports),
            "unit": "ms",
            "target": None,
        },
        {
            "name": "startup: pandas/numpy loaded by `import assistant.chat`",
            "value": heavy,
            "unit": "",
            "target": None,
        },
    ]
