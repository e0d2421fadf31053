"""The write path of a chat turn, in the order the safety rules ask for.

1. `add_user_message` commits the user's text and images (and the conversation, on the first
   message) before anything calls a model.
2. `start_reply` commits an empty assistant row with status "streaming" (`start_turn` commits
   1 and 2 together: one transaction, not two, before the model is called).
3. `checkpoint_reply` is a single UPDATE of the text, cheap enough to run every second or so.
4. `finish_reply` sets the final status: complete, stopped or error (with the user's sentence).

A process that dies between 2 and 4 leaves a "streaming" row holding the last checkpoint;
`recover_stale_replies` marks such rows as interrupted. Every function takes the owner and puts
it in the statement's WHERE clause; a row of another user is indistinguishable from no row.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, bindparam, delete, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from assistant.errors import AssistantError, ReplyInterruptedError
from assistant.store import models as m
from assistant.store.conversations import message_record, title_from_text
from assistant.store.records import (
    ConversationNotFoundError,
    FeedbackValue,
    FinalStatus,
    ImageLike,
    ImageRef,
    Message,
    MessageNotFoundError,
    Sentiment,
)

FINAL_STATUSES = ("complete", "stopped", "error")
INTERRUPTED = ReplyInterruptedError.sentence


def new_public_id() -> str:
    return uuid.uuid4().hex


def upsert(session: Session, table: Any) -> Any:
    """An INSERT that can say ON CONFLICT, for whichever database the session uses."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _execute(session: Session, statement: Any) -> CursorResult[Any]:
    result: CursorResult[Any] = session.connection().execute(statement)
    return result


def _execute_many(session: Session, statement: Any, rows: list[dict[str, Any]]) -> None:
    session.connection().execute(statement, rows)


def owned_message_id(session: Session, owner_id: int, message_id: str) -> int:
    row = session.execute(
        select(m.Message.id).where(
            m.Message.public_id == message_id, m.Message.owner_id == owner_id
        )
    ).scalar_one_or_none()
    if row is None:
        raise MessageNotFoundError()
    return row


_SENTIMENT_COLUMNS = ("sentiment_compound", "sentiment_pos", "sentiment_neu", "sentiment_neg")


def sentiment_columns(sentiment: Sentiment | None) -> dict[str, float]:
    """The message columns for `sentiment` (none when it is not known yet)."""
    if sentiment is None:
        return {}
    return {
        "sentiment_compound": sentiment.compound,
        "sentiment_pos": sentiment.pos,
        "sentiment_neu": sentiment.neu,
        "sentiment_neg": sentiment.neg,
    }


def add_user_message(
    session: Session,
    now: datetime,
    owner_id: int,
    conversation_id: str | None,
    text: str,
    images: Sequence[ImageLike],
    role_id: str,
    model: str,
    sentiment: Sentiment | None = None,
) -> tuple[str, Message]:
    if conversation_id is None:
        conversation = m.Conversation(
            public_id=new_public_id(),
            owner_id=owner_id,
            title=title_from_text(text, has_images=bool(images)),
            title_source="first_message",
            role_id=role_id,
            model=model,
            created_at=now,
            updated_at=now,
        )
        session.add(conversation)
    else:
        # FOR UPDATE (ignored by SQLite, whose BEGIN IMMEDIATE already serialises writers)
        # orders concurrent appends to one conversation on PostgreSQL.
        found = session.execute(
            select(m.Conversation)
            .where(m.Conversation.public_id == conversation_id, m.Conversation.owner_id == owner_id)
            .with_for_update()
        ).scalar_one_or_none()
        if found is None:
            raise ConversationNotFoundError()
        conversation = found
        conversation.updated_at = now
        conversation.role_id = role_id
        conversation.model = model
    session.flush()
    row = m.Message(
        public_id=new_public_id(),
        conversation_id=conversation.id,
        owner_id=owner_id,
        role="user",
        text=text,
        reasoning="",
        status="complete",
        requested_model=model,
        created_at=now,
        updated_at=now,
        **sentiment_columns(sentiment),
    )
    session.add(row)
    session.flush()
    refs = tuple(
        _attach_image(session, now, owner_id, row.id, position, image)
        for position, image in enumerate(images)
    )
    return conversation.public_id, message_record(row, conversation.public_id, images=refs)


def _attach_image(
    session: Session, now: datetime, owner_id: int, message_id: int, position: int, image: Any
) -> ImageRef:
    data = bytes(image.data)
    digest = hashlib.sha256(data).hexdigest()
    # The hash is the address of bytes other users may own too: never trust the caller's.
    if image.sha256 != digest:
        raise ValueError("image sha256 does not match its bytes")
    insert = upsert(session, m.Image).values(
        sha256=digest,
        mime=image.mime,
        width=image.width,
        height=image.height,
        size=len(data),
        data=data,
        created_at=now,
    )
    # DO UPDATE (not DO NOTHING) so the row is locked and returned even when it already
    # exists: a concurrent prune of orphan images cannot delete it before our link commits.
    image_id = session.execute(
        insert.on_conflict_do_update(
            index_elements=[m.Image.sha256], set_={"sha256": insert.excluded.sha256}
        ).returning(m.Image.id)
    ).scalar_one()
    session.add(
        m.MessageImage(
            message_id=message_id, position=position, image_id=image_id, owner_id=owner_id
        )
    )
    return ImageRef(digest, image.mime, image.width, image.height, len(data))


