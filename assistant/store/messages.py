"""The write path of a chat turn, in the order the safety rules ask for.

1. `start_turn` commits the user's text and images (and the conversation, on the first
   message) together with an empty assistant row with status "streaming": one transaction
   before anything calls a model. `start_turns` does the same for many follow-up text
   messages at once (a group commit, see `assistant.store.database`).
2. `revise_turn` adds a new version of a turn (an edited message, or a regenerated reply) and
   its empty reply row, in one transaction; the earlier version stays, on another branch.
3. `checkpoint_reply` is a single UPDATE of the text, cheap enough to run every second or so.
4. `finish_reply` stores the reply's final state: status, text, model (asked, used and why),
   finish reason, usage, the error's sentence and kind, and its sentiment scores.

Messages form a tree (see `assistant.store.models`): each new message follows the
conversation's head, and the head moves to the new reply. A process that dies between 1 and 4
leaves a "streaming" row holding the last checkpoint; `recover_stale_replies` marks such rows
as interrupted. Every function takes the owner and puts it in the statement's WHERE clause,
locks included; a row of another user is indistinguishable from no row.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, bindparam, delete, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from assistant.errors import AssistantError, ReplyInterruptedError
from assistant.reply import Reply, ReplyStatus
from assistant.store import models as m
from assistant.store.conversations import message_images, message_record, title_from_text
from assistant.store.records import (
    ConversationNotFoundError,
    FeedbackValue,
    ImageRef,
    Message,
    MessageNotFoundError,
    NewTurn,
    Sentiment,
    StartedTurn,
)

INTERRUPTED = ReplyInterruptedError.sentence


class NotLastReplyError(AssistantError):
    sentence = "Only the last reply of a conversation can be continued."


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


def sentiment_columns(sentiment: Sentiment | None) -> dict[str, float | None]:
    """The message columns for `sentiment` (all None when it is not known)."""
    if sentiment is None:
        return dict.fromkeys(_SENTIMENT_COLUMNS)
    return {
        "sentiment_compound": sentiment.compound,
        "sentiment_pos": sentiment.pos,
        "sentiment_neu": sentiment.neu,
        "sentiment_neg": sentiment.neg,
    }


def _locked_conversation(
    session: Session, owner_id: int, conversation_id: str
) -> tuple[int, int | None]:
    """The conversation's key and head, locked for this transaction (PostgreSQL; SQLite's
    BEGIN IMMEDIATE already serialises writers). The owner is part of the locking query, so
    one user's request can never lock another's rows."""
    found = session.execute(
        select(m.Conversation.id, m.Conversation.head_id)
        .where(m.Conversation.public_id == conversation_id, m.Conversation.owner_id == owner_id)
        .with_for_update()
    ).first()
    if found is None:
        raise ConversationNotFoundError()
    return found[0], found[1]


def _user_row(
    conversation_pk: int, parent: int | None, turn: NewTurn, now: datetime
) -> dict[str, Any]:
    return {
        "public_id": new_public_id(),
        "conversation_id": conversation_pk,
        "parent_id": parent,
        "owner_id": turn.owner_id,
        "role": "user",
        "text": turn.text,
        "reasoning": "",
        "status": ReplyStatus.COMPLETE.value,
        "model": None,
        "requested_model": turn.model,
        "created_at": now,
        "updated_at": now,
        **sentiment_columns(turn.sentiment),
    }


def _reply_row(
    conversation_pk: int, parent: int, owner_id: int, model: str, now: datetime
) -> dict[str, Any]:
    return {
        "public_id": new_public_id(),
        "conversation_id": conversation_pk,
        "parent_id": parent,
        "owner_id": owner_id,
        "role": "assistant",
        "text": "",
        "reasoning": "",
        "status": ReplyStatus.STREAMING.value,
        "model": model,
        "requested_model": model,
        "created_at": now,
        "updated_at": now,
        **sentiment_columns(None),
    }


def _user_message(row: dict[str, Any], conversation_id: str, parent: str | None) -> Message:
    sentiment = None
    if row["sentiment_compound"] is not None:
        sentiment = Sentiment(
            row["sentiment_compound"],
            row["sentiment_pos"],
            row["sentiment_neu"],
            row["sentiment_neg"],
        )
    return Message(
        id=row["public_id"],
        conversation_id=conversation_id,
        role="user",
        text=row["text"],
        status=ReplyStatus.COMPLETE,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        parent_id=parent,
        requested_model=row["requested_model"],
        sentiment=sentiment,
    )


def _public_id(session: Session, pk: int | None) -> str | None:
    if pk is None:
        return None
    return session.execute(select(m.Message.public_id).where(m.Message.id == pk)).scalar_one()


def start_turn(session: Session, now: datetime, turn: NewTurn) -> StartedTurn:
    """Step 1 for any turn: a new conversation, or a message with images."""
    if turn.conversation_id is None:
        conversation = m.Conversation(
            public_id=new_public_id(),
            owner_id=turn.owner_id,
            title=title_from_text(turn.text, has_images=bool(turn.images)),
            title_source="first_message",
            role_id=turn.role_id,
            model=turn.model,
            created_at=now,
            updated_at=now,
        )
        session.add(conversation)
        session.flush()
        conversation_pk, head, conversation_id = conversation.id, None, conversation.public_id
    else:
        conversation_pk, head = _locked_conversation(session, turn.owner_id, turn.conversation_id)
        conversation_id = turn.conversation_id
    user = _user_row(conversation_pk, head, turn, now)
    user_pk = session.execute(insert(m.Message).values(**user).returning(m.Message.id)).scalar_one()
    refs = tuple(
        _attach_image(session, now, turn.owner_id, user_pk, position, image)
        for position, image in enumerate(turn.images)
    )
    reply = _reply_row(conversation_pk, user_pk, turn.owner_id, turn.model, now)
    reply_pk = session.execute(
        insert(m.Message).values(**reply).returning(m.Message.id)
    ).scalar_one()
    _execute(
        session,
        update(m.Conversation)
        .where(m.Conversation.id == conversation_pk)
        .values(head_id=reply_pk, updated_at=now, role_id=turn.role_id, model=turn.model),
    )
    message = _user_message(user, conversation_id, _public_id(session, head))
    if refs:
        message = _with_images(message, refs)
    return StartedTurn(conversation_id, message, reply["public_id"])


def _with_images(message: Message, refs: tuple[ImageRef, ...]) -> Message:
    from dataclasses import replace

    return replace(message, images=refs)


def start_turns(
    session: Session, now: datetime, turns: Sequence[NewTurn]
) -> list[StartedTurn | AssistantError]:
    """`start_turn` for many text messages in stored conversations, in four statements however
    many there are; a turn whose conversation is not its owner's gets its error, the others are
    written. Two turns in one conversation (a message typed ahead in two tabs at once) follow
    each other, in rounds."""
    outcomes: dict[int, StartedTurn | AssistantError] = {}
    pending = list(enumerate(turns))
    while pending:
        this_round: list[tuple[int, NewTurn]] = []
        later: list[tuple[int, NewTurn]] = []
        seen: set[tuple[str | None, int]] = set()
        for index, turn in pending:
            key = (turn.conversation_id, turn.owner_id)
            (later if key in seen else this_round).append((index, turn))
            seen.add(key)
        outcomes.update(_start_round(session, now, this_round))
        pending = later
    return [outcomes[index] for index in range(len(turns))]


def _start_round(
    session: Session, now: datetime, turns: Sequence[tuple[int, NewTurn]]
) -> dict[int, StartedTurn | AssistantError]:
    wanted = sorted({turn.conversation_id for _, turn in turns if turn.conversation_id})
    found = session.execute(
        select(
            m.Conversation.id,
            m.Conversation.public_id,
            m.Conversation.owner_id,
            m.Conversation.head_id,
        )
        .where(
            m.Conversation.public_id.in_(wanted),
            m.Conversation.owner_id.in_(sorted({turn.owner_id for _, turn in turns})),
        )
        .order_by(m.Conversation.id)  # one lock order for every writer (PostgreSQL)
        .with_for_update()
    ).all()
    keys = {(public_id, owner): (pk, head) for pk, public_id, owner, head in found}
    outcomes: dict[int, StartedTurn | AssistantError] = {}
    placed: list[tuple[int, NewTurn, int, int | None]] = []
    for index, turn in turns:
        key = keys.get((turn.conversation_id or "", turn.owner_id))
        if key is None:
            outcomes[index] = ConversationNotFoundError()
        else:
            placed.append((index, turn, key[0], key[1]))
    if not placed:
        return outcomes
    users = [_user_row(pk, head, turn, now) for _, turn, pk, head in placed]
    user_pks = (
        session.execute(
            insert(m.Message).returning(m.Message.id, sort_by_parameter_order=True), users
        )
        .scalars()
        .all()
    )
    replies = [
        _reply_row(pk, user_pk, turn.owner_id, turn.model, now)
        for (_, turn, pk, _), user_pk in zip(placed, user_pks, strict=True)
    ]
    reply_pks = (
        session.execute(
            insert(m.Message).returning(m.Message.id, sort_by_parameter_order=True), replies
        )
        .scalars()
        .all()
    )
    session.connection().execute(
        update(m.Conversation)
        .where(m.Conversation.id == bindparam("pk"))
        .values(
            head_id=bindparam("head"), updated_at=now, role_id=bindparam("r"), model=bindparam("mo")
        ),
        [
            {"pk": pk, "head": reply_pk, "r": turn.role_id, "mo": turn.model}
            for (_, turn, pk, _), reply_pk in zip(placed, reply_pks, strict=True)
        ],
    )
    heads = {head for _, _, _, head in placed if head is not None}
    parents: dict[int, str] = {}
    if heads:
        rows = session.execute(
            select(m.Message.id, m.Message.public_id).where(m.Message.id.in_(sorted(heads)))
        )
        parents = {pk: public_id for pk, public_id in rows}
    for (index, turn, _, head), user, reply in zip(placed, users, replies, strict=True):
        parent = parents.get(head) if head is not None else None
        message = _user_message(user, turn.conversation_id or "", parent)
        outcomes[index] = StartedTurn(turn.conversation_id or "", message, reply["public_id"])
    return outcomes


def _attach_image(
    session: Session, now: datetime, owner_id: int, message_id: int, position: int, image: Any
) -> ImageRef:
    data = bytes(image.data)
    digest = hashlib.sha256(data).hexdigest()
    # The hash is the address of bytes other users may own too: never trust the caller's.
    if image.sha256 != digest:
        raise ValueError("image sha256 does not match its bytes")
    statement = upsert(session, m.Image).values(
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
        statement.on_conflict_do_update(
            index_elements=[m.Image.sha256], set_={"sha256": statement.excluded.sha256}
        ).returning(m.Image.id)
    ).scalar_one()
    _execute(
        session,
        insert(m.MessageImage).values(
            message_id=message_id, position=position, image_id=image_id, owner_id=owner_id
        ),
    )
    return ImageRef(digest, image.mime, width=image.width, height=image.height, size=len(data))


def _owned_message(session: Session, owner_id: int, message_id: str) -> m.Message:
    row = session.execute(
        select(m.Message).where(m.Message.public_id == message_id, m.Message.owner_id == owner_id)
    ).scalar_one_or_none()
    if row is None:
        raise MessageNotFoundError()
    return row


def revise_turn(
    session: Session,
    now: datetime,
    owner_id: int,
    message_id: str,
    text: str | None,
    role_id: str,
    model: str,
    sentiment: Sentiment | None = None,
) -> StartedTurn:
    """A new version of a turn, with its empty reply row; the earlier version is kept.

    `text` None regenerates: `message_id` names a reply (or the user message it answers) and a
    new reply to the same message is started. With `text`, `message_id` names a user message:
    an edited copy (same images) becomes its sibling, and a new reply answers it. Either way
    the conversation then shows the new branch.
    """
    target = _owned_message(session, owner_id, message_id)
    conversation = session.execute(
        select(m.Conversation.public_id)
        .where(m.Conversation.id == target.conversation_id, m.Conversation.owner_id == owner_id)
        .with_for_update()
    ).scalar_one_or_none()
    if conversation is None:
        raise ConversationNotFoundError()
    if text is None:
        user = target
        if target.role == "assistant":
            if target.parent_id is None:
                raise MessageNotFoundError()
            user = session.execute(
                select(m.Message).where(
                    m.Message.id == target.parent_id, m.Message.owner_id == owner_id
                )
            ).scalar_one()
        user_pk = user.id
        images = message_images(session, owner_id, user_pk)
        message = _with_images(message_record(user, conversation), images)
    else:
        if target.role != "user":
            raise MessageNotFoundError()
        turn = NewTurn(owner_id, conversation, text, role_id, model, sentiment=sentiment)
        row = _user_row(target.conversation_id, target.parent_id, turn, now)
        user_pk = session.execute(
            insert(m.Message).values(**row).returning(m.Message.id)
        ).scalar_one()
        images = _copy_images(session, owner_id, target.id, user_pk)
        message = _with_images(
            _user_message(row, conversation, _public_id(session, target.parent_id)), images
        )
    reply = _reply_row(target.conversation_id, user_pk, owner_id, model, now)
    reply_pk = session.execute(
        insert(m.Message).values(**reply).returning(m.Message.id)
    ).scalar_one()
    _execute(
        session,
        update(m.Conversation)
        .where(m.Conversation.id == target.conversation_id, m.Conversation.owner_id == owner_id)
        .values(head_id=reply_pk, updated_at=now, role_id=role_id, model=model),
    )
    return StartedTurn(conversation, message, reply["public_id"])


def _copy_images(session: Session, owner_id: int, from_pk: int, to_pk: int) -> tuple[ImageRef, ...]:
    links = session.execute(
        select(m.MessageImage.position, m.MessageImage.image_id).where(
            m.MessageImage.message_id == from_pk, m.MessageImage.owner_id == owner_id
        )
    ).all()
    if links:
        _execute(
            session,
            insert(m.MessageImage).values(
                [
                    {"message_id": to_pk, "position": p, "image_id": i, "owner_id": owner_id}
                    for p, i in links
                ]
            ),
        )
    return message_images(session, owner_id, to_pk)


def resume_reply(session: Session, now: datetime, owner_id: int, reply_id: str) -> Reply:
    """Mark a stopped or cut reply as streaming again, to be continued; returns it as stored.

    Only the reply the conversation ends with can be continued: text appended to an earlier
    one would answer a conversation that has moved on."""
    row = _owned_message(session, owner_id, reply_id)
    head = session.execute(
        select(m.Conversation.head_id)
        .where(m.Conversation.id == row.conversation_id, m.Conversation.owner_id == owner_id)
        .with_for_update()
    ).scalar_one_or_none()
    if row.role != "assistant" or head != row.id:
        raise NotLastReplyError()
    reply = Reply.from_message(message_record(row, ""))
    if not reply.can_continue:
        raise NotLastReplyError("This reply cannot be continued.")
    _execute(
        session,
        update(m.Message)
        .where(m.Message.id == row.id, m.Message.owner_id == owner_id)
        .values(status=ReplyStatus.STREAMING.value, finish_reason=None, updated_at=now),
    )
    return reply


def select_version(session: Session, owner_id: int, message_id: str) -> str:
    """Show the branch through `message_id`, down to its newest message; returns the
    conversation's id."""
    row = _owned_message(session, owner_id, message_id)
    conversation_pk = row.conversation_id
    children: dict[int | None, list[int]] = {}
    for pk, parent in session.execute(
        select(m.Message.id, m.Message.parent_id).where(
            m.Message.conversation_id == conversation_pk, m.Message.owner_id == owner_id
        )
    ):
        children.setdefault(parent, []).append(pk)
    head = row.id
    while children.get(head):
        head = max(children[head])  # the newest version below
    public_id = session.execute(
        update(m.Conversation)
        .where(m.Conversation.id == conversation_pk, m.Conversation.owner_id == owner_id)
        .values(head_id=head)
        .returning(m.Conversation.public_id)
    ).scalar_one_or_none()
    if public_id is None:
        raise ConversationNotFoundError()
    return str(public_id)


