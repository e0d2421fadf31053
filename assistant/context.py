"""From a role and a conversation to the message list a model receives, trimmed to fit.

Trimming drops whole turns from the oldest end until the estimate fits the model's window. The
system prompt and the newest user message are never dropped: if those alone do not fit, the
newest message is sent anyway and the provider's answer (a 400) names the problem, rather than
the app silently sending something the user did not write.

Token counts are estimated (about 3 characters a token, conservatively, plus a flat cost per
image): exact tokenizers differ per model, and an estimate that errs on the large side only ever
drops a turn too many, never overflows the window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

CHARS_PER_TOKEN = 3.0
TOKENS_PER_IMAGE = 1600  # a 1568 px image costs about this much on the vision models we route to
TOKENS_PER_MESSAGE = 4  # role and separators
IMAGE_OMITTED = "[an image was attached here]"


class SendableImage(Protocol):
    @property
    def data_url(self) -> str: ...


@dataclass(frozen=True)
class ChatTurn:
    """One message of the conversation as the core sees it."""

    role: str  # "user" or "assistant"
    text: str
    images: tuple[SendableImage, ...] = ()


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE


def _turn_tokens(turn: ChatTurn, with_images: bool) -> int:
    return estimate_tokens(turn.text) + (TOKENS_PER_IMAGE * len(turn.images) if with_images else 0)


def _content(turn: ChatTurn, with_images: bool) -> str | list[dict[str, Any]]:
    if not turn.images:
        return turn.text
    if not with_images:
        note = " ".join([IMAGE_OMITTED] * len(turn.images))
        return f"{turn.text}\n\n{note}" if turn.text else note
    parts: list[dict[str, Any]] = [{"type": "text", "text": turn.text or "(image)"}]
    parts += [{"type": "image_url", "image_url": {"url": image.data_url}} for image in turn.images]
    return parts


def build_messages(
    system_prompt: str,
    history: Sequence[ChatTurn],
    *,
    context_length: int,
    reply_tokens: int = 1024,
    with_images: bool = True,
) -> list[dict[str, Any]]:
    """The messages to send: system prompt, then as many recent turns as fit.

    `history` ends with the newest user message. `reply_tokens` is kept free for the answer.
    With `with_images=False` (a text-only model answers) images become a short note.
    """
    if not history:
        raise ValueError("history must end with the user's new message")
    budget = context_length - reply_tokens - estimate_tokens(system_prompt)
    newest = history[-1]
    budget -= _turn_tokens(newest, with_images)
    kept: list[ChatTurn] = []
    for turn in reversed(history[:-1]):
        cost = _turn_tokens(turn, with_images)
        if cost > budget:
            break
        budget -= cost
        kept.append(turn)
    kept.reverse()
    # A conversation sent to the model starts with a user turn; an orphaned reply at the
    # front (its question trimmed away) would only confuse it.
    while kept and kept[0].role != "user":
        kept.pop(0)
    messages: list[dict[str, Any]] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    for turn in [*kept, newest]:
        messages.append({"role": turn.role, "content": _content(turn, with_images)})
    return messages


__all__ = ["ChatTurn", "build_messages", "estimate_tokens"]
