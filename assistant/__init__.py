"""The assistant's pure-Python core, shared by the Streamlit app, the chat API and the terminal
client.

Nothing in this package imports Streamlit (ruff's banned-api rule enforces it). Front ends
build a `Settings` at the edge and get the process's shared objects from `shared(settings)`:
the `Store`, the `Assistant` (model choice and streaming), the `Turns` service (send,
regenerate, edit, continue, stop), the running `Replies`, whose `ReplyTask`s they watch, and
`ApiKeys` (the chat API's keys and limits).
docs/architecture.md walks a chat turn through these.

The public names below are imported when first used, so `import assistant` stays light (the
terminal client starts in a fraction of a second and never loads the database or pandas it
does not need). Modules not listed here are internals.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.accounts import Accounts
    from assistant.api_keys import ApiKeys
    from assistant.chat import Assistant
    from assistant.context import ChatTurn
    from assistant.errors import AssistantError
    from assistant.events import (
        Event,
        Failed,
        Finished,
        ModelUsed,
        ReasoningDelta,
        TextDelta,
        Usage,
    )
    from assistant.replies import Replies, ReplyJob, ReplyTask
    from assistant.reply import Reply, ReplyStatus
    from assistant.roles import Role
    from assistant.services import Services, shared
    from assistant.settings import Settings
    from assistant.store import NewTurn, StartedTurn, Store
    from assistant.turns import Sent, Turns

#: Public name -> the module that defines it.
_WHERE = {
    "Accounts": "assistant.accounts",
    "ApiKeys": "assistant.api_keys",
    "Assistant": "assistant.chat",
    "AssistantError": "assistant.errors",
    "ChatTurn": "assistant.context",
    "Event": "assistant.events",
    "Failed": "assistant.events",
    "Finished": "assistant.events",
    "ModelUsed": "assistant.events",
    "NewTurn": "assistant.store",
    "ReasoningDelta": "assistant.events",
    "Replies": "assistant.replies",
    "Reply": "assistant.reply",
    "ReplyJob": "assistant.replies",
    "ReplyStatus": "assistant.reply",
    "ReplyTask": "assistant.replies",
    "Role": "assistant.roles",
    "Sent": "assistant.turns",
    "Services": "assistant.services",
    "Settings": "assistant.settings",
    "StartedTurn": "assistant.store",
    "Store": "assistant.store",
    "TextDelta": "assistant.events",
    "Turns": "assistant.turns",
    "Usage": "assistant.events",
    "shared": "assistant.services",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "Accounts",
    "ApiKeys",
    "Assistant",
    "AssistantError",
    "ChatTurn",
    "Event",
    "Failed",
    "Finished",
    "ModelUsed",
    "NewTurn",
    "ReasoningDelta",
    "Replies",
    "Reply",
    "ReplyJob",
    "ReplyStatus",
    "ReplyTask",
    "Role",
    "Sent",
    "Services",
    "Settings",
    "StartedTurn",
    "Store",
    "TextDelta",
    "Turns",
    "Usage",
    "shared",
]
