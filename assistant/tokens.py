"""Random tokens kept in cookies (sessions, trusted devices) and the hashes stored for them.

A token is 32 random bytes in URL-safe base64 (43 characters). The database keeps only its
sha256, so a copy of the database lets nobody act as a user.
"""

from __future__ import annotations

import hashlib
import re
import secrets

_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def looks_like_token(value: object) -> bool:
    """Shaped like `new_token()`'s output: anything else in a cookie is ignored, not looked up."""
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


__all__ = ["looks_like_token", "new_token", "token_hash"]
