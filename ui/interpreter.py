"""The page script's name for the process's interpreter policy (see `assistant.interpreter`)."""

from __future__ import annotations

from assistant.interpreter import SWITCH_INTERVAL, share_fairly

__all__ = ["SWITCH_INTERVAL", "share_fairly"]
