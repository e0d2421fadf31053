"""The chat API as shipped: `streamlit run app.py` serves it next to the app's own pages."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import openai
import pytest
import websockets
from argon2 import PasswordHasher

from assistant.accounts import Accounts
from assistant.api_keys import ApiKeys
from assistant.store import Store
from tests.api_harness import PASSWORD
from tests.fake_openrouter import FakeOpenRouter
from tests.served_app import app_env, served_app


def test_streamlit_run_serves_the_api_beside_the_unchanged_app(
    fake: FakeOpenRouter, tmp_path: Path
) -> None:
    database = f"sqlite:///{(tmp_path / 'app.db').as_posix()}"
    store = Store(database)
    store.migrate()
    accounts = Accounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    ada = accounts.register("ada", PASSWORD).user
    key = ApiKeys(store).create(ada, "end to end").token
    env = app_env(fake.url, tmp_path, DATABASE_URL=database)
    try:
        with served_app(env) as url:
            page = httpx.get(url, timeout=30)
            assert page.status_code == 200 and "<html" in page.text.lower()  # the app itself

            client = openai.OpenAI(api_key=key, base_url=f"{url}/api/v1", max_retries=0)
            stream = client.chat.completions.create(
                model="gadget",
                messages=[{"role": "user", "content": "My phone battery drains fast"}],
                stream=True,
            )
            chunks = list(stream)
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert text == "Echo: My phone battery drains fast"
            conversation = chunks[0].model_extra["conversation_id"]  # type: ignore[index]
            assert "gadget" in [m.id for m in client.models.list()]

            async def over_the_socket() -> str:
                headers = {"Authorization": f"Bearer {key}"}
                address = url.replace("http://", "ws://") + "/api/v1/ws"
                async with websockets.connect(address, additional_headers=headers) as ws:
                    await ws.recv()
                    message = {"type": "send", "conversation_id": conversation, "text": "More"}
                    await ws.send(json.dumps(message))
                    received = ""
                    while (event := json.loads(await ws.recv()))["type"] != "done":
                        received += event.get("text", "") if event["type"] == "delta" else ""
                    return received

            assert asyncio.run(asyncio.wait_for(over_the_socket(), 60)) == "Echo: More"
            stranger = openai.OpenAI(
                api_key="mra_0123456789ab_" + "x" * 43, base_url=f"{url}/api/v1", max_retries=0
            )
            with pytest.raises(openai.AuthenticationError):
                stranger.models.list()

        detail = store.get_conversation(ada.id, conversation)  # in ada's History
        assert [(m.role, m.text, str(m.status)) for m in detail.messages] == [
            ("user", "My phone battery drains fast", "complete"),
            ("assistant", "Echo: My phone battery drains fast", "complete"),
            ("user", "More", "complete"),
            ("assistant", "Echo: More", "complete"),
        ]
    finally:
        store.close()
