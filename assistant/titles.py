"""Short model-made conversation titles, written in the background after the first reply.

A conversation is titled from its first message at once (see the store); when a real model is
available it is then asked for a three-to-six-word title, which replaces the first-line title
unless the user has renamed the conversation meanwhile. It runs on a daemon thread so the user
never waits for it, and any failure simply keeps the first-line title.

The request is short and not streamed (`Assistant.complete`, at most `TITLE_TOKENS` tokens):
streamed, a title cost the process about as much as the reply it names (a read and an event
per token, for as long as the model kept writing); see bench/bench_burst.py.
"""

from __future__ import annotations

import logging
import threading

from assistant.chat import Assistant
from assistant.errors import AssistantError
from assistant.roles import Role
from assistant.store import Store

log = logging.getLogger(__name__)

MAX_TITLE_CHARS = 60
#: A title of three to six words fits; a model that rambles is cut here, not paid for.
TITLE_TOKENS = 16
_TITLER = Role(
    id="titler",
    name="Titler",
    icon="🏷️",
    description="Names conversations.",
    system_prompt=(
        "Write a title of three to six words for a conversation that starts with the user's "
        "message below. Reply with the title only: no quotes, no punctuation at the end."
    ),
    temperature=0.2,
)


def title_from_answer(text: str) -> str | None:
    """The model's answer as a title, or None when it is unusable."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = line.strip("\"'“”‘’*#` ").rstrip(".!?:;,")
    if line.lower().startswith("title:"):
        line = line[6:].strip()
    if not line or len(line) > MAX_TITLE_CHARS:
        return None
    return line


def generate_title(
    assistant: Assistant, first_message: str, *, model: str | None = None
) -> str | None:
    """Ask the model for a title, or None when there is no good one (the caller keeps the
    first-line title). Raises the AssistantError that ended the request."""
    if assistant.offline or not first_message.strip():
        return None  # the tiny offline model writes poor titles; the first line is better
    answer = assistant.complete(_TITLER, first_message[:2000], max_tokens=TITLE_TOKENS, model=model)
    return title_from_answer(answer)


def title_in_background(
    assistant: Assistant, store: Store, owner_id: int, conversation_id: str, first_message: str
) -> threading.Thread:
    def work() -> None:
        try:
            title = generate_title(assistant, first_message)
            if title:
                store.set_generated_title(owner_id, conversation_id, title)
        except AssistantError:
            log.info("no model-made title for %s", conversation_id, exc_info=True)

    thread = threading.Thread(target=work, name="conversation-title", daemon=True)
    thread.start()
    return thread


__all__ = ["generate_title", "title_from_answer", "title_in_background"]