def _save_streaming_text(
    session: Session, now: datetime, owner_id: int, message_id: str, text: str, reasoning: str
) -> bool:
    """Write the text so far of the owner's reply if it is still streaming; True if written."""
    result = _execute(
        session,
        update(m.Message)
        .where(
            m.Message.public_id == message_id,
            m.Message.owner_id == owner_id,
            m.Message.role == "assistant",
            m.Message.status == ReplyStatus.STREAMING.value,
        )
        .values(text=text, reasoning=reasoning, updated_at=now),
    )
    return result.rowcount > 0


def checkpoint_reply(
    session: Session, now: datetime, owner_id: int, message_id: str, text: str, reasoning: str
) -> bool:
    """Save the text so far; False (and nothing written) when the reply is already final."""
    if _save_streaming_text(session, now, owner_id, message_id, text, reasoning):
        return True
    owned_message_id(session, owner_id, message_id)
    return False


def checkpoint_replies(
    session: Session, now: datetime, replies: Sequence[tuple[int, str, str, str]]
) -> int:
    """Save several replies' text so far, as (owner id, reply id, text, reasoning); replies
    already final are left as they are. Returns how many rows were saved."""
    return sum(
        _save_streaming_text(session, now, owner_id, message_id, text, reasoning)
        for owner_id, message_id, text, reasoning in replies
    )


