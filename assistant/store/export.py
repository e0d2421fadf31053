"""Exports of a user's own history: a conversation as Markdown or JSON, everything as CSV.

These are pure functions of records the store already scoped to the owner. Earlier versions of
a turn (a regenerated reply, an edited message and what followed it) are exported too, marked:
after the conversation as shown in Markdown and JSON, flagged in the CSV. The CSV guards
against formula injection: a spreadsheet runs a cell that starts with = + - @ (or a tab or
carriage return) as a formula, so such cells get a leading apostrophe, which spreadsheets show
as text. The JSON and Markdown keep text exactly as written.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from assistant.store.records import Conversation, ConversationDetail, Message

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = (
    "conversation_id",
    "conversation_title",
    "message_id",
    "created_at",
    "role",
    "status",
    "model",
    "text",
    "error",
    "earlier_version",
)


def _time(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _speaker(message: Message) -> str:
    if message.role == "user":
        return "You"
    return f"Assistant ({message.model})" if message.model else "Assistant"


def _status_note(message: Message) -> str:
    if message.status == "stopped":
        return "\n\n*(stopped before the end)*"
    if message.status == "streaming":
        return "\n\n*(incomplete)*"
    if message.status == "error":
        return f"\n\n*(error: {message.error})*"
    return ""


def _markdown_messages(messages: Iterable[Message], level: str) -> list[str]:
    parts: list[str] = []
    for message in messages:
        parts.append(f"{level} {_speaker(message)} · {_time(message.created_at)}")
        parts.append("")
        parts.append(message.text + _status_note(message))
        for image in message.images:
            parts.append("")
            parts.append(f"*[image {image.width}×{image.height} {image.mime}, {image.sha256}]*")
        parts.append("")
    return parts


def to_markdown(detail: ConversationDetail) -> str:
    conversation = detail.conversation
    parts = [f"# {conversation.title}", "", f"*{_time(conversation.created_at)}*", ""]
    parts += _markdown_messages(detail.messages, "##")
    if detail.earlier:
        parts += ["## Earlier versions", ""]
        parts += ["*Replaced by a regenerated reply or an edited message.*", ""]
        parts += _markdown_messages(detail.earlier, "###")
    return "\n".join(parts)


def _message_dict(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "parent_id": message.parent_id,
        "role": message.role,
        "text": message.text,
        "reasoning": message.reasoning,
        "status": message.status,
        "error": message.error,
        "error_kind": message.error_kind,
        "model": message.model,
        "requested_model": message.requested_model,
        "model_reason": message.model_reason,
        "finish_reason": message.finish_reason,
        "prompt_tokens": message.prompt_tokens,
        "completion_tokens": message.completion_tokens,
        "cost": message.cost,
        "created_at": _time(message.created_at),
        "updated_at": _time(message.updated_at),
        "feedback": message.feedback,
        "images": [
            {"sha256": i.sha256, "mime": i.mime, "width": i.width, "height": i.height}
            for i in message.images
        ],
    }


def to_json(detail: ConversationDetail) -> str:
    conversation = detail.conversation
    document = {
        "id": conversation.id,
        "title": conversation.title,
        "role_id": conversation.role_id,
        "model": conversation.model,
        "created_at": _time(conversation.created_at),
        "updated_at": _time(conversation.updated_at),
        "messages": [_message_dict(message) for message in detail.messages],
        "earlier_versions": [_message_dict(message) for message in detail.earlier],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def to_csv(rows: Iterable[tuple[Conversation, Message]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for conversation, message in rows:
        writer.writerow(
            safe_cell(value)
            for value in (
                conversation.id,
                conversation.title,
                message.id,
                _time(message.created_at),
                message.role,
                message.status,
                message.model,
                message.text,
                message.error,
                "yes" if message.superseded else "no",
            )
        )
    return out.getvalue()


__all__ = ["CSV_COLUMNS", "safe_cell", "to_csv", "to_json", "to_markdown"]