def start_reply(
    session: Session, now: datetime, owner_id: int, conversation_id: str, model: str
) -> str:
    conversation = session.execute(
        select(m.Conversation)
        .where(m.Conversation.public_id == conversation_id, m.Conversation.owner_id == owner_id)
        .with_for_update()
    ).scalar_one_or_none()
    if conversation is None:
        raise ConversationNotFoundError()
    conversation.updated_at = now
    public_id = new_public_id()
    session.add(
        m.Message(
            public_id=public_id,
            conversation_id=conversation.id,
            owner_id=owner_id,
            role="assistant",
            text="",
            reasoning="",
            status="streaming",
            model=model,
            requested_model=model,
            created_at=now,
            updated_at=now,
        )
    )
    return public_id


def start_turn(
    session: Session,
    now: datetime,
    owner_id: int,
    conversation_id: str | None,
    text: str,
    images: Sequence[ImageLike],
    role_id: str,
    model: str,
    sentiment: Sentiment | None = None,
) -> tuple[str, Message, str]:
    """Steps 1 and 2 in one transaction: the user's message, then the empty reply row."""
    if conversation_id is not None and not images:
        return _next_turn(session, now, owner_id, conversation_id, text, role_id, model, sentiment)
    conversation_id, message = add_user_message(
        session, now, owner_id, conversation_id, text, images, role_id, model, sentiment
    )
    return conversation_id, message, start_reply(session, now, owner_id, conversation_id, model)


@dataclass(frozen=True, slots=True)
class NextTurn:
    """A text message in a stored conversation, with the reply row to start after it."""

    owner_id: int
    conversation_id: str
    text: str
    role_id: str
    model: str
    sentiment: Sentiment | None = None


TurnResult = tuple[str, Message, str]


def _next_turn(
    session: Session,
    now: datetime,
    owner_id: int,
    conversation_id: str,
    text: str,
    role_id: str,
    model: str,
    sentiment: Sentiment | None,
) -> TurnResult:
    turn = NextTurn(owner_id, conversation_id, text, role_id, model, sentiment)
    (result,) = next_turns(session, now, [turn])
    if isinstance(result, AssistantError):
        raise result
    return result


