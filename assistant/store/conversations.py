"""Reading and organising history: list, open, rename, delete, search, images.

Search is a case-insensitive substring match that works the same on both databases: the
needle's LIKE wildcards are escaped, and both sides are case-folded by the database (SQLite
gets a Python `casefold` function on each connection, since its own lower() is ASCII-only).
It scans the owner's messages only, which the owner index keeps small enough for a chat
history; a full-text index can replace it later behind the same function.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, TypeVarTuple, cast

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session, aliased

from assistant.reply import ReplyStatus
from assistant.store import models as m
from assistant.store.records import (
    Conversation,
    ConversationDetail,
    ConversationNotFoundError,
    FeedbackValue,
    ImageRef,
    Message,
    MessageNotFoundError,
    MessageRole,
    SearchHit,
    Sentiment,
)

TITLE_LENGTH = 60
MAX_TITLE_LENGTH = 200
SNIPPET_RADIUS = 60


def title_from_text(text: str, *, has_images: bool = False) -> str:
    """The first non-empty line, whitespace collapsed, cut at a word near 60 characters."""
    for line in text.splitlines():
        words = " ".join(line.split())
        if words:
            break
    else:
        return "Image" if has_images else "New conversation"
    if len(words) <= TITLE_LENGTH:
        return words
    cut = words[: TITLE_LENGTH - 1]
    if " " in cut[TITLE_LENGTH // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


def normalize_title(title: str) -> str:
    return " ".join(title.split())[:MAX_TITLE_LENGTH]


def conversation_record(row: m.Conversation) -> Conversation:
    return Conversation(
        id=row.public_id,
        title=row.title,
        title_source=row.title_source,
        role_id=row.role_id,
        model=row.model,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


#: The message columns a `Message` record is read from, in `_message_from_row`'s order. Reads
#: select these plain columns rather than ORM objects: building (and then converting) ten
#: thousand mapped instances was most of the cost of opening a long conversation. Selecting
#: them through the mapped table keeps each column's type, so `UserText` still decodes and
#: `UTCDateTime` still returns aware times.
_MESSAGE_COLUMNS = (
    m.Message.public_id,
    m.Message.role,
    m.Message.text,
    m.Message.status,
    m.Message.created_at,
    m.Message.updated_at,
    m.Message.reasoning,
    m.Message.error,
    m.Message.error_kind,
    m.Message.model,
    m.Message.requested_model,
    m.Message.model_reason,
    m.Message.finish_reason,
    m.Message.prompt_tokens,
    m.Message.completion_tokens,
    m.Message.cost,
    m.Message.sentiment_compound,
    m.Message.sentiment_pos,
    m.Message.sentiment_neu,
    m.Message.sentiment_neg,
)


def _message_from_row(
    row: Sequence[Any],
    conversation_id: str,
    images: tuple[ImageRef, ...],
    feedback: Any,
    parent_id: str | None = None,
) -> Message:
    """`row` holds `_MESSAGE_COLUMNS` in order; role, status and feedback values are the ones
    the schema's CHECK constraints allow."""
    (
        public_id,
        role,
        text,
        status,
        created_at,
        updated_at,
        reasoning,
        error,
        error_kind,
        model,
        requested_model,
        model_reason,
        finish_reason,
        prompt_tokens,
        completion_tokens,
        cost,
        compound,
        pos,
        neu,
        neg,
    ) = row
    return Message(
        id=public_id,
        conversation_id=conversation_id,
        role=role,
        text=text,
        status=ReplyStatus(status),
        created_at=created_at,
        updated_at=updated_at,
        parent_id=parent_id,
        reasoning=reasoning,
        error=error,
        error_kind=error_kind,
        model=model,
        requested_model=requested_model,
        model_reason=model_reason,
        finish_reason=finish_reason,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=cost,
        sentiment=None
        if compound is None
        else Sentiment(compound, pos or 0.0, neu or 0.0, neg or 0.0),
        images=images,
        feedback=feedback,
    )


