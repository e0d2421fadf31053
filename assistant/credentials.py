"""What people type to prove who they are: usernames and passwords, bounded, normalised, judged.

Every account text field is checked for size *before* anything costly happens to it. Unicode
normalisation (NFKC) can make text up to 18 times longer (U+FDFA becomes 18 characters), and
hashing a long password holds the CPU, so an over-long input is refused on its raw size, in
UTF-8 bytes, before it is normalised, looked up or hashed. The byte bounds are generous: any
input the forms let through (`FIELD_CHARS`) that could be acceptable fits within them.

Passwords (NIST SP 800-63B): NFKC-normalised, then judged by length only, 8 to 1024
characters, never truncated, no composition rules; common passwords and the username itself
are refused. Usernames: NFKC, trimmed, 3 to 32 letters, digits and `._-@+`, compared case-folded.
"""

from __future__ import annotations

import math
import unicodedata
from functools import cache
from importlib import resources

from assistant.errors import AssistantError

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MIN_USERNAME = 3
MAX_USERNAME = 32
#: Raw size limits, in UTF-8 bytes, checked before normalisation (see the module docstring).
MAX_PASSWORD_BYTES = 8 * 1024
MAX_USERNAME_BYTES = 256
#: What the forms allow (Streamlit counts UTF-16 units): an acceptable value always fits, and
#: anything cut at the limit is still too long, so the server says so instead of truncating.
FIELD_CHARS = {"username": 2 * MAX_USERNAME + 1, "password": 2 * MAX_PASSWORD + 1}
_USERNAME_SYMBOLS = frozenset("._-@+")


class AccountError(AssistantError):
    sentence = "That did not work. Please try again."


class SignInError(AccountError):
    sentence = "The username or password is incorrect."


class ThrottledError(SignInError):
    """Too many recent failures: try again after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        seconds = max(1, math.ceil(retry_after))
        wait = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
        super().__init__(f"Too many failed attempts. Please wait {wait} and try again.")


class RegistrationError(AccountError):
    sentence = "That username is not available. Please choose another."


class PasswordRejectedError(AccountError):
    sentence = "Please choose a different password."


TOO_LONG_USERNAME = f"A username has {MIN_USERNAME} to {MAX_USERNAME} characters."
TOO_LONG_PASSWORD = f"Please use a password of at most {MAX_PASSWORD} characters."


def fits(text: str, max_bytes: int) -> bool:
    """Whether `text` is at most `max_bytes` in UTF-8; never encodes more than that much."""
    if len(text) > max_bytes:  # every character is at least one byte
        return False
    return len(text.encode("utf-8", "surrogatepass")) <= max_bytes


def nfkc(text: str) -> str:
    """NFKC normalisation; callers bound the input's size first (see the module docstring)."""
    return unicodedata.normalize("NFKC", text)


@cache
def common_passwords() -> frozenset[str]:
    text = (resources.files("assistant") / "data" / "common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def normalize_username(username: str) -> tuple[str, str]:
    """(display form, comparison key); RegistrationError says what is wrong."""
    if not fits(username, MAX_USERNAME_BYTES):
        raise RegistrationError(TOO_LONG_USERNAME)
    display = nfkc(username).strip()
    if not MIN_USERNAME <= len(display) <= MAX_USERNAME:
        raise RegistrationError(TOO_LONG_USERNAME)
    if not all(ch.isalnum() or ch in _USERNAME_SYMBOLS for ch in display):
        raise RegistrationError("A username can use letters, digits and . _ - @ + only.")
    return display, display.casefold()


def username_key(username: str) -> str | None:
    """The comparison key sign-in looks up; None when no account can have that name."""
    if not fits(username, MAX_USERNAME_BYTES):
        return None
    return nfkc(username).strip().casefold()


def check_password(password: str, username: str = "") -> str:
    """The normalised password, or PasswordRejectedError with the reason."""
    if not fits(password, MAX_PASSWORD_BYTES):
        raise PasswordRejectedError(TOO_LONG_PASSWORD)
    normalized = nfkc(password)
    if len(normalized) < MIN_PASSWORD:
        raise PasswordRejectedError(f"Please use a password of at least {MIN_PASSWORD} characters.")
    if len(normalized) > MAX_PASSWORD:
        raise PasswordRejectedError(TOO_LONG_PASSWORD)
    folded = normalized.casefold()
    if username and folded == username_key(username):
        raise PasswordRejectedError("Please use a password that is not your username.")
    if folded in common_passwords():
        raise PasswordRejectedError(
            "That password is too common and easy to guess. Please choose another."
        )
    return normalized


def offered_password(password: str) -> str | None:
    """A password as typed at sign-in, normalised; None when it is too long to be anyone's."""
    if not fits(password, MAX_PASSWORD_BYTES):
        return None
    normalized = nfkc(password)
    return normalized if len(normalized) <= MAX_PASSWORD else None


__all__ = [
    "FIELD_CHARS",
    "MAX_PASSWORD",
    "MAX_PASSWORD_BYTES",
    "MAX_USERNAME",
    "MAX_USERNAME_BYTES",
    "MIN_PASSWORD",
    "MIN_USERNAME",
    "TOO_LONG_PASSWORD",
    "TOO_LONG_USERNAME",
    "AccountError",
    "PasswordRejectedError",
    "RegistrationError",
    "SignInError",
    "ThrottledError",
    "check_password",
    "common_passwords",
    "fits",
    "nfkc",
    "normalize_username",
    "offered_password",
    "username_key",
]
