"""Every error the core raises or reports, each carrying the sentence a user should read.

    AssistantError                 base: `str(error)` is the user's sentence
    ├── ConfigurationError         a setting is missing or wrong
    │   ├── AuthenticationError    API key missing or rejected (401)
    │   └── LocalModelUnavailable  (local_model) no key and no bundled model here
    ├── InsufficientCreditsError   not enough credits (402)
    ├── ModerationError            input flagged by moderation (403), with the reasons
    ├── ImageNotSupportedError     the model cannot read images (404 on an image turn), or no
    │                              model on the server can
    ├── BadRequestError            request rejected (400)
    │   └── ModelNotFoundError     the model id is not on this server (400/404 naming it)
    ├── RateLimitedError           too many requests (429), with `retry_after` seconds
    ├── ProviderUnavailableError   provider down or overloaded (502/503/524/529 and other 5xx)
    ├── NetworkError               the server could not be reached
    ├── ReplyTimeoutError          no content arrived within the bound
    ├── ReplyInterruptedError      the stream ended before the reply did
    ├── InputError                 the user's input breaks a limit (length, count, bytes)
    │   ├── ImageError             an attachment is not a usable image
    │   └── RoleInputError         (store) a custom role's fields are invalid
    ├── NotFoundError              (store) missing, or another user's: indistinguishable
    │   └── Conversation/Message/RoleNotFoundError
    ├── StoreError                 (store) the database failed
    │   └── StoreBusyError         the database stayed locked past the retry budget
    ├── AccountError               (credentials, accounts) sign-in, registration, sessions
    │   ├── SignInError            wrong username or password (one answer for both)
    │   │   └── ThrottledError     too many failures: wait `retry_after` seconds
    │   ├── RegistrationError, PasswordRejectedError, SessionEndedError
    │   └── GuestLimitError        too many new guests from one address
    └── UnexpectedError            anything else: the generic sentence

Errors marked with a module live next to the code that raises them.

The UI and the terminal client catch `AssistantError` only and show `str(error)`. Details for
logs go in `detail`, which never contains an API key.
"""

from __future__ import annotations

GENERIC_SENTENCE = "Sorry, something went wrong. Please try again later."

KEY_HINT = (
    "Set OPENROUTER_API_KEY in the environment or in .streamlit/secrets.toml "
    "(keys are at https://openrouter.ai/settings/keys)."
)


class AssistantError(Exception):
    """Base of every error the core reports. `str(error)` is what the user reads."""

    #: Whether trying the same request again may succeed (used for retries before the first token).
    retryable: bool = False
    sentence: str = GENERIC_SENTENCE

    def __init__(self, message: str | None = None, *, detail: str = "") -> None:
        self.message = message or self.sentence
        self.detail = detail
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class ConfigurationError(AssistantError):
    sentence = "The assistant is not configured correctly."


class AuthenticationError(ConfigurationError):
    sentence = "The OpenRouter API key is missing or was rejected. " + KEY_HINT


class InsufficientCreditsError(AssistantError):
    sentence = (
        "Your OpenRouter account does not have enough credits for this reply. "
        "Add credits at https://openrouter.ai/settings/credits, or pick a free model."
    )


class ModerationError(AssistantError):
    sentence = "Your message was flagged by the provider's moderation and was not answered."

    def __init__(self, reasons: list[str] | None = None, *, detail: str = "") -> None:
        self.reasons = list(reasons or [])
        message = self.sentence
        if self.reasons:
            message = (
                "Your message was flagged by the provider's moderation "
                f"({', '.join(self.reasons)}) and was not answered."
            )
        super().__init__(message, detail=detail)


class ImageNotSupportedError(AssistantError):
    sentence = "This model cannot read images. Pick a model that reads images, or send text only."


class BadRequestError(AssistantError):
    sentence = "The request was rejected as invalid."


class ModelNotFoundError(BadRequestError):
    sentence = "That model is not available on this server. Pick another model."

    def __init__(self, model: str = "", *, detail: str = "") -> None:
        self.model = model
        message = None
        if model:
            message = f"The model {model} is not available on this server. Pick another model."
        super().__init__(message, detail=detail)


class RateLimitedError(AssistantError):
    retryable = True
    sentence = "The model is busy right now (rate limited). Please wait a moment and try again."

    def __init__(
        self, message: str | None = None, *, retry_after: float | None = None, detail: str = ""
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, detail=detail)


class ProviderUnavailableError(AssistantError):
    retryable = True
    sentence = (
        "The model's provider is unavailable or overloaded right now. "
        "Please try again in a minute, or pick another model."
    )

    def __init__(
        self, message: str | None = None, *, retry_after: float | None = None, detail: str = ""
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, detail=detail)


class NetworkError(AssistantError):
    retryable = True
    sentence = "Could not reach the model server. Check your network connection and try again."


class ReplyTimeoutError(AssistantError):
    retryable = True
    sentence = "The model took too long to answer. Please try again."


class ReplyInterruptedError(AssistantError):
    sentence = "The reply was interrupted before it finished. What arrived is kept; you can retry."


class InputError(AssistantError):
    sentence = "That input cannot be sent."


class ImageError(InputError):
    sentence = "That file is not an image we can use. Please attach a PNG, JPEG, WebP or GIF."


class UnexpectedError(AssistantError):
    sentence = GENERIC_SENTENCE


__all__ = [
    "GENERIC_SENTENCE",
    "AssistantError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ImageError",
    "ImageNotSupportedError",
    "InputError",
    "InsufficientCreditsError",
    "ModelNotFoundError",
    "ModerationError",
    "NetworkError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "ReplyInterruptedError",
    "ReplyTimeoutError",
    "UnexpectedError",
]
