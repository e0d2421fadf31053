"""The chat API's WebSocket through the `websockets` client: many turns, stop, leave, resume."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets

from server import chat_socket
from tests.api_harness import Member, Replica
from tests.fake_openrouter import FALLBACK_MODEL, FakeOpenRouter, long_reply

SHAPED = f"gadget@{FALLBACK_MODEL}"  # replies shaped per test (titles use the default model)


class Socket:
    """One connection, read message by message."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def send(self, **message: Any) -> None:
        await self.connection.send(json.dumps(message))

    async def next(self, timeout: float = 10) -> dict[str, Any]:
        return dict(json.loads(await asyncio.wait_for(self.connection.recv(), timeout)))

    async def until(self, kind: str, timeout: float = 15) -> list[dict[str, Any]]:
        """Every message up to and including the next one of type `kind`."""
        seen = []
        while True:
            message = await self.next(timeout)
            seen.append(message)
            if message["type"] == kind:
                return seen


@asynccontextmanager
async def connect(api: Replica, who: Member | None, **options: Any) -> AsyncIterator[Socket]:
    headers = {"Authorization": f"Bearer {who.key}"} if who is not None else {}
    async with websockets.connect(api.ws_url, additional_headers=headers, **options) as ws:
        yield Socket(ws)


def run(work: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(work(), 60))


def text_of(messages: list[dict[str, Any]]) -> str:
    return "".join(m.get("text", "") for m in messages if m["type"] == "delta")


def test_a_socket_holds_a_multi_turn_conversation(api: Replica, ada: Member) -> None:
    async def talk() -> None:
        async with connect(api, ada) as socket:
            assert await socket.next() == {"type": "ready", "version": 1}
            await socket.send(type="send", ref="q1", text="My laptop is slow")
            first = await socket.until("done")
            accepted = first[0]
            assert accepted["type"] == "accepted" and accepted["ref"] == "q1"
            assert text_of(first) == "Echo: My laptop is slow"
            assert [m["type"] for m in first[-2:]] == ["usage", "done"]
            assert first[-1]["status"] == "complete" and first[-1]["finish_reason"] == "stop"
            conversation = accepted["conversation_id"]

            await socket.send(type="send", conversation_id=conversation, text="Still slow")
            second = await socket.until("done")
            assert second[0]["conversation_id"] == conversation
            assert text_of(second) == "Echo: Still slow"
            await socket.send(type="ping")
            assert await socket.next() == {"type": "pong"}

        assert [t for _, t, _ in api.texts(ada.user, conversation)] == [
            "My laptop is slow",
            "Echo: My laptop is slow",
            "Still slow",
            "Echo: Still slow",
        ]
        message = api.services.store.get_message(ada.user.id, accepted["message_id"])
        assert message.text == "My laptop is slow"

    run(talk)


def test_a_reply_is_stopped_from_the_socket(
    api: Replica, fake: FakeOpenRouter, ada: Member
) -> None:
    fake.set_model_scenario(FALLBACK_MODEL, long_reply(400, tokens_per_second=100))

    async def talk() -> None:
        async with connect(api, ada) as socket:
            await socket.next()
            await socket.send(type="send", model=SHAPED, text="Go on and on")
            accepted = await socket.next()
            await socket.until("delta")
            await socket.send(type="stop", reply_id=accepted["reply_id"])
            seen = await socket.until("done")
            assert {"type": "stopped", "reply_id": accepted["reply_id"]} in seen
            assert seen[-1]["status"] == "stopped"
            stored = api.services.store.get_message(ada.user.id, accepted["reply_id"])
            assert stored.status == "stopped" and 0 < len(stored.text.split()) < 400
            await socket.send(type="stop", reply_id=accepted["reply_id"])
            error = await socket.next()
            assert error["type"] == "error" and error["code"] == "not_found"

    run(talk)
    assert fake.wait_for_disconnect(timeout=5)


def test_a_client_that_reconnects_gets_what_it_missed(
    api: Replica, fake: FakeOpenRouter, ada: Member
) -> None:
    fake.set_model_scenario(FALLBACK_MODEL, long_reply(150, tokens_per_second=100))

    async def talk() -> None:
        async with connect(api, ada) as socket:
            await socket.next()
            await socket.send(type="send", model=SHAPED, text="A long story, please")
            accepted = await socket.next()
            early = text_of(await socket.until("delta"))
        await asyncio.sleep(0.3)  # away while the reply goes on on the server

        async with connect(api, ada) as socket:
            await socket.next()
            await socket.send(
                type="resume",
                conversation_id=accepted["conversation_id"],
                after=accepted["message_id"],
            )
            seen = await socket.until("done")
        (caught_up,) = [m for m in seen if m["type"] == "message"]
        assert caught_up["message"]["id"] == accepted["reply_id"]
        assert caught_up["message"]["status"] == "streaming"
        so_far = caught_up["message"]["text"]
        assert so_far.startswith(early) and len(so_far) > len(early)
        assert any(m["type"] == "resumed" for m in seen)
        whole = so_far + text_of(seen)
        assert whole == "".join(f"w{i} " for i in range(150))
        assert seen[-1]["status"] == "complete"
        stored = api.services.store.get_message(ada.user.id, accepted["reply_id"])
        assert (stored.text, stored.status) == (whole, "complete")

        async with connect(api, ada) as socket:  # everything, once it has ended
            await socket.next()
            await socket.send(type="resume", conversation_id=accepted["conversation_id"])
            seen = await socket.until("resumed")
        assert [m["message"]["role"] for m in seen if m["type"] == "message"] == [
            "user",
            "assistant",
        ]

    run(talk)


