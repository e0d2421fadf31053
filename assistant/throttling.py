"""Throttling: how long a failing sign-in waits, and what is counted.

Failures are counted per key, a sha256 of what is counted and for whom ("account" and the
username, "client" and the address, "device" and the device), so the database never holds an
address or a username in a counter. `assistant.accounts` decides which keys judge an attempt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Throttle:
    """Failures allowed without delay, then a delay doubling from `base` seconds to `cap`."""

    free_failures: int
    base: float = 1.0
    cap: float = 900.0

    def delay(self, failures: int) -> float:
        over = failures - self.free_failures
        return 0.0 if over < 0 else min(self.base * 2.0**over, self.cap)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `count` in any fixed window of `window`."""

    count: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class Judgement:
    """The failure counts (by key) that judge one attempt; `trusted` when a device cookie
    exempted it from the account's and the address's counts."""

    keys: dict[str, Throttle]
    trusted: bool


def throttle_key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\x00{value}".encode()).hexdigest()


__all__ = ["Judgement", "RateLimit", "Throttle", "throttle_key"]