def finish_reply(
    session: Session,
    now: datetime,
    owner_id: int,
    message_id: str,
    reply: Reply,
    sentiment: Sentiment | None,
) -> None:
    """Store the reply's final state, every field the live view showed."""
    if not reply.done:
        raise ValueError("a reply is finished as complete, stopped or error, not streaming")
    if reply.status == ReplyStatus.ERROR and not reply.error:
        raise ValueError("a reply that ends in error needs the reason")
    failed = reply.status == ReplyStatus.ERROR
    usage = reply.usage
    values: dict[str, Any] = {
        **sentiment_columns(sentiment),
        "status": reply.status.value,
        "text": reply.text,
        "reasoning": reply.reasoning,
        "error": reply.error if failed else None,
        "error_kind": (reply.error_kind or None) if failed else None,
        "model_reason": reply.model_reason or None,
        "finish_reason": reply.finish_reason or None,
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "completion_tokens": usage.completion_tokens if usage else None,
        "cost": usage.cost if usage else None,
        "model": reply.model or None,
        "requested_model": reply.requested_model or None,
    }
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


def touch_replies(session: Session, now: datetime, replies: Sequence[tuple[int, str]]) -> int:
    """Keep the rows of replies still being produced from looking abandoned (a heartbeat)."""
    if not replies:
        return 0
    owners = sorted({owner for owner, _ in replies})
    result = _execute(
        session,
        update(m.Message)
        .where(
            m.Message.owner_id.in_(owners),
            m.Message.public_id.in_(sorted(reply for _, reply in replies)),
            m.Message.status == ReplyStatus.STREAMING.value,
        )
        .values(updated_at=now),
    )
    return result.rowcount


