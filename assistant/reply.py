"""A reply as it accumulates from stream events: what the transcript, the store and the footer show.

Front ends feed every event to `Reply.apply` and read the fields; no front end re-implements
"what does this event mean for the message". The store keeps every field a reader sees, and
`Reply.from_message` rebuilds a stored reply exactly, so a reloaded reply reads as it did live.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from assistant.events import Event, Failed, Finished, ModelUsed, ReasoningDelta, TextDelta, Usage

if TYPE_CHECKING:
    from assistant.store.records import Message


class ReplyStatus(StrEnum):
    """Where a reply stands. The values are what the store keeps."""

    STREAMING = "streaming"  # being written (or its writer died: see `Store.recover_stale_replies`)
    COMPLETE = "complete"
    STOPPED = "stopped"  # the user pressed stop; what arrived is kept
    ERROR = "error"  # ended by an error; `Reply.error` is the sentence the user read


STREAMING, COMPLETE, STOPPED, ERROR = (
    ReplyStatus.STREAMING,
    ReplyStatus.COMPLETE,
    ReplyStatus.STOPPED,
    ReplyStatus.ERROR,
)


@dataclass(slots=True)
class Reply:
    text: str = ""
    reasoning: str = ""
    #: The model that answered, and the one the user asked for when another stood in.
    model: str = ""
    requested_model: str = ""
    #: "" when the requested model answered, else "vision" or "fallback".
    model_reason: str = ""
    usage: Usage | None = None
    finish_reason: str = ""
    status: ReplyStatus = ReplyStatus.STREAMING
    #: The sentence the user reads when the reply failed, and the error's class name.
    error: str = ""
    error_kind: str = ""

    def apply(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.text += event.text
        elif isinstance(event, ReasoningDelta):
            self.reasoning += event.text
        elif isinstance(event, ModelUsed):
            self.model = event.model
            self.requested_model = event.requested or self.requested_model or event.model
            self.model_reason = event.reason
        elif isinstance(event, Usage):
            self.usage = _add(self.usage, event)
        elif isinstance(event, Finished):
            self.finish_reason = event.reason
            self.status = ReplyStatus.COMPLETE
        elif isinstance(event, Failed):
            self.status = ReplyStatus.ERROR
            self.error = str(event.error)
            self.error_kind = type(event.error).__name__

    def stop(self) -> None:
        """The user pressed stop: what arrived is kept, marked as stopped."""
        if self.status == ReplyStatus.STREAMING:
            self.status = ReplyStatus.STOPPED

    def resume(self) -> None:
        """Continue a stopped or cut reply: the text stays and more is appended to it."""
        self.status = ReplyStatus.STREAMING
        self.finish_reason = ""
        self.error = ""
        self.error_kind = ""

    def copy(self) -> Reply:
        # Field by field: `dataclasses.replace` inspects the class on every call (7 times
        # slower), and watchers copy a streaming reply many times a second.
        return Reply(
            self.text,
            self.reasoning,
            self.model,
            self.requested_model,
            self.model_reason,
            self.usage,
            self.finish_reason,
            self.status,
            self.error,
            self.error_kind,
        )

    @property
    def done(self) -> bool:
        return self.status != ReplyStatus.STREAMING

    @property
    def can_continue(self) -> bool:
        """Stopped, or cut at the length limit, with text to carry on from."""
        return bool(self.text) and (
            self.status == ReplyStatus.STOPPED
            or (self.status == ReplyStatus.COMPLETE and self.finish_reason == "length")
        )

    @classmethod
    def from_message(cls, message: Message) -> Reply:
        """The reply a stored assistant message holds, field for field as it was live."""
        usage = None
        if message.prompt_tokens is not None or message.completion_tokens is not None:
            usage = Usage(
                prompt_tokens=message.prompt_tokens or 0,
                completion_tokens=message.completion_tokens or 0,
                total_tokens=(message.prompt_tokens or 0) + (message.completion_tokens or 0),
                cost=message.cost,
            )
        return cls(
            text=message.text,
            reasoning=message.reasoning,
            # Interned: every reply in a session repeats the same few model names.
            model=sys.intern(message.model or ""),
            requested_model=sys.intern(message.requested_model or ""),
            model_reason=message.model_reason or "",
            usage=usage,
            finish_reason=message.finish_reason or "",
            status=ReplyStatus(message.status),
            error=message.error or "",
            error_kind=message.error_kind or "",
        )


def _add(earlier: Usage | None, more: Usage) -> Usage:
    """A continued reply costs both requests: their counts add up."""
    if earlier is None:
        return more
    cost = (
        None
        if earlier.cost is None and more.cost is None
        else (earlier.cost or 0) + (more.cost or 0)
    )
    return Usage(
        prompt_tokens=earlier.prompt_tokens + more.prompt_tokens,
        completion_tokens=earlier.completion_tokens + more.completion_tokens,
        total_tokens=earlier.total_tokens + more.total_tokens,
        cost=cost,
        cached_tokens=earlier.cached_tokens + more.cached_tokens,
        reasoning_tokens=earlier.reasoning_tokens + more.reasoning_tokens,
    )


__all__ = ["COMPLETE", "ERROR", "STOPPED", "STREAMING", "Reply", "ReplyStatus"]
