"""How provider answers map to the error hierarchy in assistant/errors.py.

Two kinds of answer fail a request. An HTTP error status comes with a body that may be
OpenRouter's JSON (`{"error": {"code", "message", "metadata"}}`), the bare `{"error": "..."}` of
Ollama or llama.cpp, a proxy's HTML page or nothing; HTML is reduced to its text and never
parsed as JSON. A stream that already answered 200 reports failure in an `error` object inside a
chunk, whose code may be an int, a numeric string or a name; a code that is no HTTP status counts
as the provider being unavailable, so the reply may be retried or handed to a fallback model.

Both paths share one status table, so a 429 reads the same whether it came as a status or
mid-stream. The user's sentence names the model; the raw provider text goes only into `detail`
(capped at DETAIL_LIMIT characters), which the client scrubs of the API key.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx

from assistant.errors import (
    AssistantError,
    AuthenticationError,
    BadRequestError,
    ImageNotSupportedError,
    InsufficientCreditsError,
    ModelNotFoundError,
    ModerationError,
    ProviderUnavailableError,
    RateLimitedError,
    ReplyTimeoutError,
    UnexpectedError,
)

__all__ = ["DETAIL_LIMIT", "error_from_chunk", "error_from_status", "parse_retry_after"]

DETAIL_LIMIT = 500

# How servers say a model id is unknown: OpenRouter ("x is not a valid model ID"), Ollama
# ('model "x" not found, try pulling it first'), vLLM and OpenAI ("The model `x` does not
# exist"), and others ("unknown model", "no such model").
_UNKNOWN_MODEL = re.compile(
    r"not a valid model|model\b.*\b(not found|does not exist)|(unknown|no such|invalid) model",
    re.IGNORECASE,
)


def error_from_status(
    status: int,
    body: bytes,
    headers: Mapping[str, str] | httpx.Headers,
    *,
    model: str = "",
    now: float | None = None,
) -> AssistantError:
    """Map an HTTP error response (JSON, HTML or empty body) to an AssistantError."""
    message, metadata = _error_body(body)
    retry_after = parse_retry_after(headers, now=now)
    detail = f"HTTP {status}: {message or '(empty body)'}"
    if raw := metadata.get("raw"):  # upstream rate limits put the provider's reason here
        detail += f" [{raw}]"
    return _error_for_code(status, message, metadata, model, retry_after, detail[:DETAIL_LIMIT])


def error_from_chunk(error: Any, *, model: str = "") -> AssistantError:
    """Map a mid-stream `error` object (code an int, a numeric string or a name)."""
    if not isinstance(error, dict):
        error = {"message": str(error)}
    code = error.get("code")
    message = str(error.get("message") or "")
    metadata = error.get("metadata") if isinstance(error.get("metadata"), dict) else {}
    detail = f"stream error {code}: {message}"[:DETAIL_LIMIT]
    if isinstance(code, str) and code.strip().isdigit():
        code = int(code.strip())
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return _error_for_code(code, message, metadata, model, None, detail)
    return ProviderUnavailableError(_unavailable_sentence(model), detail=detail)


def parse_retry_after(
    headers: Mapping[str, str] | httpx.Headers, *, now: float | None = None
) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or HTTP date) or `X-RateLimit-Reset`."""
    headers = httpx.Headers(headers)
    now = time.time() if now is None else now
    if value := headers.get("retry-after", "").strip():
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None and when.tzinfo is None:  # "-0000": UTC, says RFC 5322
                when = when.replace(tzinfo=datetime.UTC)
            seconds = when.timestamp() - now if when is not None else math.nan
        if math.isfinite(seconds):
            return max(0.0, seconds)
    if value := headers.get("x-ratelimit-reset", "").strip():
        try:
            reset = float(value)
        except ValueError:
            return None
        if not math.isfinite(reset):
            return None
        if reset > 1e11:  # epoch milliseconds (OpenRouter)
            return max(0.0, reset / 1000 - now)
        if reset > 1e9:  # epoch seconds
            return max(0.0, reset - now)
        return max(0.0, reset)  # already a delay in seconds
    return None


def _error_body(body: bytes) -> tuple[str, dict[str, Any]]:
    """The provider's message and metadata; HTML is reduced to its text, never parsed as JSON."""
    text = body.decode("utf-8", "replace").strip()
    try:
        payload = json.loads(text) if text.startswith(("{", "[")) else None
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            metadata = error.get("metadata")
            return str(error.get("message") or ""), metadata if isinstance(metadata, dict) else {}
        if isinstance(error, str):  # Ollama, llama.cpp and others: {"error": "..."}
            return error, {}
        return str(payload.get("message") or payload.get("detail") or ""), {}
    plain = " ".join(re.sub(r"(?s)<(script|style).*?</\1>|<[^>]+>", " ", text).split())
    return plain[:300], {}


def _subject(model: str, *, start: bool = False) -> str:
    return f"{'The' if start else 'the'} model{f' {model}' if model else ''}"


def _unavailable_sentence(model: str) -> str:
    return (
        f"The provider of {_subject(model)} is unavailable or overloaded right now. "
        "Please try again in a minute, or pick another model."
    )


def _error_for_code(
    code: int,
    message: str,
    metadata: Mapping[str, Any],
    model: str,
    retry_after: float | None,
    detail: str,
) -> AssistantError:
    subject = _subject(model)
    if code == 401:
        return AuthenticationError(detail=detail)
    if code == 402:
        return InsufficientCreditsError(detail=detail)
    if code == 403:
        reasons = metadata.get("reasons")
        reasons = [str(r) for r in reasons] if isinstance(reasons, list) else []
        return ModerationError(reasons, detail=detail)
    if code == 404:
        lowered = message.lower()
        if "image" in lowered:
            return ImageNotSupportedError(
                f"{_subject(model, start=True)} cannot read images. "
                "Pick a model that reads images, or send text only.",
                detail=detail,
            )
        if "no endpoints found" in lowered:
            return BadRequestError(
                f"No provider of {subject} can serve this request. Pick another model.",
                detail=detail,
            )
        return ModelNotFoundError(model, detail=detail)
    if code == 408:
        return ReplyTimeoutError(detail=detail)
    if code == 429:
        sentence = (
            f"{_subject(model, start=True)} is busy right now (rate limited). "
            "Please wait a moment and try again."
        )
        if model.endswith(":free"):
            sentence += " Free models allow only about 20 requests a minute and a few a day."
        return RateLimitedError(sentence, retry_after=retry_after, detail=detail)
    if code == 400 and _UNKNOWN_MODEL.search(message):
        return ModelNotFoundError(model, detail=detail)
    if code >= 500:
        return ProviderUnavailableError(
            _unavailable_sentence(model), retry_after=retry_after, detail=detail
        )
    if 400 <= code < 500:
        return BadRequestError(
            f"The request to {subject} was rejected as invalid. Check the model id and settings.",
            detail=detail,
        )
    return UnexpectedError(detail=detail)