def recover_stale_replies(
    session: Session,
    now: datetime,
    older_than: timedelta,
    *,
    owner_id: int | None = None,
    conversation_id: str | None = None,
) -> int:
    """Mark replies whose writer stopped checkpointing as interrupted (text kept); all of
    them, or one owner's conversation's."""
    statement = update(m.Message).where(
        m.Message.status == ReplyStatus.STREAMING.value, m.Message.updated_at < now - older_than
    )
    if owner_id is not None and conversation_id is not None:
        conversation_pk = (
            select(m.Conversation.id)
            .where(m.Conversation.public_id == conversation_id, m.Conversation.owner_id == owner_id)
            .scalar_subquery()
        )
        statement = statement.where(
            m.Message.owner_id == owner_id, m.Message.conversation_id == conversation_pk
        )
    result = _execute(
        session,
        statement.values(
            status=ReplyStatus.ERROR.value,
            error=INTERRUPTED,
            error_kind=ReplyInterruptedError.__name__,
            updated_at=now,
        ),
    )
    return result.rowcount


def take_lease(session: Session, now: datetime, name: str, holder: str, ttl: timedelta) -> bool:
    statement = upsert(session, m.Lease).values(name=name, holder=holder, expires_at=now + ttl)
    taken = session.execute(
        statement.on_conflict_do_update(
            index_elements=[m.Lease.name],
            set_={"holder": holder, "expires_at": now + ttl},
            where=(m.Lease.holder == holder) | (m.Lease.expires_at < now),
        ).returning(m.Lease.holder)
    ).scalar_one_or_none()
    return taken == holder


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
    statement = upsert(session, m.Feedback).values(
        message_id=pk, owner_id=owner_id, value=value, comment=comment, created_at=now
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[m.Feedback.message_id, m.Feedback.owner_id],
            set_={"value": value, "comment": comment, "created_at": now},
        )
    )


def prune_orphan_images(session: Session) -> int:
    linked = exists().where(m.MessageImage.image_id == m.Image.id)
    return _execute(session, delete(m.Image).where(~linked)).rowcount


__all__ = [
    "INTERRUPTED",
    "NotLastReplyError",
    "checkpoint_reply",
    "finish_reply",
    "new_public_id",
    "owned_message_id",
    "prune_orphan_images",
    "recover_stale_replies",
    "resume_reply",
    "revise_turn",
    "select_version",
    "set_feedback",
    "start_turn",
    "start_turns",
    "take_lease",
    "touch_replies",
    "upsert",
]