def message_record(
    row: m.Message,
    conversation_id: str,
    *,
    images: tuple[ImageRef, ...] = (),
    feedback: FeedbackValue | None = None,
    parent_id: str | None = None,
) -> Message:
    """The record of a message the session already holds as a mapped object."""
    values = tuple(getattr(row, column.key) for column in _MESSAGE_COLUMNS)
    return _message_from_row(values, conversation_id, images, feedback, parent_id)


def owned_conversation(session: Session, owner_id: int, conversation_id: str) -> m.Conversation:
    row = session.execute(
        select(m.Conversation).where(
            m.Conversation.public_id == conversation_id, m.Conversation.owner_id == owner_id
        )
    ).scalar_one_or_none()
    if row is None:
        raise ConversationNotFoundError()
    return row


def list_conversations(
    session: Session, owner_id: int, limit: int, offset: int
) -> list[Conversation]:
    rows = session.execute(
        select(m.Conversation)
        .where(m.Conversation.owner_id == owner_id)
        .order_by(m.Conversation.updated_at.desc(), m.Conversation.id.desc())
        .limit(limit)
        .offset(offset)
    ).scalars()
    return [conversation_record(row) for row in rows]


_Columns = TypeVarTuple("_Columns")


def _scoped(statement: Select[*_Columns], owner_id: int, where: Iterable[Any]) -> Select[*_Columns]:
    """Messages of `owner_id` matching `where`, in conversations `owner_id` owns."""
    return statement.join(m.Conversation, m.Conversation.id == m.Message.conversation_id).where(
        m.Message.owner_id == owner_id, m.Conversation.owner_id == owner_id, *where
    )


def _image_refs(
    session: Session, owner_id: int, where: Iterable[Any]
) -> dict[int, tuple[ImageRef, ...]]:
    """The images of the messages `where` selects, by message key, in one query: scoping by
    the same conditions instead of listing the keys keeps the statement small at any size."""
    statement = (
        select(
            m.MessageImage.message_id,
            m.Image.sha256,
            m.Image.mime,
            m.Image.width,
            m.Image.height,
            m.Image.size,
        )
        .select_from(m.MessageImage)
        .join(m.Image, m.Image.id == m.MessageImage.image_id)
        .join(m.Message, m.Message.id == m.MessageImage.message_id)
        .where(m.MessageImage.owner_id == owner_id)
        .order_by(m.MessageImage.message_id, m.MessageImage.position)
    )
    found: dict[int, list[ImageRef]] = defaultdict(list)
    for message_pk, sha256, mime, width, height, size in session.execute(
        _scoped(statement, owner_id, where)
    ):
        found[message_pk].append(ImageRef(sha256, mime, width, height, size))
    return {pk: tuple(refs) for pk, refs in found.items()}


_Parent = aliased(m.Message)


def _keyed_messages(
    session: Session, owner_id: int, where: Sequence[Any]
) -> list[tuple[int, int | None, Message]]:
    """(key, parent key, record) of the owner's messages `where` selects, oldest first."""
    statement = (
        select(
            m.Message.id,
            m.Message.parent_id,
            _Parent.public_id,
            m.Conversation.public_id,
            m.Feedback.value,
            *_MESSAGE_COLUMNS,
        )
        .select_from(m.Message)
        .outerjoin(_Parent, _Parent.id == m.Message.parent_id)
        .outerjoin(
            m.Feedback,
            (m.Feedback.message_id == m.Message.id) & (m.Feedback.owner_id == owner_id),
        )
        .order_by(m.Message.conversation_id, m.Message.id)
    )
    # Each row: key, parent key, parent's public id, conversation's public id, feedback, then
    # `_MESSAGE_COLUMNS`.
    rows = session.execute(_scoped(statement, owner_id, where)).all()
    images = _image_refs(session, owner_id, where) if rows else {}
    no_images: tuple[ImageRef, ...] = ()
    return [
        (
            row[0],
            row[1],
            _message_from_row(row[5:], row[3], images.get(row[0], no_images), row[4], row[2]),
        )
        for row in rows
    ]


