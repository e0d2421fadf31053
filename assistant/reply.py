"""A reply as it accumulates from stream events: what the transcript, the store and the footer show.

Front ends feed every event to `Reply.apply` and read the fields; no front end re-implements
"what does this event mean for the message".
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.events import Event, Failed, Finished, ModelUsed, ReasoningDelta, TextDelta, Usage

STREAMING, COMPLETE, STOPPED, ERROR = "streaming", "complete", "stopped", "error"


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
    status: str = STREAMING
    #: The sentence the user reads when the reply failed.
    error: str = ""
    error_kind: str = ""

    def apply(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.text += event.text
        elif isinstance(event, ReasoningDelta):
            self.reasoning += event.text
        elif isinstance(event, ModelUsed):
            self.model = event.model
            self.requested_model = event.requested or self.requested_model
            self.model_reason = event.reason
        elif isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Finished):
            self.finish_reason = event.reason
            self.status = COMPLETE
        elif isinstance(event, Failed):
            self.status = ERROR
            self.error = str(event.error)
            self.error_kind = type(event.error).__name__

    def stop(self) -> None:
        """The user pressed stop: what arrived is kept, marked as stopped."""
        if self.status == STREAMING:
            self.status = STOPPED

    def interrupt(self, sentence: str) -> None:
        """The stream ended without a final event (e.g. the process is shutting down)."""
        if self.status == STREAMING:
            self.status = ERROR
            self.error = sentence

    @property
    def done(self) -> bool:
        return self.status != STREAMING


__all__ = ["COMPLETE", "ERROR", "STOPPED", "STREAMING", "Reply"]
