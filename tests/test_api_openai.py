"""The chat API through the official `openai` package, served for real, against the fake provider.

Replies of the provider that tests shape are set per model (`gadget@<model>` in the request),
so that the background request that titles a new conversation (default model) never takes
them.
"""

from __future__ import annotations

import base64
import io
import json
import time

import httpx
import openai
import pytest
from PIL import Image

from assistant.roles import builtin_roles
from assistant.store import RoleDraft
from tests.api_harness import Member, Replica, replica, settings_for
from tests.fake_openrouter import (
    FALLBACK_MODEL,
    REASONING_MODEL,
    TEXT_MODEL,
    VISION_MODEL,
    FakeOpenRouter,
    http_error,
    long_reply,
    midstream_error,
    reply,
)

SHAPED = f"gadget@{FALLBACK_MODEL}"  # a model whose replies a test sets


def client(api: Replica, who: Member, **options: object) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=who.key, base_url=api.base_url, max_retries=0, timeout=30, **options
    )


def requests_for(fake: FakeOpenRouter, model: str) -> list[dict[str, object]]:
    return [r.json for r in fake.chat_requests if r.model == model]


def png_data_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_the_openai_package_streams_a_reply_stored_like_a_browser_turn(
    api: Replica, ada: Member
) -> None:
    stream = client(api, ada).chat.completions.create(
        model="gadget",
        messages=[{"role": "user", "content": "My phone battery drains fast"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: My phone battery drains fast"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage and chunks[-1].usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])
    assert {c.id for c in chunks} == {chunks[0].id} and chunks[0].model == f"gadget@{TEXT_MODEL}"
    conversation_id = chunks[0].model_extra["conversation_id"]  # type: ignore[index]

    listed = api.services.store.list_conversations(ada.user.id)
    assert [c.id for c in listed] == [conversation_id]  # in the owner's History
    assert api.texts(ada.user, conversation_id) == [
        ("user", "My phone battery drains fast", "complete"),
        ("assistant", "Echo: My phone battery drains fast", "complete"),
    ]
    reply_id = chunks[0].id.removeprefix("chatcmpl-")
    stored = api.services.store.get_message(ada.user.id, reply_id)
    assert stored.sentiment is not None and stored.prompt_tokens  # as the Sentiment page reads


def test_a_reply_without_streaming_comes_back_whole_naming_its_conversation(
    api: Replica, ada: Member
) -> None:
    raw = client(api, ada).chat.completions.with_raw_response.create(
        model="healthcare", messages=[{"role": "user", "content": "I have a headache"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Echo: I have a headache"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    conversation_id = raw.headers["x-conversation-id"]
    assert completion.model_extra["conversation_id"] == conversation_id  # type: ignore[index]
    detail = api.services.store.get_conversation(ada.user.id, conversation_id)
    assert detail.conversation.role_id == "healthcare"


def test_a_client_that_sends_the_whole_conversation_again_continues_it(
    api: Replica, ada: Member
) -> None:
    chat = client(api, ada).chat.completions
    history: list[dict[str, str]] = [{"role": "user", "content": "First question"}]
    first = chat.create(model="gadget", messages=history)  # type: ignore[arg-type]
    history += [
        {"role": "assistant", "content": first.choices[0].message.content or ""},
        {"role": "user", "content": "Second question"},
    ]
    second = chat.create(model="gadget", messages=history)  # type: ignore[arg-type]
    conversation = first.model_extra["conversation_id"]  # type: ignore[index]
    assert second.model_extra["conversation_id"] == conversation  # type: ignore[index]
    assert [t for _, t, _ in api.texts(ada.user, conversation)] == [
        "First question",
        "Echo: First question",
        "Second question",
        "Echo: Second question",
    ]
    # A different earlier exchange is another conversation.
    other = chat.create(
        model="gadget",
        messages=[
            {"role": "user", "content": "First question"},
            {"role": "assistant", "content": "Something else"},
            {"role": "user", "content": "Second question"},
        ],
    )
    assert other.model_extra["conversation_id"] != conversation  # type: ignore[index]


def test_a_conversation_id_continues_it_and_another_users_is_not_found(
    api: Replica, ada: Member, bob: Member
) -> None:
    first = client(api, ada).chat.completions.create(
        model="gadget", messages=[{"role": "user", "content": "Mine"}]
    )
    conversation = first.model_extra["conversation_id"]  # type: ignore[index]
    client(api, ada).chat.completions.create(
        model="gadget",
        messages=[{"role": "user", "content": "More"}],
        extra_body={"conversation_id": conversation},
    )
    assert len(api.texts(ada.user, conversation)) == 4
    with pytest.raises(openai.NotFoundError) as caught:
        client(api, bob).chat.completions.create(
            model="gadget",
            messages=[{"role": "user", "content": "Let me in"}],
            extra_body={"conversation_id": conversation},
        )
    assert "conversation was not found" in caught.value.message
    assert len(api.texts(ada.user, conversation)) == 4
    assert api.services.store.list_conversations(bob.user.id) == []


def test_the_model_field_picks_the_role_and_the_upstream_model(
    api: Replica, fake: FakeOpenRouter, ada: Member, bob: Member
) -> None:
    api.services.store.create_role(
        ada.user.id,
        RoleDraft(name="Pirate", icon="🏴", description="", system_prompt="Talk like a pirate."),
    )
    reply_ = client(api, ada).chat.completions.create(
        model=f"custom:pirate@{REASONING_MODEL}",
        messages=[
            {"role": "system", "content": "Answer in one line."},
            {"role": "user", "content": "Ahoy"},
        ],
        temperature=0.3,
        max_tokens=77,
    )
    assert reply_.model == f"custom:pirate@{REASONING_MODEL}"
    (sent,) = requests_for(fake, REASONING_MODEL)
    system = sent["messages"][0]["content"]  # type: ignore[index]
    assert system == "Talk like a pirate.\n\nAnswer in one line."
    assert (sent["temperature"], sent["max_tokens"]) == (0.3, 77)

    ids = [m.id for m in client(api, ada).models.list()]
    assert ids == [*builtin_roles(), "custom:pirate"]
    assert "custom:pirate" not in [m.id for m in client(api, bob).models.list()]
    assert client(api, ada).models.retrieve("custom:pirate").owned_by == "ada"
    with pytest.raises(openai.NotFoundError):  # another user's role is a role that does not exist
        client(api, bob).chat.completions.create(
            model="custom:pirate", messages=[{"role": "user", "content": "Ahoy"}]
        )
    with pytest.raises(openai.NotFoundError, match="not available on this server"):
        client(api, ada).chat.completions.create(
            model="gadget@no/such-model", messages=[{"role": "user", "content": "Hi"}]
        )


def test_errors_come_out_as_the_openai_packages_error_classes(
    api: Replica, fake: FakeOpenRouter, ada: Member
) -> None:
    hello = [{"role": "user", "content": "Hi"}]
    stranger = openai.OpenAI(api_key="mra_0123456789ab_" + "x" * 43, base_url=api.base_url)
    with pytest.raises(openai.AuthenticationError, match="Account page"):
        stranger.chat.completions.create(model="gadget", messages=hello)  # type: ignore[arg-type]
    with pytest.raises(openai.AuthenticationError):
        stranger.models.list()
    with pytest.raises(openai.NotFoundError, match="does not exist") as unknown:
        client(api, ada).chat.completions.create(model="astrology", messages=hello)  # type: ignore[arg-type]
    assert unknown.value.code == "model_not_found"

    huge = "x" * (50 * 1024 * 1024)
    with pytest.raises(openai.APIStatusError, match="larger than 28 MB") as too_large:
        client(api, ada).chat.completions.create(
            model="gadget", messages=[{"role": "user", "content": huge}]
        )
    assert too_large.value.status_code == 413

    fake.set_model_scenario(FALLBACK_MODEL, http_error(503))
    with pytest.raises(openai.InternalServerError, match="unavailable or overloaded") as down:
        client(api, ada).chat.completions.create(model=SHAPED, messages=hello)  # type: ignore[arg-type]
    assert down.value.status_code == 502
    fake.set_model_scenario(FALLBACK_MODEL, midstream_error("Partial answer"))
    stream = client(api, ada).chat.completions.create(model=SHAPED, messages=hello, stream=True)  # type: ignore[arg-type]
    received = []
    with pytest.raises(openai.APIError, match="unavailable or overloaded"):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "Partial answer"
    assert api.services.store.search(ada.user.id, "Partial answer")  # the partial reply is kept


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(
    fake: FakeOpenRouter, database_url: str
) -> None:
    settings = settings_for(fake, database_url, api_requests_per_minute=2)
    with replica(settings) as api:
        ada = api.member("ada")
        models = client(api, ada).models
        models.list()
        models.list()
        with pytest.raises(openai.RateLimitError, match="2 requests in the last minute") as caught:
            models.list()
        assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60


def test_a_key_holds_a_bounded_number_of_running_replies(
    fake: FakeOpenRouter, database_url: str
) -> None:
    with replica(settings_for(fake, database_url, api_streams=1)) as api:
        ada = api.member("ada")
        fake.set_model_scenario(FALLBACK_MODEL, long_reply(200, tokens_per_second=100))
        running = client(api, ada).chat.completions.create(
            model=SHAPED, messages=[{"role": "user", "content": "Long"}], stream=True
        )
        next(iter(running))
        with pytest.raises(openai.RateLimitError, match="1 reply running"):
            client(api, ada).chat.completions.create(
                model="gadget", messages=[{"role": "user", "content": "Another"}]
            )
        list(running)
        done = client(api, ada).chat.completions.create(
            model="gadget", messages=[{"role": "user", "content": "Now"}]
        )
        assert done.choices[0].message.content == "Echo: Now"


def test_images_go_through_the_apps_image_pipeline(
    api: Replica, fake: FakeOpenRouter, ada: Member
) -> None:
    completion = client(api, ada).chat.completions.create(
        model="gadget",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": png_data_url()}},
                ],
            }
        ],
    )
    assert completion.choices[0].message.content == "Echo: What is this? [1 image]"
    assert completion.model == f"gadget@{VISION_MODEL}"  # the text-only default handed over
    conversation = completion.model_extra["conversation_id"]  # type: ignore[index]
    question = api.services.store.get_conversation(ada.user.id, conversation).messages[0]
    assert len(question.images) == 1
    data, mime = api.services.store.image_bytes(ada.user.id, question.images[0].sha256) or (b"", "")
    assert mime == "image/webp" and data.startswith(b"RIFF")  # re-encoded, metadata gone


def raw_post(
    api: Replica, who: Member, body: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return httpx.post(
        f"{api.base_url}/chat/completions",
        content=body,
        headers={"Authorization": f"Bearer {who.key}", "Content-Type": content_type},
        timeout=30,
    )


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("body", "status", "sentence"),
    [
        (b'{"model": "gadget", "messages": [', 400, "not valid JSON"),
        (b'["model", "gadget"]', 400, "must be a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
        (b'{"model": "gadget"}', 400, "'messages' is required"),
        (b'{"model": "gadget", "messages": []}', 400, "'messages' is required"),
        (b'{"messages": [{"role": "user", "content": "Hi"}]}', 400, "'model' is required"),
        (
            b'{"model": "gadget", "messages": [{"role": "user", "content": "Hi"}], "colour": 1}',
            400,
            "Unrecognized request argument supplied: colour",
        ),
        (
            b'{"model": "gadget", "messages": [{"role": "user", "content": "Hi"}], "n": 3}',
            400,
            "'n' is not supported",
        ),
        (
            b'{"model": "gadget", "messages": [{"role": "user", "content": "Hi"}],'
            b' "tools": [{"type": "function", "function": {"name": "f"}}]}',
            400,
            "'tools' is not supported",
        ),
        (
            b'{"model": "gadget", "messages": [{"role": "assistant", "content": "Hi"}]}',
            400,
            "last message must be the user's",
        ),
        (
            b'{"model": "gadget", "messages": [{"role": "user", "content": "Hi", "x": 1}]}',
            400,
            "unsupported field 'x'",
        ),
        (
            b'{"model": "gadget", "messages": [{"role": "user", "content": "\\ud800"}]}',
            400,
            "not valid Unicode",
        ),
        (
            b'{"model": "gadget", "messages": [{"role": "user", "content": "   "}]}',
            400,
            "The message is empty",
        ),
        (
            b'{"model": "gadget", "messages": [{"role": "user", "content": [{"type": '
            b'"image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}',
            400,
            "does not fetch links",
        ),
        (
            json.dumps(
                {
                    "model": "gadget",
                    "messages": [
                        {
                            "role": "user",
                            "content": [
                                {"type": "text", "text": "Look"},
                                {
                                    "type": "image_url",
                                    "image_url": {
                                        "url": "data:image/svg+xml;base64,"
                                        + base64.b64encode(SVG).decode()
                                    },
                                },
                            ],
                        }
                    ],
                }
            ).encode(),
            400,
            "not a PNG, JPEG, WebP or GIF image",
        ),
        (
            b'{"model": "gadget", "messages": [{"role": "user", "content": "Hi"}],'
            b' "stream_options": {"include_usage": true}}',
            400,
            "only allowed when 'stream' is true",
        ),
    ],
)
def test_bad_input_is_refused_with_a_sentence_and_nothing_is_stored(
    api: Replica, ada: Member, body: bytes, status: int, sentence: str
) -> None:
    response = raw_post(api, ada, body)
    assert response.status_code == status
    error = response.json()["error"]
    assert sentence in error["message"] and error["type"] == "invalid_request_error"
    assert api.services.store.list_conversations(ada.user.id) == []


def test_wrong_content_types_are_refused_and_nothing_is_stored(api: Replica, ada: Member) -> None:
    body = b'{"model": "gadget", "messages": [{"role": "user", "content": "Hi"}]}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = raw_post(api, ada, body, content_type)
        assert response.status_code == 415
        assert "application/json" in response.json()["error"]["message"]
    assert api.services.store.list_conversations(ada.user.id) == []


def test_a_client_that_hangs_up_stops_the_reply_and_it_is_stored_as_stopped(
    api: Replica, fake: FakeOpenRouter, ada: Member
) -> None:
    fake.set_model_scenario(FALLBACK_MODEL, long_reply(400, tokens_per_second=100))
    stream = client(api, ada).chat.completions.create(
        model=SHAPED, messages=[{"role": "user", "content": "Tell me everything"}], stream=True
    )
    chunks = iter(stream)
    first = next(chunks)
    next(chunks)
    stream.close()  # the client is gone

    assert fake.wait_for_disconnect(timeout=5)  # the upstream request was closed
    reply_id = first.id.removeprefix("chatcmpl-")
    deadline = time.monotonic() + 5
    while api.services.store.get_message(ada.user.id, reply_id).status == "streaming":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stored = api.services.store.get_message(ada.user.id, reply_id)
    assert stored.status == "stopped" and stored.text.startswith("w0 ")
    assert len(stored.text.split()) < 400


def test_a_slow_first_token_that_times_out_is_a_504(
    fake: FakeOpenRouter, database_url: str
) -> None:
    with replica(settings_for(fake, database_url, first_token_timeout=0.5)) as api:
        ada = api.member("ada")
        fake.set_model_scenario(FALLBACK_MODEL, reply("Late", first_token_delay=5))
        with pytest.raises(openai.APIStatusError, match="took too long") as caught:
            client(api, ada).chat.completions.create(
                model=SHAPED, messages=[{"role": "user", "content": "Hi"}], stream=True
            )
        assert caught.value.status_code == 504


def test_a_client_that_gives_up_waiting_for_a_whole_reply_stops_it(
    api: Replica, fake: FakeOpenRouter, ada: Member
) -> None:
    fake.set_model_scenario(FALLBACK_MODEL, long_reply(400, tokens_per_second=100))
    body = {"model": SHAPED, "messages": [{"role": "user", "content": "Take your time"}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{api.base_url}/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {ada.key}"},
            timeout=httpx.Timeout(30, read=0.5),
        )
    assert fake.wait_for_disconnect(timeout=5)
    (conversation,) = api.services.store.list_conversations(ada.user.id)
    deadline = time.monotonic() + 5
    while api.texts(ada.user, conversation.id)[-1][2] == "streaming":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert api.texts(ada.user, conversation.id)[-1][2] == "stopped"


def test_a_model_slow_to_start_gets_its_stream_begun_with_keep_alives(
    api: Replica, fake: FakeOpenRouter, ada: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proxies give up on a silent response; past the hold, the stream begins and comments
    keep it alive until the first text (which the openai package reads as usual)."""
    from server import chat_api

    monkeypatch.setattr(chat_api, "HOLD_HEADERS", 0.2)
    monkeypatch.setattr(chat_api, "KEEPALIVE_EVERY", 0.1)
    fake.set_model_scenario(FALLBACK_MODEL, reply("Worth the wait", first_token_delay=0.8))
    body = {
        "model": SHAPED,
        "messages": [{"role": "user", "content": "Think hard"}],
        "stream": True,
    }
    lines = []
    with httpx.stream(
        "POST",
        f"{api.base_url}/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {ada.key}", "Accept-Encoding": "identity"},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line]
    first_text = next(i for i, line in enumerate(lines) if '"content":"Worth' in line)
    assert lines[1:first_text].count(": keep-alive") >= 3
    assert lines[-1] == "data: [DONE]"

    fake.set_model_scenario(FALLBACK_MODEL, http_error(503))  # slow, then failed: a chunk now
    monkeypatch.setattr(chat_api, "HOLD_HEADERS", 0.0)
    stream = client(api, ada).chat.completions.create(
        model=SHAPED, messages=[{"role": "user", "content": "Again"}], stream=True
    )
    with pytest.raises(openai.APIError, match="unavailable or overloaded"):
        list(stream)
