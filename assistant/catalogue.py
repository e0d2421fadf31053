"""The model catalogue: which models exist, their context window, price, and image support.

Read from `GET {base}/models` (no key needed) and cached for an hour: the list changes over
days, and every chat turn asks it whether the chosen model reads images. A catalogue that cannot
be fetched is not fatal; callers treat unknown models as text-only-unknown and let the provider
decide (a 404 for an image turn still routes to the vision model).

Reads never wait on the network. Every session reads the catalogue on every run, and the fetch
may take up to the client's read timeout on a slow or unreachable provider, so the fetch runs on
a background thread (one at a time, per catalogue) and readers get what is known meanwhile: the
previous list when it is stale, or only the `extra` models before the first list arrives.
`warm()` starts the first fetch early (the app calls it at process start); `wait_ready()` lets a
front end that can afford it (the terminal client) wait for it. `loaded`, `loading` and
`last_error` tell a page whether to say the list is still coming or could not be loaded.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from assistant.errors import AssistantError, UnexpectedError

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_LENGTH = 8192


class ModelLister(Protocol):
    def list_models(self) -> list[dict[str, Any]]: ...


def _price(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    context_length: int = DEFAULT_CONTEXT_LENGTH
    #: USD per token, as the catalogue gives them; None when unknown.
    prompt_price: float | None = None
    completion_price: float | None = None
    reads_images: bool = False
    supported_parameters: tuple[str, ...] = ()

    @property
    def is_free(self) -> bool:
        return self.id.endswith(":free") or (self.prompt_price == 0 and self.completion_price == 0)

    @property
    def supports_structured_output(self) -> bool:
        return bool({"response_format", "structured_outputs"} & set(self.supported_parameters))

    def price_label(self, *, short: bool = False) -> str:
        """Price per million tokens, the unit people compare models by (`short` for lists)."""
        if self.is_free:
            return "free"
        if self.prompt_price is None or self.completion_price is None:
            return "price unknown"
        prompt, completion = self.prompt_price * 1e6, self.completion_price * 1e6
        if short:
            return f"${prompt:.2f}/${completion:.2f}"
        return f"${prompt:.2f} in / ${completion:.2f} out per 1M tok"

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> ModelInfo:
        architecture = entry.get("architecture") or {}
        modalities = architecture.get("input_modalities") or []
        if not modalities and isinstance(architecture.get("modality"), str):
            # Older shape: "text+image->text".
            modalities = architecture["modality"].split("->")[0].split("+")
        pricing = entry.get("pricing") or {}
        context = entry.get("context_length") or (entry.get("top_provider") or {}).get(
            "context_length"
        )
        return cls(
            id=str(entry["id"]),
            name=str(entry.get("name") or entry["id"]),
            context_length=int(context) if context else DEFAULT_CONTEXT_LENGTH,
            prompt_price=_price(pricing.get("prompt")),
            completion_price=_price(pricing.get("completion")),
            reads_images="image" in modalities,
            supported_parameters=tuple(entry.get("supported_parameters") or ()),
        )


@dataclass(frozen=True)
class _Snapshot:
    """One published list: replaced whole, never changed, so readers need no lock."""

    by_id: Mapping[str, ModelInfo]
    by_name: tuple[ModelInfo, ...]

    @classmethod
    def of(cls, models: Mapping[str, ModelInfo]) -> _Snapshot:
        return cls(models, tuple(sorted(models.values(), key=lambda m: m.name.lower())))


class Catalogue:
    """A cached view of the provider's models. Thread-safe; one per process is enough."""

    def __init__(
        self,
        lister: ModelLister,
        *,
        ttl: float = 3600.0,
        retry_pause: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        extra: Iterable[ModelInfo] = (),
    ) -> None:
        self._lister = lister
        self._ttl = ttl
        self._retry_pause = min(retry_pause, ttl)  # after a failed fetch
        self._clock = clock
        self._extra = {m.id: m for m in extra}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a fetch ended
        self._snapshot = _Snapshot.of(self._extra)
        self._refresh_at = -math.inf  # due at once
        self._fetching = False
        self._loaded = False
        self.last_error: AssistantError | None = None

    # -- reading (never waits) -----------------------------------------------------------------

    def models(self) -> list[ModelInfo]:
        """All models known now, sorted by name: the `extra` ones until the list is loaded."""
        return list(self._current().by_name)

    def get(self, model_id: str) -> ModelInfo | None:
        return self._current().by_id.get(model_id)

    def reads_images(self, model_id: str) -> bool | None:
        """True/False from the catalogue, None when the model is not listed."""
        info = self.get(model_id)
        return None if info is None else info.reads_images

    def context_length(self, model_id: str) -> int:
        info = self.get(model_id)
        return info.context_length if info else DEFAULT_CONTEXT_LENGTH

    @property
    def loaded(self) -> bool:
        """Whether the server's list has been read (it may be stale and being refreshed)."""
        return self._loaded

    @property
    def loading(self) -> bool:
        """Whether a fetch is running now."""
        return self._fetching

    # -- fetching ------------------------------------------------------------------------------

    def warm(self) -> None:
        """Start fetching now if the list is missing or stale; returns at once."""
        self._refresh_if_due()

    def wait_ready(self, timeout: float) -> bool:
        """Start fetching if needed and, until a list is loaded, wait up to `timeout` seconds
        for the running fetch to end; True when a list is loaded (False on timeout or when the
        fetch failed)."""
        self._refresh_if_due()
        with self._changed:
            self._changed.wait_for(lambda: self._loaded or not self._fetching, timeout)
            return self._loaded

    def _current(self) -> _Snapshot:
        if self._clock() >= self._refresh_at:
            self._refresh_if_due()
        return self._snapshot

    def _refresh_if_due(self) -> None:
        with self._lock:
            if self._fetching or self._clock() < self._refresh_at:
                return
            self._fetching = True
        try:
            threading.Thread(target=self._fetch, name="model-catalogue", daemon=True).start()
        except RuntimeError as exc:  # no thread to be had: try again after the pause
            self._publish(None, UnexpectedError(detail=f"catalogue fetch not started: {exc}"))

    def _fetch(self) -> None:
        try:
            snapshot = _Snapshot.of(self._read())
        except AssistantError as exc:
            self._publish(None, exc)
        except Exception as exc:  # a bug must not leave the catalogue "loading" for ever
            logger.exception("the model catalogue could not be read")
            self._publish(None, UnexpectedError(detail=f"{type(exc).__name__}: {exc}"))
        else:
            self._publish(snapshot, None)

    def _read(self) -> dict[str, ModelInfo]:
        models = dict(self._extra)
        for entry in self._lister.list_models():
            if not isinstance(entry, Mapping) or not entry.get("id"):
                continue
            try:
                info = ModelInfo.from_entry(entry)
            except (TypeError, ValueError):  # one odd entry must not hide the others
                logger.warning("skipping a malformed catalogue entry: %.200r", entry)
                continue
            models[info.id] = info
        return models

    def _publish(self, snapshot: _Snapshot | None, error: AssistantError | None) -> None:
        with self._lock:
            if snapshot is not None:
                self._snapshot = snapshot
                self._loaded = True
                self._refresh_at = self._clock() + self._ttl
            else:  # keep serving what we had; try again after a short pause
                logger.warning("model catalogue: %s (%s)", error, error.detail if error else "")
                self._refresh_at = self._clock() + self._retry_pause
            self.last_error = error
            self._fetching = False
            self._changed.notify_all()


__all__ = ["Catalogue", "ModelInfo"]
