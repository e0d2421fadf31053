"""One settings object, built at the edge (the app or the terminal client), never deep inside.

Values come from a mapping of environment variables and, in the app, from `st.secrets`
(secrets win over the environment, as they do on Streamlit Community Cloud). The core takes a
`Settings` and never reads `os.environ` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.proxies import TrustedProxies

OPENROUTER_URL = "https://openrouter.ai/api/v1"
DEFAULT_MODEL = "deepseek/deepseek-v3.2"
DEFAULT_VISION_MODEL = "google/gemini-2.5-flash"
DEFAULT_FALLBACK_MODELS = ("deepseek/deepseek-chat-v3.1",)


def _split_list(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Field docs double as the README's settings table."""

    #: OPENROUTER_API_KEY: the key; without it (and with the default base URL) the bundled
    #: offline model answers.
    api_key: str | None = field(default=None, repr=False)
    #: OPENROUTER_BASE_URL: any OpenAI-compatible server (Ollama, vLLM, llama.cpp) works too.
    base_url: str = OPENROUTER_URL
    #: OPENROUTER_MODEL: the default chat model.
    model: str = DEFAULT_MODEL
    #: OPENROUTER_VISION_MODEL: answers turns that carry images when the chosen model is text-only.
    vision_model: str = DEFAULT_VISION_MODEL
    #: OPENROUTER_FALLBACK_MODELS: comma-separated, tried in order when the chosen model fails.
    fallback_models: tuple[str, ...] = DEFAULT_FALLBACK_MODELS
    #: DATABASE_URL: SQLAlchemy URL; default a SQLite file in the data folder.
    database_url: str | None = None
    #: ASSISTANT_DATA_DIR: where the SQLite file and other local state live.
    data_dir: Path = Path("data")
    #: ASSISTANT_APP_URL / ASSISTANT_APP_NAME: sent as OpenRouter attribution headers.
    app_url: str = "https://github.com/multi-role-assistant"
    app_name: str = "Multi-role Assistant"
    #: ASSISTANT_CONNECT_TIMEOUT: seconds to open a connection.
    connect_timeout: float = 10.0
    #: ASSISTANT_FIRST_TOKEN_TIMEOUT: seconds to wait for the first content
    #: (keep-alive comments don't count).
    first_token_timeout: float = 120.0
    #: ASSISTANT_STALL_TIMEOUT: seconds without new content, after the first token, before
    #: giving up.
    stall_timeout: float = 60.0
    #: ASSISTANT_MAX_RETRIES: retries before the first token on 408/429/5xx and network errors.
    max_retries: int = 2
    #: ASSISTANT_RETRY_BUDGET: total seconds all retries of one request may spend waiting.
    retry_budget: float = 20.0
    #: ASSISTANT_MAX_TOKENS: cap on reply length; empty means the provider's default.
    max_tokens: int | None = None
    #: ASSISTANT_UNWATCHED_REPLY_TIMEOUT: stop a reply nobody has watched (no page, no API
    #: client) for this many seconds; empty means replies always run to their end.
    unwatched_reply_timeout: float | None = None
    #: ASSISTANT_STOP_GRACE: on SIGTERM, seconds the replies still streaming may take to end
    #: before they are stopped (kept as they are) and the process exits.
    stop_grace: float = 20.0
    #: ASSISTANT_TRUSTED_PROXIES: comma-separated addresses or networks (CIDR) of the reverse
    #: proxies in front of the app; only their X-Forwarded-For / X-Forwarded-Proto are believed.
    trusted_proxies: tuple[str, ...] = ()
    #: ASSISTANT_API_REQUESTS_PER_MINUTE: requests one API key may make in a minute.
    api_requests_per_minute: int = 60
    #: ASSISTANT_API_STREAMS: replies one API key may have running at once.
    api_streams: int = 4

    @property
    def proxies(self) -> TrustedProxies:
        return TrustedProxies.parse(self.trusted_proxies)

    @property
    def uses_openrouter(self) -> bool:
        return self.base_url.rstrip("/") == OPENROUTER_URL

    @property
    def offline(self) -> bool:
        """True when the bundled model should answer: no key for OpenRouter itself.

        A custom base URL (a local Ollama, vLLM...) needs no key, so it is never offline.
        """
        return not self.api_key and self.uses_openrouter

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'assistant.db').as_posix()}"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], secrets: Mapping[str, Any] | None = None
    ) -> Settings:
        """Build settings from environment variables, with `secrets` taking precedence."""
        merged: dict[str, Any] = {k: v for k, v in environ.items() if isinstance(v, str)}
        for key, value in (secrets or {}).items():
            if isinstance(value, (str, int, float, list, tuple)):
                merged[key] = value

        def get(name: str) -> Any:
            value = merged.get(name)
            if isinstance(value, str):
                value = value.strip()
            return value if value not in (None, "") else None

        kwargs: dict[str, Any] = {}
        text_fields = {
            "OPENROUTER_API_KEY": "api_key",
            "OPENROUTER_BASE_URL": "base_url",
            "OPENROUTER_MODEL": "model",
            "OPENROUTER_VISION_MODEL": "vision_model",
            "DATABASE_URL": "database_url",
            "ASSISTANT_APP_URL": "app_url",
            "ASSISTANT_APP_NAME": "app_name",
        }
        for env_name, attr in text_fields.items():
            if (value := get(env_name)) is not None:
                kwargs[attr] = str(value)
        if "base_url" in kwargs:
            kwargs["base_url"] = kwargs["base_url"].rstrip("/")
        if (value := get("OPENROUTER_FALLBACK_MODELS")) is not None:
            kwargs["fallback_models"] = _split_list(value)
        elif "OPENROUTER_FALLBACK_MODELS" in merged:  # set but empty: no fallbacks
            kwargs["fallback_models"] = ()
        if (value := get("ASSISTANT_TRUSTED_PROXIES")) is not None:
            kwargs["trusted_proxies"] = _split_list(value)
            TrustedProxies.parse(kwargs["trusted_proxies"])  # a typo is a clear error at start
        if (value := get("ASSISTANT_DATA_DIR")) is not None:
            kwargs["data_dir"] = Path(str(value)).expanduser()
        number_fields = {
            "ASSISTANT_CONNECT_TIMEOUT": ("connect_timeout", float),
            "ASSISTANT_FIRST_TOKEN_TIMEOUT": ("first_token_timeout", float),
            "ASSISTANT_STALL_TIMEOUT": ("stall_timeout", float),
            "ASSISTANT_MAX_RETRIES": ("max_retries", int),
            "ASSISTANT_RETRY_BUDGET": ("retry_budget", float),
            "ASSISTANT_MAX_TOKENS": ("max_tokens", int),
            "ASSISTANT_UNWATCHED_REPLY_TIMEOUT": ("unwatched_reply_timeout", float),
            "ASSISTANT_API_REQUESTS_PER_MINUTE": ("api_requests_per_minute", int),
            "ASSISTANT_API_STREAMS": ("api_streams", int),
            "ASSISTANT_STOP_GRACE": ("stop_grace", float),
        }
        for env_name, (attr, kind) in number_fields.items():
            if (value := get(env_name)) is not None:
                try:
                    kwargs[attr] = kind(value)
                except ValueError:
                    from assistant.errors import ConfigurationError

                    raise ConfigurationError(
                        f"The setting {env_name} must be a number, not {value!r}."
                    ) from None
        return cls(**kwargs)


__all__ = ["DEFAULT_MODEL", "DEFAULT_VISION_MODEL", "OPENROUTER_URL", "Settings"]
