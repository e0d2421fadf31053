"""ChatClient against the fake OpenRouter server: every provider behaviour it serves
(tests/fake_openrouter.py)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.client import ChatClient
from assistant.errors import (
    AssistantError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ImageNotSupportedError,
    InsufficientCreditsError,
    ModelNotFoundError,
    ModerationError,
    NetworkError,
    ProviderUnavailableError,
    RateLimitedError,
    ReplyInterruptedError,
    ReplyTimeoutError,
    UnexpectedError,
)
from assistant.events import Event, Failed, Finished, ModelUsed, ReasoningDelta, TextDelta, Usage
from assistant.provider_errors import parse_retry_after
from assistant.settings import Settings
from tests.fake_openrouter import (
    FALLBACK_MODEL,
    FREE_MODEL,
    TEXT_MODEL,
    VISION_MODEL,
    Data,
    FakeOpenRouter,
    Scenario,
    echo,
    http_error,
    long_reply,
    midstream_error,
    never_connecting_url,
    reasoning_reply,
    reply,
    stall,
)

KEY = "sk-or-v1-test-secret-key"
HELLO = [{"role": "user", "content": "Hello there, héllo 🎉"}]
ECHOED = "Echo: Hello there, héllo 🎉"
WORDS = len(ECHOED.split())  # the fake sends one token per word


@dataclass
class Reply:
    events: list[Event]

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    @property
    def reasoning(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, ReasoningDelta))

    @property
    def models(self) -> list[ModelUsed]:
        return [e for e in self.events if isinstance(e, ModelUsed)]

    @property
    def usages(self) -> list[Usage]:
        return [e for e in self.events if isinstance(e, Usage)]

    @property
    def last(self) -> Event:
        return self.events[-1]

    @property
    def error(self) -> AssistantError:
        assert isinstance(self.last, Failed), self.events
        return self.last.error


def ask(client: ChatClient, messages: list[dict[str, Any]] = HELLO, **options: Any) -> Reply:
    model = options.pop("model", TEXT_MODEL)
    events = list(client.stream_chat(messages, model, **options))
    terminal = [e for e in events if isinstance(e, (Finished, Failed))]
    assert terminal == [events[-1]], "exactly one Finished/Failed, and it comes last"
    return Reply(events)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def settings(fake: FakeOpenRouter) -> Settings:
    return Settings(
        api_key=KEY,
        base_url=fake.url,
        app_url="https://example.test/app",
        app_name="Test Assistant",
        connect_timeout=2.0,
        first_token_timeout=0.5,
        stall_timeout=0.5,
        max_retries=2,
        retry_budget=5.0,
        fallback_models=(),
    )


@pytest.fixture
def client(settings: Settings, sleeps: list[float]) -> Iterator[ChatClient]:
    with ChatClient(settings, sleep=sleeps.append) as chat_client:
        yield chat_client


def client_with(
    settings: Settings, sleeps: list[float] | None = None, **changes: Any
) -> ChatClient:
    sleep = sleeps.append if sleeps is not None else (lambda _: None)
    return ChatClient(replace(settings, **changes), sleep=sleep)


# -- normal replies ----------------------------------------------------------------------------


def test_reply_streams_model_text_usage_and_finish(client: ChatClient) -> None:
    result = ask(client)
    assert result.events[0] == ModelUsed(TEXT_MODEL, requested=TEXT_MODEL, reason="")
    assert result.text == ECHOED
    assert len(result.usages) == 1 and result.usages[0].completion_tokens == WORDS
    assert result.last == Finished("stop")


def test_request_carries_body_and_attribution_headers(
    client: ChatClient, fake: FakeOpenRouter
) -> None:
    messages = [{"role": "system", "content": "You are terse."}, *HELLO]
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    ask(client, messages, temperature=0.3, max_tokens=123, response_format=schema)
    request = fake.chat_requests[-1]
    assert request.json["messages"] == messages
    assert request.json["stream"] is True
    assert request.json["temperature"] == 0.3
    assert request.json["max_tokens"] == 123
    assert request.json["response_format"] == schema
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["http-referer"] == "https://example.test/app"
    assert request.headers["x-openrouter-title"] == "Test Assistant"


def test_no_key_sends_no_authorization_and_no_temperature(
    settings: Settings, fake: FakeOpenRouter
) -> None:
    with client_with(settings, api_key=None) as client:
        assert ask(client).text == ECHOED
    request = fake.chat_requests[-1]
    assert "authorization" not in request.headers
    assert "temperature" not in request.json


def test_image_parts_arrive_unchanged(client: ChatClient, fake: FakeOpenRouter) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is it?"}, image]}]
    assert ask(client, messages, model=VISION_MODEL).text == "Echo: What is it? [1 image]"
    assert fake.chat_requests[-1].json["messages"][0]["content"][1] == image


def test_model_used_reports_the_model_named_by_the_chunks(
    client: ChatClient, fake: FakeOpenRouter
) -> None:
    fake.queue(echo(answer_model="deepseek/deepseek-v3.2-exp"))
    assert ask(client).models == [
        ModelUsed("deepseek/deepseek-v3.2-exp", requested=TEXT_MODEL, reason="")
    ]


def test_reasoning_is_taken_once_and_never_mixed_into_text(
    client: ChatClient, fake: FakeOpenRouter
) -> None:
    fake.queue(reasoning_reply("Think step by step.", "The answer is 42."))
    result = ask(client)
    assert result.reasoning == "Think step by step."  # both fields came, one was taken
    assert result.text == "The answer is 42."
    assert result.usages[0].reasoning_tokens == 4


@pytest.mark.parametrize("shape", ["separate", "inline"])
def test_usage_is_read_from_either_shape(
    client: ChatClient, fake: FakeOpenRouter, shape: str
) -> None:
    fake.queue(echo(usage=shape, cached_tokens=3))
    (usage,) = ask(client).usages
    assert usage.completion_tokens == WORDS
    assert usage.total_tokens == usage.prompt_tokens + WORDS
    assert usage.cached_tokens == 3
    assert usage.cost is not None and usage.cost > 0


@pytest.mark.parametrize(
    "scenario",
    [
        echo(separator="\r\n"),
        echo(separator="\r"),
        echo(multiline=True),
        echo(framing="close"),
        echo(keepalives=3),
        echo(split_every=2, usage=None),
        echo(split_every=3, usage=None),
    ],
    ids=["crlf", "cr", "multiline-data", "close-delimited", "keepalives", "split-2", "split-3"],
)
def test_wire_variations_give_the_same_reply(
    client: ChatClient, fake: FakeOpenRouter, scenario: Scenario
) -> None:
    fake.queue(scenario)
    result = ask(client)
    assert result.text == ECHOED
    assert result.last == Finished("stop")


@pytest.mark.parametrize("reason", ["length", "content_filter"])
def test_finish_reason_is_passed_on(client: ChatClient, fake: FakeOpenRouter, reason: str) -> None:
    fake.queue(echo(finish_reason=reason))
    result = ask(client)
    assert result.text == ECHOED
    assert result.last == Finished(reason)


def test_finish_reason_without_done_is_complete(client: ChatClient, fake: FakeOpenRouter) -> None:
    fake.queue(echo(done=False, hangup=True))
    result = ask(client)
    assert result.text == ECHOED
    assert result.last == Finished("stop")


def test_whole_json_completion_is_accepted(client: ChatClient, fake: FakeOpenRouter) -> None:
    completion = {
        "model": TEXT_MODEL,
        "choices": [{"index": 0, "message": {"content": "All at once."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }
    body = json.dumps(completion)
    fake.queue(Scenario("json", headers={"Content-Type": "application/json"}, body=body))
    result = ask(client)
    assert result.text == "All at once."
    assert result.usages[0].total_tokens == 8
    assert result.last == Finished("stop")


def test_parallel_streams_share_one_client(client: ChatClient) -> None:
    results: list[str] = []

    def one(n: int) -> None:
        results.append(ask(client, [{"role": "user", "content": f"n{n}"}]).text)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [f"Echo: n{n}" for n in range(6)]


# -- failures mid-stream -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "choices", "done", "hangup"),
    [
        (502, "full", False, False),
        (502, "empty", True, False),
        ("502", "none", False, True),
        ("server_error", "full", True, False),
        ("server_error", "none", False, True),
    ],
)
def test_midstream_error_keeps_partial_reply(
    client: ChatClient,
    fake: FakeOpenRouter,
    code: int | str,
    choices: str,
    done: bool,
    hangup: bool,
) -> None:
    fake.queue(
        midstream_error("Partial answer", code=code, choices=choices, done=done, hangup=hangup)
    )
    result = ask(client)
    assert result.text == "Partial answer"
    assert isinstance(result.error, ProviderUnavailableError)
    assert "Provider returned error" in result.error.detail
    assert len(fake.chat_requests) == 1  # text had arrived: never retried


def test_midstream_error_code_maps_like_a_status(client: ChatClient, fake: FakeOpenRouter) -> None:
    fake.queue(midstream_error("Some", code=402, message="Insufficient credits"))
    result = ask(client)
    assert result.text == "Some"
    assert isinstance(result.error, InsufficientCreditsError)


def test_midstream_error_before_any_text_is_retried(
    client: ChatClient, fake: FakeOpenRouter, sleeps: list[float]
) -> None:
    fake.queue(midstream_error("", code=503), echo())
    result = ask(client)
    assert result.text == ECHOED
    assert len(result.models) == 1
    assert len(sleeps) == 1


def test_stream_cut_without_finish_is_interrupted(client: ChatClient, fake: FakeOpenRouter) -> None:
    fake.queue(echo(finish_reason=None, usage=None, done=False, hangup=True))
    result = ask(client)
    assert result.text == ECHOED
    assert isinstance(result.error, ReplyInterruptedError)
    assert len(fake.chat_requests) == 1


def test_finish_reason_error_without_error_object_fails(
    client: ChatClient, fake: FakeOpenRouter
) -> None:
    fake.queue(echo(finish_reason="error", usage=None))
    result = ask(client)
    assert result.text == ECHOED
    assert isinstance(result.error, ReplyInterruptedError)


def test_malformed_chunk_fails_instead_of_passing_garbage(
    settings: Settings, fake: FakeOpenRouter
) -> None:
    fake.queue(Scenario("garbage", frames=lambda request: [Data("{not json")]))
    with client_with(settings, max_retries=0) as client:
        result = ask(client)
    assert isinstance(result.error, ReplyInterruptedError)
    assert "malformed" in result.error.detail


# -- timeouts ----------------------------------------------------------------------------------


def test_slow_first_token_within_the_bound_is_fine(
    settings: Settings, fake: FakeOpenRouter
) -> None:
    fake.queue(echo(first_token_delay=0.2, keepalive_interval=0.05))
    with client_with(settings, first_token_timeout=2.0) as client:
        assert ask(client).text == ECHOED


def test_keepalives_do_not_extend_the_first_token_bound(
    settings: Settings, fake: FakeOpenRouter
) -> None:
    fake.queue(echo(first_token_delay=5.0, keepalive_interval=0.05))
    with client_with(settings, first_token_timeout=0.3, max_retries=0) as client:
        result = ask(client)
    assert result.text == ""
    assert isinstance(result.error, ReplyTimeoutError)
    assert "no content within 0.3 s" in result.error.detail
    assert fake.wait_for_disconnect()


def test_stall_with_keepalives_ends_with_timeout_and_keeps_text(
    client: ChatClient, fake: FakeOpenRouter
) -> None:
    fake.queue(stall("Partial answer", keepalive_interval=0.05))
    result = ask(client)
    assert result.text == "Partial answer"
    assert isinstance(result.error, ReplyTimeoutError)
    assert "no new content for 0.5 s" in result.error.detail
    assert len(fake.chat_requests) == 1
    assert fake.wait_for_disconnect()  # the connection was closed: generation stops upstream


def test_silent_stall_is_cut_at_the_stall_bound_not_the_read_timeout(
    settings: Settings, fake: FakeOpenRouter
) -> None:
    fake.queue(stall("Partial answer", keepalive_interval=None))
    # httpx's read timeout is the larger bound (5 s); the watchdog must act at 0.3 s.
    with client_with(settings, first_token_timeout=5.0, stall_timeout=0.3) as client:
        result = ask(client)
    assert result.text == "Partial answer"
    assert isinstance(result.error, ReplyTimeoutError)
    assert "silent connection closed" in result.error.detail
    assert fake.wait_for_disconnect()


def test_slow_consumer_is_not_mistaken_for_a_stall(
    settings: Settings, fake: FakeOpenRouter
) -> None:
    fake.queue(reply(tokens=["a ", "b ", "c"]))
    received = []
    with client_with(settings, stall_timeout=0.1) as client:
        for event in client.stream_chat(HELLO, TEXT_MODEL):
            received.append(event)
            if isinstance(event, TextDelta):
                threading.Event().wait(0.15)  # the UI is busy longer than the stall bound
    assert received[-1] == Finished("stop")


# -- stopping ----------------------------------------------------------------------------------


def test_closing_the_iterator_hangs_up_the_connection(
    client: ChatClient, fake: FakeOpenRouter
) -> None:
    fake.queue(long_reply(token_count=500, tokens_per_second=50))
    events = client.stream_chat(HELLO, TEXT_MODEL)
    for event in events:
        if isinstance(event, TextDelta):
            break
    events.close()  # type: ignore[attr-defined]
    assert fake.wait_for_disconnect()
    assert fake.disconnects[0].tokens_sent < 500


# -- HTTP errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["json", "html", "empty"])
@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, InsufficientCreditsError),
        (403, ModerationError),
        (408, ReplyTimeoutError),
        (429, RateLimitedError),
        (500, ProviderUnavailableError),
        (502, ProviderUnavailableError),
        (503, ProviderUnavailableError),
        (524, ProviderUnavailableError),
        (529, ProviderUnavailableError),
    ],
)
def test_http_errors_map_to_their_sentence(
    settings: Settings, fake: FakeOpenRouter, status: int, error_type: type, body: str
) -> None:
    fake.queue(http_error(status, body=body))
    with client_with(settings, max_retries=0) as client:
        result = ask(client)
    if (status, body) == (400, "json"):  # OpenRouter's "... is not a valid model ID"
        error_type = ModelNotFoundError
    assert type(result.error) is error_type
    assert result.text == ""
    assert f"HTTP {status}" in result.error.detail
    assert KEY not in str(result.error) and KEY not in result.error.detail


def test_bad_request_names_the_model(client: ChatClient, fake: FakeOpenRouter) -> None:
    fake.queue(http_error(400))
    result = ask(client, model="deepseek/no-such-model")
    assert "deepseek/no-such-model" in str(result.error)
    assert "not a valid model ID" in result.error.detail


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "acme/gone is not a valid model ID"),  # OpenRouter
        (404, 'model "acme/gone" not found, try pulling it first'),  # Ollama
        (404, "The model `acme/gone` does not exist."),  # vLLM
        (404, "Model not found"),
    ],
)
def test_unknown_model_says_it_is_not_on_this_server(
    client: ChatClient, fake: FakeOpenRouter, status: int, message: str
) -> None:
    fake.queue(http_error(status, message=message))
    result = ask(client, model="acme/gone")
    assert isinstance(result.error, ModelNotFoundError)
    assert str(result.error) == (
        "The model acme/gone is not available on this server. Pick another model."
    )


def test_a_400_about_something_else_is_not_an_unknown_model(
    client: ChatClient, fake: FakeOpenRouter
) -> None:
    fake.queue(http_error(400, message="temperature must be between 0 and 2"))
    result = ask(client)
    assert type(result.error) is BadRequestError
    assert TEXT_MODEL in str(result.error)


def test_missing_key_says_where_to_set_it(settings: Settings) -> None:
    with (
        FakeOpenRouter(api_key=KEY) as guarded,
        client_with(settings, api_key=None, base_url=guarded.url) as client,
    ):
        result = ask(client)
    assert isinstance(result.error, AuthenticationError)
    assert "OPENROUTER_API_KEY" in str(result.error)
    assert "No auth credentials found" in result.error.detail


def test_moderation_lists_the_reasons(client: ChatClient, fake: FakeOpenRouter) -> None:
    fake.queue(http_error(403, metadata={"reasons": ["violence", "hate"], "flagged_input": "x"}))
    error = ask(client).error
    assert isinstance(error, ModerationError)
    assert error.reasons == ["violence", "hate"]
    assert "violence, hate" in str(error)


def test_free_model_rate_limit_mentions_the_free_limits(
    settings: Settings, fake: FakeOpenRouter
) -> None:
    fake.queue(http_error(429, retry_after=7))
    with client_with(settings, max_retries=0) as client:
        error = ask(client, model=FREE_MODEL).error
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 7
    assert "Free models" in str(error)
    assert "upstream rate limit" in error.detail  # metadata.raw, for the logs


def test_key_echoed_by_a_proxy_is_scrubbed_from_detail(
    settings: Settings, fake: FakeOpenRouter
) -> None:
    fake.queue(http_error(400, message=f"bad header: Bearer {KEY}"))
    with client_with(settings, max_retries=0) as client:
        error = ask(client).error
    assert KEY not in error.detail


def test_image_to_text_only_model_is_not_retried_or_fallen_back(
    client: ChatClient, fake: FakeOpenRouter
) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "see"}, image]}]
    result = ask(client, messages, fallback_models=[FALLBACK_MODEL])
    assert isinstance(result.error, ImageNotSupportedError)
    assert [r.model for r in fake.chat_requests] == [TEXT_MODEL]


# -- retries and fallbacks -------------------------------------------------------------------


def test_retry_after_503_yields_the_reply_once(
    client: ChatClient, fake: FakeOpenRouter, sleeps: list[float]
) -> None:
    fake.queue(http_error(503), echo())
    result = ask(client)
    assert result.text == ECHOED  # not doubled
    assert len(result.models) == 1
    assert len(fake.chat_requests) == 2
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 1.0  # the first backoff step, with jitter


def test_retry_after_header_is_honoured(
    client: ChatClient, fake: FakeOpenRouter, sleeps: list[float]
) -> None:
    fake.queue(http_error(429, retry_after=2), echo())
    assert ask(client).text == ECHOED
    assert sleeps == [2.0]


def test_retry_really_waits_a_tiny_retry_after(settings: Settings, fake: FakeOpenRouter) -> None:
    fake.queue(http_error(429, retry_after="0.05"), echo())
    with ChatClient(settings) as client:  # the real time.sleep
        assert ask(client).text == ECHOED
    assert len(fake.chat_requests) == 2


def test_retries_are_bounded_then_the_error_is_reported(
    client: ChatClient, fake: FakeOpenRouter, sleeps: list[float]
) -> None:
    fake.set_scenario(http_error(502))
    assert isinstance(ask(client).error, ProviderUnavailableError)
    assert len(fake.chat_requests) == 3  # max_retries=2
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] / 2  # growing backoff, jittered


def test_fallback_model_answers_after_retries(
    client: ChatClient, fake: FakeOpenRouter, sleeps: list[float]
) -> None:
    fake.set_model_scenario(TEXT_MODEL, http_error(503))
    result = ask(client, fallback_models=[FALLBACK_MODEL])
    assert result.models == [ModelUsed(FALLBACK_MODEL, requested=TEXT_MODEL, reason="fallback")]
    assert result.text == ECHOED
    assert [r.model for r in fake.chat_requests] == [TEXT_MODEL] * 3 + [FALLBACK_MODEL]


def test_an_outage_is_reported_rather_than_a_fallbacks_unknown_model(
    client: ChatClient, fake: FakeOpenRouter
) -> None:
    fake.set_model_scenario(TEXT_MODEL, http_error(503))
    fake.set_model_scenario("acme/retired", http_error(400))  # "... is not a valid model ID"
    result = ask(client, fallback_models=["acme/retired"])
    assert [r.model for r in fake.chat_requests] == [TEXT_MODEL] * 3 + ["acme/retired"]
    assert isinstance(result.error, ProviderUnavailableError)
    assert str(result.error).startswith(f"The provider of the model {TEXT_MODEL} is unavailable")


def test_a_fallbacks_account_error_holds_for_every_model_and_is_reported(
    client: ChatClient, fake: FakeOpenRouter
) -> None:
    fake.set_model_scenario(TEXT_MODEL, http_error(503))
    fake.set_model_scenario(FALLBACK_MODEL, http_error(402))
    result = ask(client, fallback_models=[FALLBACK_MODEL])
    assert isinstance(result.error, InsufficientCreditsError)


def test_retry_after_beyond_the_budget_fails_over_without_waiting(
    settings: Settings, fake: FakeOpenRouter, sleeps: list[float]
) -> None:
    fake.set_model_scenario(TEXT_MODEL, http_error(429, retry_after=60))
    with client_with(settings, sleeps, retry_budget=3.0) as client:
        result = ask(client, fallback_models=[FALLBACK_MODEL])
    assert sleeps == []
    assert result.models[0].reason == "fallback"
    assert [r.model for r in fake.chat_requests] == [TEXT_MODEL, FALLBACK_MODEL]


@pytest.mark.parametrize("status", [400, 401, 402, 403])
def test_errors_the_user_must_fix_are_not_retried_or_fallen_back(
    client: ChatClient, fake: FakeOpenRouter, sleeps: list[float], status: int
) -> None:
    fake.queue(http_error(status))
    result = ask(client, fallback_models=[FALLBACK_MODEL])
    assert isinstance(result.last, Failed)
    assert len(fake.chat_requests) == 1
    assert sleeps == []


def test_no_retry_once_text_has_arrived(client: ChatClient, fake: FakeOpenRouter) -> None:
    fake.queue(echo(finish_reason=None, usage=None, done=False, hangup=True))
    result = ask(client, fallback_models=[FALLBACK_MODEL])
    assert isinstance(result.error, ReplyInterruptedError)
    assert [r.model for r in fake.chat_requests] == [TEXT_MODEL]


def test_connection_refused_is_a_network_error(settings: Settings, sleeps: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/api/v1"
    with client_with(settings, sleeps, base_url=base) as client:
        result = ask(client)
    assert isinstance(result.error, NetworkError)
    assert len(sleeps) == 2  # network errors are retried before giving up


def test_connect_timeout_is_a_network_error(settings: Settings) -> None:
    with (
        never_connecting_url() as base,
        client_with(settings, base_url=base, connect_timeout=0.2, max_retries=0) as client,
    ):
        result = ask(client)
    assert isinstance(result.error, NetworkError)
    assert "ConnectTimeout" in result.error.detail


def test_invalid_base_url_is_a_configuration_error(settings: Settings) -> None:
    with client_with(settings, base_url="localhost:8080/v1") as client:
        result = ask(client)
    assert isinstance(result.error, ConfigurationError)
    assert "localhost:8080/v1" in str(result.error)


def test_unexpected_exception_becomes_failed(client: ChatClient) -> None:
    result = ask(client, [{"role": "user", "content": object()}])  # not JSON-serialisable
    assert isinstance(result.error, UnexpectedError)
    assert "TypeError" in result.error.detail


# -- catalogue -------------------------------------------------------------------------------------


def test_list_models_returns_the_catalogue(client: ChatClient) -> None:
    models = {m["id"]: m for m in client.list_models()}
    assert "image" in models[VISION_MODEL]["architecture"]["input_modalities"]
    assert models[TEXT_MODEL]["context_length"] == 163_840


def test_list_models_on_a_wrong_base_url_raises_a_configuration_error(
    settings: Settings, fake: FakeOpenRouter
) -> None:
    with (
        client_with(settings, base_url=fake.root_url) as client,
        pytest.raises(ConfigurationError, match="OPENROUTER_BASE_URL"),
    ):
        client.list_models()


def test_list_models_unreachable_raises_network_error(settings: Settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        client_with(settings, base_url=f"http://127.0.0.1:{port}") as client,
        pytest.raises(NetworkError),
    ):
        client.list_models()


# -- Retry-After parsing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "12"}, 12.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}, 30.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:30 -0000"}, 30.0),
        ({"X-RateLimit-Reset": "1445412490000"}, 10.0),  # epoch milliseconds
        ({"X-RateLimit-Reset": "1445412485"}, 5.0),  # epoch seconds
        ({"X-RateLimit-Reset": "3"}, 3.0),  # a delay in seconds
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-3"}, 0.0),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    now = 1445412480.0  # 2015-10-21 07:28:00 UTC
    assert parse_retry_after(httpx.Headers(headers), now=now) == expected


# -- the fake run standalone, as the browser tests use it -------------------------------------


def test_standalone_fake_takes_scenarios_from_another_process(settings: Settings) -> None:
    command = [sys.executable, "-m", "tests.fake_openrouter", "--port", "0"]
    root = Path(__file__).resolve().parent.parent
    with subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            control = url.removesuffix("/api/v1") + "/_control"
            specs = [{"name": "http_error", "status": 503}, {"name": "reasoning"}]
            assert httpx.post(f"{control}/scenario", json=specs).json() == {"accepted": 2}
            sleeps: list[float] = []
            with client_with(settings, sleeps, base_url=url) as client:
                result = ask(client)
            assert result.reasoning and result.text == "The answer is 42."
            recorded = httpx.get(f"{control}/requests").json()
            assert [r["json"]["model"] for r in recorded] == [TEXT_MODEL, TEXT_MODEL]
            assert httpx.get(f"{control}/streams").json()[0]["completed"] is True
        finally:
            process.terminate()
