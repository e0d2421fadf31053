"""Limits checked on the server before any model call (the browser's own checks can be bypassed)."""

from __future__ import annotations

from assistant.errors import InputError

#: Long enough for a 100 kB paste to round-trip; far below any model's window in tokens.
MAX_MESSAGE_CHARS = 120_000
MAX_IMAGES_PER_MESSAGE = 4
#: Per upload, before processing; matches `server.maxUploadSize` in .streamlit/config.toml.
MAX_UPLOAD_MB = 20


def check_text(text: str, *, has_images: bool = False) -> None:
    """Raise `InputError` when a message's text is empty (and it has no images) or too long."""
    if not text.strip() and not has_images:
        raise InputError("The message is empty.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InputError(
            f"This message is {len(text):,} characters long; the limit is {MAX_MESSAGE_CHARS:,}. "
            "Please shorten it or split it into parts."
        )


def check_turn(text: str, image_count: int) -> None:
    """Raise `InputError` with the sentence to show when a turn breaks a limit."""
    check_text(text, has_images=image_count > 0)
    if image_count > MAX_IMAGES_PER_MESSAGE:
        raise InputError(
            f"You attached {image_count} images; up to {MAX_IMAGES_PER_MESSAGE} fit in one message."
        )


__all__ = [
    "MAX_IMAGES_PER_MESSAGE",
    "MAX_MESSAGE_CHARS",
    "MAX_UPLOAD_MB",
    "check_text",
    "check_turn",
]
