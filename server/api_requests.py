"""What API clients send, checked and turned into a turn the core can store and answer.

Every check runs before anything is stored, so a refused request leaves nothing behind, and
each refusal is an `AssistantError` whose sentence the client reads.

`model` names a role, optionally with the upstream model after an `@`:

    gadget                              the role, the server's default model
    gadget@deepseek/deepseek-v3.2       the role, that model
    custom:my-role@google/gemini-2.5-flash

Which fields of OpenAI's chat request are taken (see docs/api.md for the reasons):

- honoured: `model`, `messages`, `stream`, `stream_options.include_usage`, `temperature`,
  `max_tokens` / `max_completion_tokens`, and this API's own `conversation_id`;
- accepted with no effect (sampling hints and tags): `FIELDS_IGNORED`;
- accepted only at their neutral value (`n: 1`, `logprobs: false`, `tools: []`...):
  `FIELDS_NEUTRAL`; any other value is refused, since the answer would not be what the
  client asked for;
- anything else is refused with OpenAI's own sentence, "Unrecognized request argument
  supplied: NAME", so a typo never passes silently.

Images come as `image_url` content parts holding data URLs and go through the app's image
pipeline (`assistant.images.prepare_image`): the type is read from the bytes, SVG never
passes. Links are refused: the server does not fetch addresses a client names.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.chat import Assistant
from assistant.context import ChatTurn
from assistant.errors import ImageError, InputError, ModelNotFoundError
from assistant.images import MAX_IMAGE_BYTES, PreparedImage, prepare_image
from assistant.limits import MAX_IMAGES_PER_MESSAGE, MAX_MESSAGE_CHARS, check_turn
from assistant.roles import Role
from assistant.store import NotFoundError

_MIB = 1024 * 1024
#: The largest request body: one image at the app's upload limit (20 MB, a third more in
#: base64) with a long conversation around it. Bigger bodies are refused before parsing.
MAX_BODY_BYTES = 28 * _MIB

FIELDS_HONOURED = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "temperature",
        "max_tokens",
        "max_completion_tokens",
        "conversation_id",
    }
)
FIELDS_IGNORED = frozenset(
    {
        "user",
        "metadata",
        "store",
        "seed",
        "top_p",
        "frequency_penalty",
        "presence_penalty",
        "service_tier",
        "parallel_tool_calls",
        "prompt_cache_key",
        "safety_identifier",
        "reasoning_effort",
        "verbosity",
    }
)
#: Field -> test of its neutral value (absent and null are neutral too).
FIELDS_NEUTRAL: Mapping[str, Callable[[Any], bool]] = {
    "n": lambda v: v == 1 and not isinstance(v, bool),
    "logprobs": lambda v: v is False,
    "top_logprobs": lambda v: False,
    "tools": lambda v: v == [],
    "tool_choice": lambda v: v in ("none", "auto"),
    "functions": lambda v: v == [],
    "function_call": lambda v: v in ("none", "auto"),
    "response_format": lambda v: v == {"type": "text"},
    "modalities": lambda v: v == ["text"],
    "stop": lambda v: v == [] or v == "",
    "logit_bias": lambda v: v == {},
    "audio": lambda v: False,
    "prediction": lambda v: False,
    "web_search_options": lambda v: False,
}
_MESSAGE_FIELDS = {
    "system": {"role", "content", "name"},
    "developer": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "refusal"},
}


class RequestTooLargeError(InputError):
    sentence = (
        f"The request is larger than {MAX_BODY_BYTES // _MIB} MB, the limit. Send smaller "
        f"images (at most {MAX_IMAGE_BYTES // _MIB} MB each) or a shorter conversation."
    )


class UnsupportedMediaTypeError(InputError):
    sentence = "Send the request body as JSON, with the header 'Content-Type: application/json'."


class RoleNotAvailableError(NotFoundError):
    """The `model` names no role this key may use (or another user's role)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"The model '{name}' does not exist. A model here is a role, optionally with "
            "'@' and a model id (gadget@deepseek/deepseek-v3.2); GET /api/v1/models lists "
            "the roles this key can use."
        )


@dataclass(frozen=True)
class Choice:
    """The role (as the client adjusted it) and the upstream model a turn asks for."""

    role: Role
    model: str


@dataclass(frozen=True)
class CompletionRequest:
    choice: Choice
    #: The conversation before the new message, as the client sent it (system messages aside).
    prior: tuple[ChatTurn, ...]
    text: str
    images: tuple[PreparedImage, ...]
    stream: bool
    include_usage: bool
    conversation_id: str | None


