"""What the API answers, in OpenAI's shapes: errors, completions and streamed chunks.

Errors carry the core's sentence (the same the app shows) in OpenAI's error object, with the
status an OpenAI client expects, so the official `openai` package raises the matching class:

    401 invalid key or revoked          429 over a key's limit, or the model is rate limited
    400 the request is wrong            413 the body is too large      415 not JSON
    404 unknown role, model or conversation (another user's looks exactly the same)
    502 the model's provider failed     504 the model took too long    503 storage is busy
    500 anything else

A stream is OpenAI's: `data: <chunk>` events, a first chunk with the role, content chunks, a
last chunk with `finish_reason`, a usage chunk when asked (`stream_options.include_usage`),
then `data: [DONE]`. A reply that fails or is stopped by someone else after the stream began
ends with a chunk holding a top-level `error` (the `openai` package raises it) and no `[DONE]`.
Extras an OpenAI client ignores: `conversation_id` (first chunk, and completions), and
`reasoning` in deltas and messages when a reasoning model sends it.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from assistant.api_keys import InvalidApiKeyError, KeyRateLimitedError
from assistant.errors import (
    AssistantError,
    BadRequestError,
    ConfigurationError,
    ImageNotSupportedError,
    InputError,
    InsufficientCreditsError,
    ModelNotFoundError,
    ModerationError,
    RateLimitedError,
    ReplyTimeoutError,
)
from assistant.events import Usage
from assistant.reply import Reply, ReplyStatus
from assistant.store import NotFoundError, StoreError
from server.api_requests import (
    RequestTooLargeError,
    RoleNotAvailableError,
    UnsupportedMediaTypeError,
)

_INVALID = "invalid_request_error"
_SERVER = "server_error"
#: (error class, status, OpenAI error type, code); the first class that matches wins.
_STATUS: tuple[tuple[type[AssistantError], int, str, str], ...] = (
    (InvalidApiKeyError, 401, _INVALID, "invalid_api_key"),
    (KeyRateLimitedError, 429, "requests", "rate_limit_exceeded"),
    (RequestTooLargeError, 413, _INVALID, "request_too_large"),
    (UnsupportedMediaTypeError, 415, _INVALID, "unsupported_media_type"),
    (RoleNotAvailableError, 404, _INVALID, "model_not_found"),
    (ModelNotFoundError, 404, _INVALID, "model_not_found"),
    (NotFoundError, 404, _INVALID, "not_found"),
    (ModerationError, 400, _INVALID, "content_filter"),
    (ImageNotSupportedError, 400, _INVALID, "image_not_supported"),
    (InputError, 400, _INVALID, "invalid_request"),
    (BadRequestError, 400, _INVALID, "rejected_by_provider"),
    (RateLimitedError, 429, "requests", "provider_rate_limited"),
    (ReplyTimeoutError, 504, _SERVER, "timeout"),
    (StoreError, 503, _SERVER, "service_unavailable"),
    (InsufficientCreditsError, 502, _SERVER, "provider_credits"),
    (ConfigurationError, 502, _SERVER, "provider_configuration"),
    (AssistantError, 502, _SERVER, "provider_error"),
)
#: Errors of the server itself, not of the model's provider: a 500.
_OWN = {"UnexpectedError", "AssistantError"}


def classify(error: AssistantError) -> tuple[int, str, str]:
    """(HTTP status, OpenAI error type, code) for an error."""
    if type(error).__name__ in _OWN:
        return 500, _SERVER, "server_error"
    for kind, status, error_type, code in _STATUS:
        if isinstance(error, kind):
            return status, error_type, code
    return 500, _SERVER, "server_error"


def classify_reply(reply: Reply) -> tuple[int, str, str]:
    """The same for a reply that ended in error (only its error's class name is kept)."""
    for kind, status, error_type, code in _STATUS:
        if kind.__name__ == reply.error_kind:
            return status, error_type, code
    if reply.error_kind in _OWN:
        return 500, _SERVER, "server_error"
    return 502, _SERVER, "provider_error"


def retry_after(error: AssistantError) -> int | None:
    """Seconds a client should wait before trying again, when the error says."""
    seconds = getattr(error, "retry_after", None)
    if isinstance(seconds, (int, float)) and seconds > 0:
        return max(1, math.ceil(seconds))
    if isinstance(error, (StoreError, KeyRateLimitedError)):
        return 1
    return None


def error_object(message: str, error_type: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": None, "code": code, **extra}}


def error_of(error: AssistantError, **extra: Any) -> tuple[int, dict[str, Any]]:
    """(status, body) for an error raised before any reply began."""
    status, error_type, code = classify(error)
    return status, error_object(str(error), error_type, code, **extra)


def completion_id(reply_id: str) -> str:
    return f"chatcmpl-{reply_id}"


def model_name(role_id: str, model: str) -> str:
    """How responses name what answered: the role and the model, as the request's grammar."""
    return f"{role_id}@{model}" if model else role_id


def usage_of(reply: Reply) -> dict[str, Any] | None:
    usage = reply.usage
    if usage is None:
        return None
    out: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
    if usage.cost is not None:
        out["cost"] = usage.cost
    return out


def completion(
    reply_id: str, name: str, reply: Reply, *, conversation_id: str, message_id: str
) -> dict[str, Any]:
    """A finished (complete) reply as OpenAI's `chat.completion` object."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text,
        "refusal": None,
        "annotations": [],
    }
    if reply.reasoning:
        message["reasoning"] = reply.reasoning
    return {
        "id": completion_id(reply_id),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": name,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": reply.finish_reason or "stop",
            }
        ],
        "usage": usage_of(reply),
        "conversation_id": conversation_id,
        "message_id": message_id,
    }


def reply_error(reply: Reply, **extra: Any) -> tuple[int, dict[str, Any]]:
    """(status, body) for a reply that ended without completing: failed, or stopped by
    someone other than this client."""
    if reply.status == ReplyStatus.STOPPED:
        sentence = "The reply was stopped before it finished. What arrived is kept."
        return 409, error_object(sentence, _INVALID, "reply_stopped", **extra)
    status, error_type, code = classify_reply(reply)
    return status, error_object(reply.error or str(AssistantError()), error_type, code, **extra)


def _compact(value: Any) -> str:
    """JSON without the spaces after separators: they would be a few percent of every event."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class ChunkWriter:
    """Builds one stream's SSE events; the envelope is encoded once, the deltas per event."""

    def __init__(self, reply_id: str, name: str, *, include_usage: bool) -> None:
        self.include_usage = include_usage
        self._head = (
            '{"id":'
            + json.dumps(completion_id(reply_id))
            + ',"object":"chat.completion.chunk","created":'
            + str(int(time.time()))
            + ',"model":'
            + json.dumps(name, ensure_ascii=False)
            + ',"system_fingerprint":null,"choices":'
        )
        self._tail = ',"usage":null}' if include_usage else "}"

    def _event(self, choices: str, tail: str) -> bytes:
        return f"data: {self._head}{choices}{tail}\n\n".encode()

    def _choice(self, delta: dict[str, Any], finish_reason: str | None) -> str:
        return (
            '[{"index":0,"delta":'
            + _compact(delta)
            + ',"logprobs":null,"finish_reason":'
            + json.dumps(finish_reason)
            + "}]"
        )

    def first(self, conversation_id: str) -> bytes:
        extra = ',"conversation_id":' + json.dumps(conversation_id) + self._tail
        delta = {"role": "assistant", "content": "", "refusal": None}
        return self._event(self._choice(delta, None), extra)

    def delta(self, text: str, reasoning: str = "") -> bytes:
        delta: dict[str, str] = {}
        if reasoning:
            delta["reasoning"] = reasoning
        if text or not reasoning:
            delta["content"] = text
        return self._event(self._choice(delta, None), self._tail)

    def finish(self, reply: Reply) -> bytes:
        events = self._event(self._choice({}, reply.finish_reason or "stop"), self._tail)
        if self.include_usage:
            usage = _compact(usage_of(reply) or usage_of(Reply(usage=Usage())))
            events += self._event("[]", f',"usage":{usage}}}')
        return events + b"data: [DONE]\n\n"

    def error(self, reply: Reply) -> bytes:
        _, body = reply_error(reply)
        return b"data: " + _compact(body).encode() + b"\n\n"

    def error_sentence(self, sentence: str, code: str) -> bytes:
        body = error_object(sentence, _INVALID, code)
        return b"data: " + _compact(body).encode() + b"\n\n"


__all__ = [
    "ChunkWriter",
    "classify",
    "classify_reply",
    "completion",
    "completion_id",
    "error_object",
    "error_of",
    "model_name",
    "reply_error",
    "retry_after",
    "usage_of",
]
