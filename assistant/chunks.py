"""Turning parsed chunk JSON into typed events (assistant/events.py), one reply at a time.

`ReplyReader` knows nothing about I/O: it takes the `data` of each SSE message (or the whole
body of a server that ignored `stream: true`) and returns events, remembering what it needs to
end the reply: the finish reason, `[DONE]`, the last usage report and any mid-stream error. The
client decides retries and timing from its `content_seen`, `ended` and `finish()`.

Providers disagree on field names, so reasoning is read from `reasoning`, `reasoning_content`
or `reasoning_details` (once per chunk: several of them often repeat the same text), and a
non-streamed completion's `message` is read like a streamed `delta`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from assistant.errors import AssistantError, ProviderUnavailableError, ReplyInterruptedError
from assistant.events import Event, Failed, Finished, ModelUsed, ReasoningDelta, TextDelta, Usage
from assistant.provider_errors import error_from_chunk

__all__ = ["ReplyReader"]


class ReplyReader:
    """Turns the JSON chunks of one attempt into events; knows nothing about I/O."""

    def __init__(self, attempted: str, requested: str, fallback: bool) -> None:
        self.attempted = attempted
        self.requested = requested
        self.fallback = fallback
        self.model = ""  # as named by the chunks
        self.finish_reason = ""
        self.done = False
        self.failure: AssistantError | None = None
        self.usage: Usage | None = None
        self.content_seen = False

    @property
    def ended(self) -> bool:
        return self.done or self.failure is not None

    def handle(self, data: str) -> list[Event]:
        if data.strip() == "[DONE]":
            self.done = True
            return []
        try:
            chunk = json.loads(data)
        except ValueError:
            chunk = None
        if not isinstance(chunk, dict):
            self.failure = ReplyInterruptedError(detail=f"malformed chunk: {data[:200]!r}")
            return []
        events: list[Event] = []
        model = chunk.get("model")
        if isinstance(model, str) and model and not self.model:
            self.model = model
            reason = "fallback" if self.fallback else ""
            events.append(ModelUsed(model=model, requested=self.requested, reason=reason))
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if isinstance(choice, dict) and choice.get("index", 0) in (0, None):
                events.extend(self._read_choice(choice))
        usage = chunk.get("usage")
        if isinstance(usage, dict) and usage:
            self.usage = _usage_from(usage)  # the last report wins (some servers repeat it)
        error = chunk.get("error")
        if error:
            self.failure = error_from_chunk(error, model=self.model or self.attempted)
        return events

    def _read_choice(self, choice: dict[str, Any]) -> list[Event]:
        delta = choice.get("delta")
        if not isinstance(delta, dict):  # a non-streamed completion carries `message`
            message = choice.get("message")
            delta = message if isinstance(message, dict) else {}
        events: list[Event] = []
        if reasoning := _reasoning_text(delta):
            events.append(ReasoningDelta(reasoning))
        content = delta.get("content")
        if isinstance(content, str) and content:
            events.append(TextDelta(content))
        self.content_seen = self.content_seen or bool(events)
        finish_reason = choice.get("finish_reason")
        if isinstance(finish_reason, str) and finish_reason:
            self.finish_reason = finish_reason
        return events

    def finish(self) -> list[Event]:
        """The terminal events once the stream is over (ended, closed or cut)."""
        failure = self.failure
        if failure is None and self.finish_reason == "error":
            detail = "finish_reason 'error' without an error object"
            if self.content_seen:
                failure = ReplyInterruptedError(detail=detail)
            else:
                failure = ProviderUnavailableError(detail=detail)
        if failure is None and not self.finish_reason and not self.done:
            failure = ReplyInterruptedError(detail="stream ended without finish_reason or [DONE]")
        events: list[Event] = []
        # Usage before content would commit a failed attempt and forbid its retry.
        if self.usage is not None and (failure is None or self.content_seen):
            events.append(self.usage)
        events.append(Failed(failure) if failure else Finished(self.finish_reason or "stop"))
        return events


def _reasoning_text(delta: Mapping[str, Any]) -> str:
    """One reasoning text per chunk: providers often send the same text in two fields."""
    for key in ("reasoning", "reasoning_content"):
        value = delta.get(key)
        if isinstance(value, str) and value:
            return value
    parts: list[str] = []
    details = delta.get("reasoning_details")
    for item in details if isinstance(details, list) else []:
        if isinstance(item, dict):
            text = item.get("text") if item.get("type") != "reasoning.summary" else None
            text = text or item.get("summary")
            if isinstance(text, str):
                parts.append(text)
    return "".join(parts)


def _usage_from(usage: Mapping[str, Any]) -> Usage:
    def number(mapping: Any, key: str) -> int:
        value = mapping.get(key) if isinstance(mapping, dict) else None
        return int(value) if isinstance(value, (int, float)) else 0

    cost = usage.get("cost")
    return Usage(
        prompt_tokens=number(usage, "prompt_tokens"),
        completion_tokens=number(usage, "completion_tokens"),
        total_tokens=number(usage, "total_tokens"),
        cost=float(cost) if isinstance(cost, (int, float)) else None,
        cached_tokens=number(usage.get("prompt_tokens_details"), "cached_tokens"),
        reasoning_tokens=number(usage.get("completion_tokens_details"), "reasoning_tokens"),
    )