def decode_json(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object; InputError says what is wrong with it."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise InputError("The request body is nested too deeply to be a chat request.") from None
    except (UnicodeDecodeError, ValueError):
        raise InputError(
            "The request body is not valid JSON. Send a JSON object such as "
            '{"model": "gadget", "messages": [{"role": "user", "content": "Hi"}]}.'
        ) from None
    if not isinstance(data, dict):
        raise InputError("The request body must be a JSON object.")
    return data


def unicode_text(value: str, where: str) -> str:
    """`value` unchanged, unless it holds a lone surrogate (JSON allows "\\ud800"), which no
    database can store and no model can read."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{where} contains text that is not valid Unicode.") from None
    return value


def choose(name: Any, roles: Mapping[str, Role], assistant: Assistant) -> Choice:
    """The role and upstream model that `name` (the `model` field) asks for."""
    if not isinstance(name, str) or not name.strip():
        raise InputError(
            "The field 'model' is required: a role such as 'gadget', optionally with "
            "'@' and a model id."
        )
    role_id, _, upstream = name.strip().partition("@")
    role = roles.get(role_id)
    if role is None:
        raise RoleNotAvailableError(name.strip())
    if not upstream:
        if "@" in name:
            raise InputError("Name a model after the '@', or leave the '@' out.")
        return Choice(role, assistant.default_model)
    catalogue = assistant.catalogue
    if not assistant.offline and catalogue.loaded and catalogue.get(upstream) is None:
        raise ModelNotFoundError(upstream)
    return Choice(role, upstream)


def image_from_url(url: Any, where: str) -> PreparedImage:
    """A data URL's image, through the app's image pipeline."""
    if not isinstance(url, str):
        raise InputError(f"{where}: 'image_url.url' must be a string.")
    if not url.startswith("data:"):
        raise InputError(
            f"{where}: send images as data URLs (data:image/png;base64,...). "
            "The server does not fetch links."
        )
    header, comma, payload = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise InputError(f"{where}: the data URL must be base64-encoded (';base64,').")
    if len(payload) > (MAX_IMAGE_BYTES // 3 + 1) * 4 + 64:
        raise ImageError(
            f"{where}: this image file is too big (the limit is {MAX_IMAGE_BYTES // _MIB} MB)."
        )
    try:
        raw = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{where}: the image's base64 data is damaged.") from None
    try:
        return prepare_image(raw)
    except ImageError as exc:
        raise ImageError(f"{where}: {exc}", detail=exc.detail) from None


def content_of(
    content: Any, where: str, *, images_allowed: bool
) -> tuple[str, tuple[PreparedImage, ...]]:
    """A message's text and images, from a string or a list of content parts."""
    if isinstance(content, str):
        return unicode_text(content, where), ()
    if not isinstance(content, list):
        raise InputError(f"{where}: 'content' must be a string or a list of content parts.")
    texts: list[str] = []
    images: list[PreparedImage] = []
    for number, part in enumerate(content, 1):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(unicode_text(part["text"], where))
        elif kind == "image_url" and images_allowed:
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            images.append(image_from_url(url, f"{where}, image {len(images) + 1}"))
            if len(images) > MAX_IMAGES_PER_MESSAGE:
                raise InputError(
                    f"{where} carries more than {MAX_IMAGES_PER_MESSAGE} images; "
                    f"up to {MAX_IMAGES_PER_MESSAGE} fit in one message."
                )
        elif kind == "image_url":
            raise InputError(f"{where}: only user messages can carry images.")
        else:
            raise InputError(
                f"{where}, part {number}: only 'text' and 'image_url' parts are supported."
            )
    return "\n".join(texts), tuple(images)


def _check_fields(data: Mapping[str, Any]) -> None:
    for name, value in data.items():
        if name in FIELDS_HONOURED or name in FIELDS_IGNORED or value is None:
            continue
        neutral = FIELDS_NEUTRAL.get(name)
        if neutral is None:
            raise InputError(f"Unrecognized request argument supplied: {name}")
        if not neutral(value):
            raise InputError(
                f"The field '{name}' is not supported with this value: this API answers "
                "with one text reply (no tools, alternatives, log probabilities, audio or "
                "structured output)."
            )


def _messages(raw: Any) -> tuple[list[ChatTurn], list[str]]:
    """(the conversation's turns, the system texts), with every message checked."""
    if not isinstance(raw, list) or not raw:
        raise InputError("The field 'messages' is required: a list with at least one message.")
    turns: list[ChatTurn] = []
    system: list[str] = []
    for number, message in enumerate(raw, 1):
        where = f"Message {number}"
        role = message.get("role") if isinstance(message, dict) else None
        if role in ("tool", "function"):
            raise InputError(f"{where}: tool messages are not supported (no tools here).")
        allowed = _MESSAGE_FIELDS.get(role) if isinstance(role, str) else None
        if allowed is None or not isinstance(message, dict) or not isinstance(role, str):
            raise InputError(
                f"{where} needs a 'role' of system, developer, user or assistant, and a 'content'."
            )
        unknown = sorted(set(message) - allowed)
        if unknown:
            raise InputError(f"{where}: unsupported field '{unknown[0]}'.")
        if "content" not in message or message["content"] is None:
            raise InputError(f"{where} has no 'content'.")
        text, images = content_of(message["content"], where, images_allowed=role == "user")
        if role in ("system", "developer"):
            system.append(text)
            continue
        if role == "user" and len(text) > MAX_MESSAGE_CHARS:
            check_turn(text, len(images))  # says how long it is and what the limit is
        turns.append(ChatTurn(role, text, images))
    if not turns or turns[-1].role != "user":
        raise InputError("The last message must be the user's: that is the one answered.")
    return turns, system


def _number(data: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InputError(f"The field '{name}' must be a number from {low:g} to {high:g}.")
    return float(value)


def _cap(data: Mapping[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"The field '{name}' must be a whole number above 0.")
        return value
    return None


def _conversation_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise InputError("The field 'conversation_id' must be a conversation id (a string).")
    return value.strip()


def _stream_options(data: Mapping[str, Any], stream: bool) -> bool:
    options = data.get("stream_options")
    if options is None:
        return False
    if not stream:
        raise InputError("The field 'stream_options' is only allowed when 'stream' is true.")
    if not isinstance(options, dict) or set(options) - {"include_usage", "include_obfuscation"}:
        raise InputError("The field 'stream_options' takes only 'include_usage'.")
    include = options.get("include_usage", False)
    if not isinstance(include, bool):
        raise InputError("The field 'stream_options.include_usage' must be true or false.")
    return include


def adjusted(role: Role, system: Sequence[str], temperature: float | None, cap: int | None) -> Role:
    """The role as this request asks for it: the client's system messages after the role's
    own instructions, its temperature and its reply-length cap."""
    changes: dict[str, Any] = {}
    extra = "\n\n".join(text for text in system if text.strip())
    if extra:
        changes["system_prompt"] = f"{role.system_prompt}\n\n{extra}"
    if temperature is not None:
        changes["temperature"] = temperature
    if cap is not None:
        changes["max_tokens"] = cap
    return dataclasses.replace(role, **changes) if changes else role


def parse_completion(
    body: bytes, *, roles: Mapping[str, Role], assistant: Assistant
) -> CompletionRequest:
    """A chat-completions body, checked; raises `AssistantError` with what is wrong."""
    data = decode_json(body)
    _check_fields(data)
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise InputError("The field 'stream' must be true or false.")
    include_usage = _stream_options(data, stream)
    choice = choose(data.get("model"), roles, assistant)
    temperature = _number(data, "temperature", 0.0, 2.0)
    cap = _cap(data)
    conversation_id = _conversation_id(data.get("conversation_id"))
    turns, system = _messages(data.get("messages"))
    last = turns[-1]
    check_turn(last.text, len(last.images))
    role = adjusted(choice.role, system, temperature, cap)
    return CompletionRequest(
        choice=Choice(role, choice.model),
        prior=tuple(turns[:-1]),
        text=last.text,
        images=tuple(image for image in last.images if isinstance(image, PreparedImage)),
        stream=stream,
        include_usage=include_usage,
        conversation_id=conversation_id,
    )


__all__ = [
    "FIELDS_HONOURED",
    "FIELDS_IGNORED",
    "FIELDS_NEUTRAL",
    "MAX_BODY_BYTES",
    "Choice",
    "CompletionRequest",
    "RequestTooLargeError",
    "RoleNotAvailableError",
    "UnsupportedMediaTypeError",
    "adjusted",
    "choose",
    "content_of",
    "decode_json",
    "image_from_url",
    "parse_completion",
    "unicode_text",
]
