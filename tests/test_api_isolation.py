"""Keys stay apart: one key never reads, continues or stops another's conversations, and a
revoked key is refused at once, also by a stream already open on another replica."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import openai
import pytest

from tests.api_harness import Member, Replica, replica, settings_for
from tests.fake_openrouter import FALLBACK_MODEL, FakeOpenRouter, long_reply
from tests.test_api_socket import SHAPED, connect, run, text_of


def test_another_key_cannot_read_continue_or_stop_a_conversation(
    api: Replica, fake: FakeOpenRouter, ada: Member, bob: Member
) -> None:
    fake.set_model_scenario(FALLBACK_MODEL, long_reply(300, tokens_per_second=100))

    async def talk() -> None:
        async with connect(api, ada) as adas, connect(api, bob) as bobs:
            await adas.next()
            await bobs.next()
            await adas.send(type="send", model=SHAPED, text="Ada's secret plans")
            accepted = await adas.next()
            conversation = accepted["conversation_id"]
            for attempt in (
                {"type": "resume", "conversation_id": conversation},
                {"type": "send", "conversation_id": conversation, "text": "Bob was here"},
                {"type": "stop", "reply_id": accepted["reply_id"]},
            ):
                await bobs.send(**attempt)
                refused = await bobs.next()
                assert refused["type"] == "error" and refused["code"] == "not_found", refused
                assert "Ada" not in refused["message"]
            seen = await adas.until("done")
            assert seen[-1]["status"] == "complete"  # Bob's stop did nothing
            assert text_of(seen).endswith("w299 ")

        texts = [t for _, t, _ in api.texts(ada.user, conversation)]
        assert "Bob was here" not in texts and len(texts) == 2
        assert api.services.store.list_conversations(bob.user.id) == []

    run(talk)
    bobs_client = openai.OpenAI(api_key=bob.key, base_url=api.base_url, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        bobs_client.chat.completions.create(
            model="gadget",
            messages=[{"role": "user", "content": "Read me Ada's chat"}],
            extra_body={
                "conversation_id": api.services.store.list_conversations(ada.user.id)[0].id
            },
        )


def test_a_revoked_key_is_refused_at_once(api: Replica, ada: Member) -> None:
    models = openai.OpenAI(api_key=ada.key, base_url=api.base_url, max_retries=0).models
    models.list()
    api.services.api_keys.revoke(ada.user.id, ada.key_id)
    with pytest.raises(openai.AuthenticationError):
        models.list()

    async def talk() -> None:
        async with connect(api, ada) as socket:
            error = await socket.next()
            assert error["code"] == "invalid_api_key"

    run(talk)


def test_revoking_a_key_ends_its_streams_on_another_replica(
    fake: FakeOpenRouter, migrated_url: str
) -> None:
    """Two replicas share only the database; the key is revoked through the first while the
    second serves a stream and a socket for it."""
    fake.set_model_scenario(FALLBACK_MODEL, long_reply(3000, tokens_per_second=100))
    settings = settings_for(fake, migrated_url)
    with replica(settings) as first, replica(settings) as second:
        ada = first.member("ada")
        outcome: dict[str, object] = {}
        socket_closed = threading.Event()

        def read_stream() -> None:
            client = openai.OpenAI(api_key=ada.key, base_url=second.base_url, max_retries=0)
            stream = client.chat.completions.create(
                model=SHAPED, messages=[{"role": "user", "content": "Keep going"}], stream=True
            )
            text = ""
            try:
                for chunk in stream:
                    outcome.setdefault("reply_id", chunk.id.removeprefix("chatcmpl-"))
                    text += chunk.choices[0].delta.content or ""
            except openai.APIError as error:
                outcome["error"] = error.message
            outcome["text"] = text
            outcome["ended_at"] = time.monotonic()

        async def hold_socket() -> None:
            async with connect(second, ada) as socket:
                await socket.next()
                try:
                    while True:
                        await socket.next(timeout=30)
                except Exception:
                    socket_closed.set()

        reader = threading.Thread(target=read_stream)
        holder = threading.Thread(target=lambda: asyncio.run(hold_socket()))
        reader.start()
        holder.start()
        deadline = time.monotonic() + 10
        while "reply_id" not in outcome and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        first.services.api_keys.revoke(ada.user.id, ada.key_id)
        revoked_at = time.monotonic()
        reader.join(15)
        holder.join(15)

        assert "revoked" in str(outcome.get("error"))
        assert float(outcome["ended_at"]) - revoked_at < 2.5  # type: ignore[arg-type]
        assert socket_closed.is_set()
        stored = first.services.store.get_message(ada.user.id, str(outcome["reply_id"]))
        assert stored.status == "stopped" and stored.text == outcome["text"]
        assert len(stored.text.split()) < 3000
        refused = httpx.get(
            f"{second.base_url}/models", headers={"Authorization": f"Bearer {ada.key}"}
        )
        assert refused.status_code == 401
