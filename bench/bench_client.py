"""Time to first token through `assistant`'s client versus raw httpx, side by side.

Both talk to the same local fake OpenRouter server (no network, no token delay), alternating
request by request so machine noise hits both equally. The figure is the ratio of medians:
what the client's parsing, events and bookkeeping add to the first token.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import httpx

ROUNDS = 60
TARGET = "<= 1.5"


def _raw_first_token(client: httpx.Client, url: str, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    with client.stream("POST", f"{url}/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            choices = chunk.get("choices") or [{}]
            if choices[0].get("delta", {}).get("content"):
                return time.perf_counter() - started
    raise RuntimeError("no token")


def _client_first_token(client: Any, body: dict[str, Any]) -> float:
    from assistant.events import TextDelta

    started = time.perf_counter()
    events = client.stream_chat(body["messages"], body["model"])
    try:
        for event in events:
            if isinstance(event, TextDelta):
                return time.perf_counter() - started
    finally:
        events.close()
    raise RuntimeError("no token")


def run(rounds: int = ROUNDS) -> list[dict[str, Any]]:
    from assistant.client import ChatClient
    from assistant.settings import Settings
    from tests.fake_openrouter import TEXT_MODEL, FakeOpenRouter

    body = {
        "model": TEXT_MODEL,
        "messages": [{"role": "user", "content": "How do I reset my router?"}],
        "stream": True,
    }
    with FakeOpenRouter() as fake:
        settings = Settings(api_key="sk-or-v1-bench", base_url=fake.url, fallback_models=())
        raw, ours = [], []
        with httpx.Client(headers={"Authorization": "Bearer sk-or-v1-bench"}) as http:
            client = ChatClient(settings)
            for _ in range(5):  # warm both connection pools
                _raw_first_token(http, fake.url, body)
                _client_first_token(client, body)
            for _ in range(rounds):
                raw.append(_raw_first_token(http, fake.url, body))
                ours.append(_client_first_token(client, body))
            client.close()
    raw_ms, ours_ms = statistics.median(raw) * 1000, statistics.median(ours) * 1000
    return [
        {
            "name": "client: first token, raw httpx",
            "value": round(raw_ms, 2),
            "unit": "ms",
            "target": None,
        },
        {
            "name": "client: first token, assistant ChatClient",
            "value": round(ours_ms, 2),
            "unit": "ms",
            "target": None,
        },
        {
            "name": "client: first token ratio (client / raw httpx)",
            "value": round(ours_ms / raw_ms, 2),
            "unit": "x",
            "target": TARGET,
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:<55} {row['value']:>10} {row['unit']:<4} {row['target'] or ''}")
