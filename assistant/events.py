"""Typed events that a streamed reply is made of.

A reply is an iterator of these frozen dataclasses. The chat page, the terminal client and the
store each adapt the same events to what they do; none of them parses provider JSON.

The last event of every stream is either `Finished` (the reply is complete, possibly truncated
by `reason="length"`) or `Failed` (carrying the error whose sentence the user reads). Text that
arrived before a `Failed` is still the user's: consumers keep it.

One exception: a reply stopped through its `Cancellation` (assistant/cancellation.py), or closed
by its consumer, simply ends, with neither `Finished` nor `Failed`. The consumer that stopped it
knows why, keeps the text that arrived and marks the reply stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.errors import AssistantError


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's reasoning; never part of the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts and cost in USD as reported by the provider (once, near the end)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ModelUsed:
    """The model that actually answered (a fallback or the vision model may stand in).

    `reason` is empty when the requested model answered, else a short phrase such as
    "fallback" or "vision" that the UI turns into a badge.
    """

    model: str
    requested: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Finished:
    """The reply ended normally. `reason` is the provider's finish reason (stop, length...)."""

    reason: str = "stop"


@dataclass(frozen=True, slots=True)
class Failed:
    """The reply ended with an error. Text received before it is kept by the consumer."""

    error: AssistantError


Event = TextDelta | ReasoningDelta | Usage | ModelUsed | Finished | Failed


def close_events(events: Iterator[object]) -> None:
    """Close a stream of events early; for a reply, that closes its HTTP connection."""
    close = getattr(events, "close", None)
    if close is not None:
        close()


__all__ = [
    "Event",
    "Failed",
    "Finished",
    "ModelUsed",
    "ReasoningDelta",
    "TextDelta",
    "Usage",
    "close_events",
]