def test_a_reply_nobody_comes_back_for_is_stopped(
    api: Replica, fake: FakeOpenRouter, ada: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat_socket, "RESUME_GRACE", 0.3)
    fake.set_model_scenario(FALLBACK_MODEL, long_reply(2000, tokens_per_second=100))

    async def talk() -> None:
        async with connect(api, ada) as socket:
            await socket.next()
            await socket.send(type="send", model=SHAPED, text="Go on for ever")
            accepted = await socket.next()
            await socket.until("delta")
        for _ in range(100):
            await asyncio.sleep(0.05)
            stored = api.services.store.get_message(ada.user.id, accepted["reply_id"])
            if stored.status != "streaming":
                break
        assert stored.status == "stopped"

    run(talk)
    assert fake.wait_for_disconnect(timeout=5)


def test_a_key_can_come_in_the_first_message_and_a_wrong_one_is_shut_out(
    api: Replica, ada: Member
) -> None:
    async def talk() -> None:
        async with connect(api, None) as socket:
            await socket.send(type="auth", key=ada.key)
            assert (await socket.next())["type"] == "ready"
        async with connect(api, None) as socket:
            await socket.send(type="auth", key="mra_0123456789ab_" + "x" * 43)
            error = await socket.next()
            assert error["code"] == "invalid_api_key" and "Account page" in error["message"]
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await socket.next()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    run(talk)


def test_bad_messages_get_a_sentence_and_the_socket_stays_open(api: Replica, ada: Member) -> None:
    async def talk() -> None:
        async with connect(api, ada) as socket:
            await socket.next()
            cases: list[tuple[Any, str]] = [
                ("{not json", "not valid JSON"),
                (b"\x00\x01", "text frames"),
                ({"type": "dance"}, "Unknown message type"),
                ({"type": "send", "text": "Hi", "colour": "red"}, "Unrecognized field"),
                ({"type": "send", "text": ""}, "The message is empty"),
                ({"type": "send", "text": "Hi", "model": "astrology"}, "does not exist"),
                ({"type": "send", "text": "Hi", "images": ["http://x/y.png"]}, "fetch links"),
                ({"type": "resume"}, "needs a 'conversation_id'"),
            ]
            for message, sentence in cases:
                raw = json.dumps(message) if isinstance(message, dict) else message
                await socket.connection.send(raw)
                error = await socket.next()
                assert error["type"] == "error" and sentence in error["message"], error
            await socket.send(type="ping")
            assert await socket.next() == {"type": "pong"}
        assert api.services.store.list_conversations(ada.user.id) == []

    run(talk)


def test_a_socket_is_held_to_its_keys_limits(fake: FakeOpenRouter, database_url: str) -> None:
    from tests.api_harness import replica, settings_for

    fake.set_model_scenario(FALLBACK_MODEL, long_reply(300, tokens_per_second=100))
    with replica(settings_for(fake, database_url, api_streams=1)) as api:
        ada = api.member("ada")

        async def talk() -> None:
            async with connect(api, ada) as socket:
                await socket.next()
                await socket.send(type="send", ref="one", model=SHAPED, text="Long")
                accepted = await socket.next()
                await socket.send(type="send", ref="two", text="Another")
                refused = await socket.until("error")
                assert refused[-1]["ref"] == "two" and refused[-1]["status"] == 429
                assert refused[-1]["retry_after"] >= 1
                assert "1 reply running" in refused[-1]["message"]
                await socket.send(type="stop", reply_id=accepted["reply_id"])
                await socket.until("done")
                for _ in range(50):  # the slot is given back once the reply has been kept
                    await socket.send(type="send", ref="three", text="Now")
                    answer = await socket.next()
                    while answer.get("ref") != "three":  # a late word about the first reply
                        answer = await socket.next()
                    if answer["type"] == "accepted":
                        break
                    assert answer["status"] == 429
                    await asyncio.sleep(0.05)
                now = answer["reply_id"]
                seen = [m for m in await socket.until("done") if m.get("reply_id") == now]
                assert text_of(seen) == "Echo: Now"

        run(talk)
