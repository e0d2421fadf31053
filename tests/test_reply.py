"""A reply as it accumulates: what watchers copy while it streams."""

from dataclasses import fields

from assistant.events import Usage
from assistant.reply import Reply, ReplyStatus


def test_a_copy_carries_every_field_and_shares_no_state() -> None:
    values = {
        "text": "Hello",
        "reasoning": "thinking",
        "model": "a/model",
        "requested_model": "b/model",
        "model_reason": "fallback",
        "usage": Usage(prompt_tokens=3, completion_tokens=5, total_tokens=8, cost=0.1),
        "finish_reason": "length",
        "status": ReplyStatus.COMPLETE,
        "error": "a sentence",
        "error_kind": "NetworkError",
    }
    # A field added to Reply must be added here, and to Reply.copy.
    assert set(values) == {f.name for f in fields(Reply)}
    reply = Reply(**values)  # type: ignore[arg-type]
    copied = reply.copy()
    assert copied == reply and copied is not reply
    copied.text += " more"
    assert reply.text == "Hello"