def next_turns(
    session: Session, now: datetime, turns: Sequence[NextTurn]
) -> list[TurnResult | AssistantError]:
    """`start_turn` for many text messages in stored conversations, in three statements
    however many there are; a turn whose conversation is not its owner's gets its error, the
    others are written. On SQLite the transaction holds the database's only write lock, and
    each statement lets other sessions' threads run before this one resumes: under load a
    write's time grew with its statement count (see `assistant.turns`)."""
    wanted = sorted({turn.conversation_id for turn in turns})
    found = session.execute(
        select(m.Conversation.id, m.Conversation.public_id, m.Conversation.owner_id)
        .where(m.Conversation.public_id.in_(wanted))
        .order_by(m.Conversation.id)  # one lock order for every writer (PostgreSQL)
        .with_for_update()
    ).all()
    keys = {(public_id, owner): pk for pk, public_id, owner in found}
    results: list[TurnResult | AssistantError] = []
    touched: dict[int, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for turn in turns:
        conversation_pk = keys.get((turn.conversation_id, turn.owner_id))
        if conversation_pk is None:
            results.append(ConversationNotFoundError())
            continue
        touched[conversation_pk] = {"pk": conversation_pk, "r": turn.role_id, "mo": turn.model}
        message_id, reply_id = new_public_id(), new_public_id()
        common = {
            "conversation_id": conversation_pk,
            "owner_id": turn.owner_id,
            "reasoning": "",
            "requested_model": turn.model,
            "created_at": now,
            "updated_at": now,
        }
        no_scores = dict.fromkeys(_SENTIMENT_COLUMNS)
        rows.append(
            {
                **common,
                "public_id": message_id,
                "role": "user",
                "text": turn.text,
                "status": "complete",
                "model": None,
                **(sentiment_columns(turn.sentiment) or no_scores),
            }
        )
        rows.append(
            {
                **common,
                "public_id": reply_id,
                "role": "assistant",
                "text": "",
                "status": "streaming",
                "model": turn.model,
                **no_scores,
            }
        )
        message = Message(
            id=message_id,
            conversation_id=turn.conversation_id,
            role="user",
            text=turn.text,
            status="complete",
            created_at=now,
            updated_at=now,
            requested_model=turn.model,
            sentiment=turn.sentiment,
        )
        results.append((turn.conversation_id, message, reply_id))
    if touched:
        _execute_many(
            session,
            update(m.Conversation)
            .where(m.Conversation.id == bindparam("pk"))
            .values(updated_at=now, role_id=bindparam("r"), model=bindparam("mo")),
            list(touched.values()),
        )
        _execute_many(session, insert(m.Message), rows)  # in turn order: ids follow it
    return results


def checkpoint_reply(
    session: Session, now: datetime, owner_id: int, message_id: str, text: str, reasoning: str
) -> bool:
    """Save the text so far; False (and nothing written) when the reply is already final."""
    result = _execute(
        session,
        update(m.Message)
        .where(
            m.Message.public_id == message_id,
            m.Message.owner_id == owner_id,
            m.Message.role == "assistant",
            m.Message.status == "streaming",
        )
        .values(text=text, reasoning=reasoning, updated_at=now),
    )
    if result.rowcount == 0:
        owned_message_id(session, owner_id, message_id)
        return False
    return True


def finish_reply(
    session: Session,
    now: datetime,
    owner_id: int,
    message_id: str,
    values: dict[str, Any],
) -> None:
    status: FinalStatus = values["status"]
    if status not in FINAL_STATUSES:
        raise ValueError(f"a reply ends as one of {FINAL_STATUSES}, not {status!r}")
    if status == "error" and not values.get("error"):
        raise ValueError("a reply that ends in error needs the reason")
    if status != "error":
        values["error"] = None
    if values.get("model") is None:
        values.pop("model", None)
    if values.get("requested_model") is None:
        values.pop("requested_model", None)
    result = _execute(
        session,
        update(m.Message)
        .where(
            m.Message.public_id == message_id,
            m.Message.owner_id == owner_id,
            m.Message.role == "assistant",
        )
        .values(updated_at=now, **values)
        .returning(m.Message.conversation_id),
    )
    conversation_pk = result.scalar_one_or_none()
    if conversation_pk is None:
        raise MessageNotFoundError()
    _execute(
        session,
        update(m.Conversation)
        .where(m.Conversation.id == conversation_pk, m.Conversation.owner_id == owner_id)
        .values(updated_at=now),
    )


def recover_stale_replies(session: Session, now: datetime, older_than: timedelta) -> int:
    """Mark replies whose writer stopped checkpointing as interrupted (text kept)."""
    result = _execute(
        session,
        update(m.Message)
        .where(m.Message.status == "streaming", m.Message.updated_at < now - older_than)
        .values(status="error", error=INTERRUPTED, updated_at=now),
    )
    return result.rowcount


def set_feedback(
    session: Session,
    now: datetime,
    owner_id: int,
    message_id: str,
    value: FeedbackValue | None,
    comment: str,
) -> None:
    pk = owned_message_id(session, owner_id, message_id)
    if value is None:
        _execute(
            session,
            delete(m.Feedback).where(m.Feedback.message_id == pk, m.Feedback.owner_id == owner_id),
        )
        return
    if value not in ("up", "down"):
        raise ValueError(f"feedback is 'up' or 'down', not {value!r}")
    insert = upsert(session, m.Feedback).values(
        message_id=pk, owner_id=owner_id, value=value, comment=comment, created_at=now
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[m.Feedback.message_id, m.Feedback.owner_id],
            set_={"value": value, "comment": comment, "created_at": now},
        )
    )


def update_sentiment(
    session: Session, owner_id: int, message_id: str, scores: tuple[float, float, float, float]
) -> None:
    compound, pos, neu, neg = scores
    result = _execute(
        session,
        update(m.Message)
        .where(m.Message.public_id == message_id, m.Message.owner_id == owner_id)
        .values(
            sentiment_compound=compound, sentiment_pos=pos, sentiment_neu=neu, sentiment_neg=neg
        ),
    )
    if result.rowcount == 0:
        raise MessageNotFoundError()


def delete_message(session: Session, owner_id: int, message_id: str) -> None:
    """Delete one of the owner's messages (its image links and feedback go with it)."""
    result = _execute(
        session,
        delete(m.Message).where(m.Message.public_id == message_id, m.Message.owner_id == owner_id),
    )
    if result.rowcount == 0:
        raise MessageNotFoundError()


def prune_orphan_images(session: Session) -> int:
    linked = exists().where(m.MessageImage.image_id == m.Image.id)
    return _execute(session, delete(m.Image).where(~linked)).rowcount


__all__ = [
    "FINAL_STATUSES",
    "INTERRUPTED",
    "NextTurn",
    "TurnResult",
    "add_user_message",
    "checkpoint_reply",
    "delete_message",
    "finish_reply",
    "new_public_id",
    "next_turns",
    "owned_message_id",
    "prune_orphan_images",
    "recover_stale_replies",
    "set_feedback",
    "start_reply",
    "update_sentiment",
    "upsert",
]
