"""The model catalogue: which models exist, their context window, price, and image support.

Read from `GET {base}/models` (no key needed) and cached for an hour: the list changes over
days, and every chat turn asks it whether the chosen model reads images. A catalogue that cannot
be fetched is not fatal; callers treat unknown models as text-only-unknown and let the provider
decide (a 404 for an image turn still routes to the vision model).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from assistant.errors import AssistantError

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


class Catalogue:
    """A cached view of the provider's models. Thread-safe; one per process is enough."""

    def __init__(
        self,
        lister: ModelLister,
        *,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        extra: Iterable[ModelInfo] = (),
    ) -> None:
        self._lister = lister
        self._ttl = ttl
        self._clock = clock
        self._extra = tuple(extra)
        self._lock = threading.Lock()
        self._models: dict[str, ModelInfo] | None = None
        self._fetched_at = 0.0
        self.last_error: AssistantError | None = None

    def models(self) -> list[ModelInfo]:
        """All models, sorted by name. Empty when the catalogue cannot be read."""
        return sorted(self._load().values(), key=lambda m: m.name.lower())

    def get(self, model_id: str) -> ModelInfo | None:
        return self._load().get(model_id)

    def reads_images(self, model_id: str) -> bool | None:
        """True/False from the catalogue, None when the model is not listed."""
        info = self.get(model_id)
        return None if info is None else info.reads_images

    def context_length(self, model_id: str) -> int:
        info = self.get(model_id)
        return info.context_length if info else DEFAULT_CONTEXT_LENGTH

    def _load(self) -> dict[str, ModelInfo]:
        with self._lock:
            fresh = self._models is not None and self._clock() - self._fetched_at < self._ttl
            if fresh and self._models is not None:
                return self._models
            try:
                entries = self._lister.list_models()
            except AssistantError as exc:
                # Keep serving the stale list if there is one; retry after a short pause.
                self.last_error = exc
                self._fetched_at = self._clock() - self._ttl + min(60.0, self._ttl)
                if self._models is None:
                    self._models = {m.id: m for m in self._extra}
                return self._models
            models = {m.id: m for m in self._extra}
            for entry in entries:
                if isinstance(entry, Mapping) and entry.get("id"):
                    info = ModelInfo.from_entry(entry)
                    models[info.id] = info
            self._models = models
            self._fetched_at = self._clock()
            self.last_error = None
            return models


__all__ = ["Catalogue", "ModelInfo"]
