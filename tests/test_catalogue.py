"""The model catalogue against the fake OpenRouter server: reads never wait on the network."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from assistant.catalogue import Catalogue, ModelInfo
from assistant.client import ChatClient
from assistant.errors import NetworkError
from assistant.settings import Settings
from tests.fake_openrouter import (
    MODELS,
    TEXT_MODEL,
    VISION_MODEL,
    FakeOpenRouter,
    catalogue_entry,
)

LOCAL = ModelInfo(id="local/tiny", name="Tiny local model")
HANGS = 30.0  # a /models answer this slow would stall every page if a read waited for it


@pytest.fixture
def client(fake: FakeOpenRouter) -> Iterator[ChatClient]:
    settings = Settings(api_key=None, base_url=fake.url, stall_timeout=60.0, fallback_models=())
    with ChatClient(settings) as chat_client:
        yield chat_client


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def model_fetches(fake: FakeOpenRouter) -> int:
    return sum(1 for r in fake.requests if r.path.endswith("/models"))


def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_reads_answer_at_once_while_the_first_fetch_hangs(
    fake: FakeOpenRouter, client: ChatClient
) -> None:
    fake.models_delay = HANGS
    catalogue = Catalogue(client, extra=[LOCAL])
    assert catalogue.models() == [LOCAL]  # what is known without the network
    assert catalogue.get(TEXT_MODEL) is None
    assert catalogue.reads_images(VISION_MODEL) is None
    assert catalogue.loading and not catalogue.loaded  # the fetch is still pending
    wait_until(lambda: model_fetches(fake) == 1)


def test_warm_starts_the_fetch_without_waiting_and_wait_ready_waits_for_it(
    fake: FakeOpenRouter, client: ChatClient
) -> None:
    fake.models_delay = 0.3
    catalogue = Catalogue(client)
    catalogue.warm()
    assert catalogue.loading and not catalogue.loaded
    assert catalogue.wait_ready(10.0) is True
    assert catalogue.loaded and not catalogue.loading
    assert catalogue.get(VISION_MODEL) is not None
    assert [m.id for m in catalogue.models()] == [
        m["id"] for m in sorted(MODELS, key=lambda e: e["name"].lower())
    ]
    assert model_fetches(fake) == 1


def test_a_stale_list_is_served_while_one_refresh_runs(
    fake: FakeOpenRouter, client: ChatClient
) -> None:
    clock = Clock()
    catalogue = Catalogue(client, ttl=3600, clock=clock)
    assert catalogue.wait_ready(10.0)
    fake.models = [catalogue_entry("acme/new-model")]
    fake.models_delay = 1.0
    clock.now += 3601  # stale
    assert catalogue.get(TEXT_MODEL) is not None  # the old list, at once
    assert catalogue.loading
    for _ in range(50):
        assert catalogue.get(TEXT_MODEL) is not None
    wait_until(lambda: catalogue.get("acme/new-model") is not None)
    assert catalogue.get(TEXT_MODEL) is None
    assert model_fetches(fake) == 2


def test_one_fetch_at_a_time_under_twenty_concurrent_readers(
    fake: FakeOpenRouter, client: ChatClient
) -> None:
    fake.models_delay = HANGS
    catalogue = Catalogue(client, extra=[LOCAL])
    start = threading.Barrier(20)
    answers: list[list[ModelInfo]] = []

    def read() -> None:
        start.wait()
        for _ in range(100):
            models = catalogue.models()
            catalogue.get(TEXT_MODEL)
        answers.append(models)

    readers = [threading.Thread(target=read) for _ in range(20)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(10.0)
    assert answers == [[LOCAL]] * 20  # every read answered while the fetch hung
    assert catalogue.loading
    time.sleep(0.2)  # a second fetch would have sent its request by now
    assert model_fetches(fake) == 1


def test_a_failed_fetch_keeps_what_is_known_and_is_retried_after_a_pause() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(base_url=f"http://127.0.0.1:{port}/api/v1", fallback_models=())
    clock = Clock()
    with ChatClient(settings) as client:
        catalogue = Catalogue(client, clock=clock, retry_pause=60, extra=[LOCAL])
        assert catalogue.wait_ready(10.0) is False
        assert isinstance(catalogue.last_error, NetworkError)
        assert catalogue.models() == [LOCAL]
        assert not catalogue.loading  # within the pause, reads start no new fetch
        clock.now += 61
        catalogue.models()
        wait_until(lambda: not catalogue.loading)
        assert isinstance(catalogue.last_error, NetworkError)


def test_wait_ready_waits_for_the_retry_of_a_failed_fetch(
    fake: FakeOpenRouter, client: ChatClient
) -> None:
    class FailsOnce:
        calls = 0

        def list_models(self) -> list[dict[str, Any]]:
            self.calls += 1
            if self.calls == 1:
                raise NetworkError(detail="first try")
            return client.list_models()

    clock = Clock()
    fake.models_delay = 0.3
    catalogue = Catalogue(FailsOnce(), clock=clock, retry_pause=60)
    assert catalogue.wait_ready(10.0) is False
    clock.now += 61
    assert catalogue.wait_ready(10.0) is True  # started the retry, and waited for it
    assert catalogue.last_error is None
    assert catalogue.get(TEXT_MODEL) is not None


def test_the_standalone_control_endpoint_sets_the_catalogue(fake: FakeOpenRouter) -> None:
    own = [catalogue_entry("llama3")]
    reply = httpx.post(f"{fake.root_url}/_control/models", json={"models": own, "strict": True})
    assert reply.json() == {"models": 1}
    assert httpx.get(f"{fake.url}/models").json() == {"data": own}
    chat = {"model": "acme/none", "messages": [], "stream": True}
    refused = httpx.post(f"{fake.url}/chat/completions", json=chat)
    assert refused.status_code == 400
    assert "acme/none is not a valid model ID" in refused.text