def _messages(session: Session, owner_id: int, where: Sequence[Any]) -> list[Message]:
    return [message for _, _, message in _keyed_messages(session, owner_id, where)]


def _branches(
    keyed: Sequence[tuple[int, int | None, Message]], head: int | None
) -> tuple[list[Message], dict[str, tuple[str, ...]], list[Message]]:
    """(the path from the root to `head`, versions of its turns, the messages off the path)."""
    by_key = {key: (parent, message) for key, parent, message in keyed}
    if head not in by_key:  # no head recorded: the newest message ends the shown branch
        head = keyed[-1][0] if keyed else None
    path_keys: list[int] = []
    key = head
    while key is not None and key in by_key:
        path_keys.append(key)
        key = by_key[key][0]
    path_keys.reverse()
    siblings: dict[int | None, list[str]] = defaultdict(list)
    for _, parent, message in keyed:
        siblings[parent].append(message.id)
    versions: dict[str, tuple[str, ...]] = {}
    for key in path_keys:
        parent, message = by_key[key]
        same_turn = siblings[parent]
        if len(same_turn) > 1:
            versions[message.id] = tuple(same_turn)
    on_path = set(path_keys)
    path = [by_key[key][1] for key in path_keys]
    earlier = [replace(message, superseded=True) for key, _, message in keyed if key not in on_path]
    return path, versions, earlier


def get_conversation(session: Session, owner_id: int, conversation_id: str) -> ConversationDetail:
    row = owned_conversation(session, owner_id, conversation_id)
    keyed = _keyed_messages(session, owner_id, [m.Message.conversation_id == row.id])
    path, versions, earlier = _branches(keyed, row.head_id)
    return ConversationDetail(conversation_record(row), tuple(path), versions, tuple(earlier))


def reply_context(
    session: Session, owner_id: int, reply_id: str, through_reply: bool
) -> list[Message]:
    """The branch a reply answers: from the first message to the one it follows (to the reply
    itself with `through_reply`), oldest first."""
    found = session.execute(
        select(m.Message.id, m.Message.conversation_id, m.Message.parent_id).where(
            m.Message.public_id == reply_id, m.Message.owner_id == owner_id
        )
    ).first()
    if found is None:
        raise MessageNotFoundError()
    reply_pk, conversation_pk, parent_pk = found
    keyed = _keyed_messages(session, owner_id, [m.Message.conversation_id == conversation_pk])
    path, _, _ = _branches(keyed, reply_pk if through_reply else parent_pk)
    return path


def get_message(session: Session, owner_id: int, message_id: str) -> Message:
    found = _messages(session, owner_id, [m.Message.public_id == message_id])
    if not found:
        raise MessageNotFoundError()
    return found[0]


def all_messages(session: Session, owner_id: int) -> list[tuple[Conversation, Message]]:
    """Every message of the owner, conversation by conversation, each conversation's shown
    branch first and its earlier versions (marked `superseded`) after it."""
    rows = session.execute(
        select(m.Conversation).where(m.Conversation.owner_id == owner_id)
    ).scalars()
    conversations = {row.public_id: (conversation_record(row), row.head_id) for row in rows}
    by_conversation: dict[str, list[tuple[int, int | None, Message]]] = defaultdict(list)
    for keyed in _keyed_messages(session, owner_id, []):
        by_conversation[keyed[2].conversation_id].append(keyed)
    out: list[tuple[Conversation, Message]] = []
    for conversation_id, keyed_messages in by_conversation.items():
        conversation, head = conversations[conversation_id]
        path, _, earlier = _branches(keyed_messages, head)
        out.extend((conversation, message) for message in (*path, *earlier))
    return out


