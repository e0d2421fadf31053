"""One turn of a conversation: pick the model, build the context, stream the reply.

`Assistant` is the core's front door for the app and the terminal client alike. It is shared by
every session of a process (it holds only the HTTP connection pool, the catalogue cache and, in
offline mode, the address of the bundled model; nothing per user).

Model choice for a turn:
- the model the user picked, or the configured default;
- when the new message carries images and the catalogue says that model is text-only (DeepSeek
  is), the vision model answers instead and `ModelUsed.reason` says "vision";
- a model missing from the catalogue is tried as is, and if the provider answers that it cannot
  read images (404), the turn goes to the vision model before any text was shown;
- fallback models stand in when the provider fails before the first token (see `client`).

The vision and fallback models are the configured ones, checked against the server's own
catalogue once it is loaded (a custom base URL's server rarely has OpenRouter's ids): configured
fallbacks it does not list are dropped, none being invented in their place; a configured vision
model it does not list as reading images is replaced by the cheapest listed model that does (see
`cheapest_vision_model`), and when it lists none the turn fails with a sentence saying so,
before anything is sent. Until the catalogue is loaded, the configured models are tried as is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from assistant import local_model
from assistant.cancellation import Cancellation
from assistant.catalogue import Catalogue, ModelInfo
from assistant.client import ChatClient
from assistant.context import ChatTurn, build_messages
from assistant.errors import ImageNotSupportedError
from assistant.events import Event, Failed, ModelUsed, TextDelta, close_events
from assistant.roles import Role
from assistant.settings import Settings

log = logging.getLogger(__name__)

OFFLINE_IMAGE_SENTENCE = (
    "The offline demo model cannot read images. To send photos, set OPENROUTER_API_KEY "
    "in the environment or in .streamlit/secrets.toml."
)
NO_VISION_SENTENCE = (
    "No model on this server can read images. Send the message without images, or point "
    "OPENROUTER_BASE_URL at a server that has a vision model."
)


def cheapest_vision_model(models: Sequence[ModelInfo]) -> ModelInfo | None:
    """The model that stands in for a vision model the server lacks: the cheapest that reads
    images (prompt plus completion price per token), ties broken by id. Models with an unknown
    or negative price (OpenRouter's routers list -1) come after priced ones, and `:free`
    variants only when nothing else reads images: they allow a few requests a minute."""
    readers = [m for m in models if m.reads_images]
    candidates = [m for m in readers if not m.id.endswith(":free")] or readers

    def cost(model: ModelInfo) -> tuple[bool, float, str]:
        prices = (model.prompt_price, model.completion_price)
        if any(price is None or price < 0 for price in prices):
            return (True, 0.0, model.id)
        return (False, sum(price or 0.0 for price in prices), model.id)

    return min(candidates, key=cost, default=None)


def _reply_cap(role_cap: int | None, setting: int | None, *, offline: bool) -> int | None:
    """The reply-length cap a request carries: the smaller of the role's and the setting's
    (None: the provider's default, or in offline mode the bundled model's own cap)."""
    caps = [cap for cap in (role_cap, setting) if cap]
    if offline and role_cap:
        caps.append(local_model.LOCAL_CONTEXT_LENGTH // 2)  # the small model's window
    return min(caps) if caps else None


def _question(history: Sequence[ChatTurn]) -> ChatTurn:
    """The user's message being answered: the last one (a continued reply comes after it)."""
    return next((turn for turn in reversed(history) if turn.role == "user"), history[-1])


class _NoModels:
    """Lister for the offline mode: the bundled model is the whole catalogue."""

    def list_models(self) -> list[dict[str, Any]]:
        return []


class Assistant:
    """Streams replies for any front end. Thread-safe; create one per process."""

    def __init__(self, settings: Settings, *, client: ChatClient | None = None) -> None:
        self.settings = settings
        self.offline = settings.offline
        self._client = client
        self._lock = threading.Lock()
        if self.offline:
            local = ModelInfo(
                id=local_model.LOCAL_MODEL_ID,
                name=local_model.LOCAL_MODEL_NAME,
                context_length=local_model.LOCAL_CONTEXT_LENGTH,
                prompt_price=0.0,
                completion_price=0.0,
            )
            self.catalogue = Catalogue(_NoModels(), extra=[local])
        else:
            self.catalogue = Catalogue(self._get_client())

    @property
    def default_model(self) -> str:
        return local_model.LOCAL_MODEL_ID if self.offline else self.settings.model

    def _get_client(self) -> ChatClient:
        # The offline client is made on first use: starting the bundled model takes a moment
        # and should not happen when a page merely imports the core.
        with self._lock:
            if self._client is None:
                settings = self.settings
                if self.offline:
                    settings = local_model.local_settings(settings)
                self._client = ChatClient(settings)
            return self._client

    def close(self) -> None:
        """Close the model client's connections, if it was made."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _vision_model(self) -> str | None:
        """The model for image turns; None when the loaded catalogue has none that reads them."""
        configured = self.settings.vision_model
        if not self.catalogue.loaded or self.catalogue.reads_images(configured):
            return configured
        chosen = cheapest_vision_model(self.catalogue.models())
        return chosen.id if chosen is not None else None

    def complete(self, role: Role, text: str, *, max_tokens: int, model: str | None = None) -> str:
        """A short answer of `role` to `text`, in one non-streamed request; raises the
        AssistantError that ended it. For small extras (titles), never for replies."""
        client = self._get_client()
        messages = [
            {"role": "system", "content": role.system_prompt},
            {"role": "user", "content": text},
        ]
        return client.complete(
            messages,
            model or self.default_model,
            temperature=role.temperature,
            max_tokens=max_tokens,
        )

    def stream_reply(
        self,
        role: Role,
        history: Sequence[ChatTurn],
        *,
        model: str | None = None,
        response_format: dict[str, Any] | None = None,
        cancel: Cancellation | None = None,
    ) -> Iterator[Event]:
        """Events for the reply to `history[-1]` (or, when `history` ends with a partial
        reply, the rest of that reply). Closing the iterator stops the model, and so does
        `cancel.cancel()` from any thread; a stopped reply ends with no final event."""
        requested = model or self.default_model
        newest = _question(history)
        if self.offline:
            if newest.images:
                yield Failed(ImageNotSupportedError(OFFLINE_IMAGE_SENTENCE))
                return
            if not local_model.is_available():
                yield Failed(local_model.LocalModelUnavailable())
                return
            requested = local_model.LOCAL_MODEL_ID
        answering, reason = requested, ""
        if newest.images and self.catalogue.reads_images(requested) is False:
            vision = self._vision_model()
            if vision is None:
                yield Failed(ImageNotSupportedError(NO_VISION_SENTENCE))
                return
            answering, reason = vision, "vision"
        yield from self._stream(
            role, history, requested, answering, reason, response_format, cancel
        )

    def _stream(
        self,
        role: Role,
        history: Sequence[ChatTurn],
        requested: str,
        answering: str,
        reason: str,
        response_format: dict[str, Any] | None,
        cancel: Cancellation | None,
    ) -> Iterator[Event]:
        try:
            client = self._get_client()
        except Exception as exc:  # the bundled model failed to start
            from assistant.errors import AssistantError, UnexpectedError

            log.error("the model client could not start", exc_info=True)
            error = exc if isinstance(exc, AssistantError) else UnexpectedError(detail=repr(exc))
            yield Failed(error)
            return
        info = self.catalogue.get(answering)
        # Models that promise JSON-schema output answer a role that has an output schema with
        # JSON following it; the others write prose (the sentiment card then reads locally).
        if response_format is None and info is not None and info.supports_structured_output:
            response_format = role.response_format()
        has_images = bool(_question(history).images)
        with_images = info.reads_images if info else has_images
        context_length = info.context_length if info else self.catalogue.context_length(answering)
        cap = _reply_cap(role.max_tokens, self.settings.max_tokens, offline=self.offline)
        reply_tokens = cap or min(4096, max(256, context_length // 4))
        messages = build_messages(
            role.system_prompt,
            history,
            context_length=context_length,
            reply_tokens=reply_tokens,
            with_images=with_images,
        )
        fallbacks = [m for m in self.settings.fallback_models if m != answering]
        if self.catalogue.loaded:  # a server's catalogue lists what it can answer with
            fallbacks = [m for m in fallbacks if self.catalogue.get(m) is not None]
        if has_images:
            fallbacks = [m for m in fallbacks if self.catalogue.reads_images(m)]
        events = client.stream_chat(
            messages,
            answering,
            temperature=role.temperature,
            fallback_models=fallbacks,
            max_tokens=cap,
            response_format=response_format,
            cancel=cancel,
        )
        got_text = False
        try:
            for event in events:
                if isinstance(event, ModelUsed) and reason:
                    event = ModelUsed(event.model, requested=requested, reason=reason)
                elif isinstance(event, TextDelta):
                    got_text = True
                elif (
                    isinstance(event, Failed)
                    and isinstance(event.error, ImageNotSupportedError)
                    and has_images
                    and not reason
                    and not got_text
                ):
                    # The catalogue did not know this model; the provider says it is text-only.
                    vision = self._vision_model()
                    if vision is None:
                        event = Failed(ImageNotSupportedError(NO_VISION_SENTENCE))
                    elif vision != answering:
                        yield from self._stream(
                            role, history, requested, vision, "vision", None, cancel
                        )
                        return
                yield event
        finally:
            close_events(events)


__all__ = [
    "NO_VISION_SENTENCE",
    "OFFLINE_IMAGE_SENTENCE",
    "Assistant",
    "ChatTurn",
    "cheapest_vision_model",
]
