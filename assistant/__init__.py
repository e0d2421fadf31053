"""The assistant's pure-Python core, shared by the Streamlit app and the terminal client.

Nothing in this package imports Streamlit. Front ends build a `Settings` at the edge, make one
`Assistant` per process, and adapt the typed events of `Assistant.stream_reply` to what they draw.
"""

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
from assistant.settings import Settings

__all__ = [
    "AssistantError",
    "Event",
    "Failed",
    "Finished",
    "ModelUsed",
    "ReasoningDelta",
    "Settings",
    "TextDelta",
    "Usage",
]