def set_title(
    session: Session, owner_id: int, conversation_id: str, title: str, source: str
) -> bool:
    """Set the title; a "model" title never replaces one the user chose."""
    row = owned_conversation(session, owner_id, conversation_id)
    title = normalize_title(title)
    if not title or (source == "model" and row.title_source == "user"):
        return False
    row.title = title
    row.title_source = source
    return True


def set_choice(
    session: Session, owner_id: int, conversation_id: str, role_id: str, model: str
) -> None:
    row = owned_conversation(session, owner_id, conversation_id)
    row.role_id = role_id
    row.model = model


def delete_conversation(session: Session, owner_id: int, conversation_id: str) -> None:
    result = session.connection().execute(
        delete(m.Conversation).where(
            m.Conversation.public_id == conversation_id, m.Conversation.owner_id == owner_id
        )
    )
    if result.rowcount == 0:
        raise ConversationNotFoundError()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _snippet(text: str, needle: str) -> str:
    flat = " ".join(text.split())
    at = flat.lower().find(needle.lower())
    if at < 0:
        at = 0
    start = max(0, at - SNIPPET_RADIUS)
    end = min(len(flat), at + len(needle) + SNIPPET_RADIUS)
    return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")


def search(session: Session, owner_id: int, query: str, limit: int) -> list[SearchHit]:
    needle = query.strip()
    if not needle:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        haystack = func.lower(m.Message.text)
        # The column stores NUL escaped on PostgreSQL; the needle must match that form.
        pattern = m.escape_nul(needle.lower())
    else:
        haystack = func.assistant_casefold(m.Message.text)
        pattern = needle.casefold()
    rows = session.execute(
        select(
            m.Conversation.public_id,
            m.Conversation.title,
            m.Message.public_id,
            m.Message.role,
            m.Message.text,
            m.Message.created_at,
        )
        .join(m.Conversation, m.Conversation.id == m.Message.conversation_id)
        .where(
            m.Message.owner_id == owner_id,
            m.Conversation.owner_id == owner_id,
            haystack.like(f"%{_escape_like(pattern)}%", escape="\\"),
        )
        .order_by(m.Message.id.desc())
        .limit(limit)
    )
    return [
        SearchHit(cid, title, mid, cast(MessageRole, role), _snippet(text, needle), created)
        for cid, title, mid, role, text, created in rows
    ]


def image_bytes(session: Session, owner_id: int, sha256: str) -> tuple[bytes, str] | None:
    row = session.execute(
        select(m.Image.data, m.Image.mime)
        .join(m.MessageImage, m.MessageImage.image_id == m.Image.id)
        .where(m.MessageImage.owner_id == owner_id, m.Image.sha256 == sha256)
        .limit(1)
    ).first()
    return None if row is None else (bytes(row[0]), row[1])


def message_images(session: Session, owner_id: int, message_pk: int) -> tuple[ImageRef, ...]:
    """The images of one of the owner's messages, in their order."""
    return _image_refs(session, owner_id, [m.Message.id == message_pk]).get(message_pk, ())


def claim_conversations(session: Session, from_owner: int, to_owner: int) -> int:
    """Move everything a guest made to an account, in one transaction."""
    moved = session.connection().execute(
        update(m.Conversation)
        .where(m.Conversation.owner_id == from_owner)
        .values(owner_id=to_owner)
    )
    for table in (m.Message, m.MessageImage, m.Feedback):
        session.connection().execute(
            update(table).where(table.owner_id == from_owner).values(owner_id=to_owner)
        )
    return moved.rowcount


__all__ = [
    "all_messages",
    "claim_conversations",
    "conversation_record",
    "delete_conversation",
    "get_conversation",
    "get_message",
    "image_bytes",
    "list_conversations",
    "message_images",
    "message_record",
    "normalize_title",
    "owned_conversation",
    "reply_context",
    "search",
    "set_choice",
    "set_title",
    "title_from_text",
]
