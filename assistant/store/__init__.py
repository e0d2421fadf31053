"""Saved history behind one object: `Store(url)`, SQLite file or PostgreSQL, same behaviour.

    store = Store.from_settings(settings)
    store.migrate()                                    # Alembic upgrade to head, in code
    conversation_id, message = store.add_user_message(owner_id, None, "Hi", [], "gadget", model)
    reply_id = store.start_reply(owner_id, conversation_id, model)
    store.checkpoint_reply(owner_id, reply_id, "Hel")  # as the text grows
    store.finish_reply(owner_id, reply_id, status="complete", text="Hello!")

Rules every method keeps:

- The owner is part of every statement's WHERE clause. Another user's id behaves exactly like
  an id that does not exist: `NotFoundError` (a subclass of `AssistantError` with a neutral
  sentence). The one exception is `image_bytes`, which returns None (a media lookup whose
  caller answers 404 either way).
- Conversations and messages are named by random public ids (uuid4 hex), never by row number.
- Methods return frozen records (`assistant.store.records`); no session outlives a call.
- Each call is one transaction, retried whole on lock contention (see `database`).

Module map: `database` (engine, pragmas, transactions, migrations), `models` (schema),
`records` (what callers get), `messages` (the chat write path), `conversations` (history reads,
search, images), `custom_roles`, `export`, `users` (rows behind `assistant.accounts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from assistant.errors import AssistantError
from assistant.settings import Settings
from assistant.store import conversations, custom_roles, export, messages
from assistant.store.database import Clock, Database, StoreBusyError, StoreError, utc_now
from assistant.store.records import (
    Conversation,
    ConversationDetail,
    ConversationNotFoundError,
    CustomRole,
    FeedbackValue,
    FinalStatus,
    ImageLike,
    ImageRef,
    Message,
    MessageNotFoundError,
    NotFoundError,
    RoleDraft,
    RoleInputError,
    RoleNotFoundError,
    SearchHit,
    Sentiment,
    User,
)
from assistant.store.users import AccountStore, prune_images


class Store:
    """Users' conversations, messages, images, feedback and roles in one database."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = utc_now,
        busy_timeout: float = 30.0,
        retry_budget: float = 30.0,
    ) -> None:
        """`busy_timeout`: seconds a SQLite writer waits for the lock before a retry;
        `retry_budget`: seconds all retries of one call may take before StoreBusyError."""
        self._db = Database(url, clock=clock, busy_timeout=busy_timeout, retry_budget=retry_budget)
        #: Rows behind accounts, sessions and throttling; for `assistant.accounts`.
        self.users = AccountStore(self._db)

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        return cls(settings.sqlalchemy_url)

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self._db.dialect

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        self._db.migrate()

    def close(self) -> None:
        self._db.close()

    # -- the chat write path -------------------------------------------------------------

    def add_user_message(
        self,
        owner_id: int,
        conversation_id: str | None,
        text: str,
        images: Sequence[ImageLike],
        role_id: str,
        model: str,
        sentiment: Sentiment | None = None,
    ) -> tuple[str, Message]:
        """Commit the user's message (and images, and its scores when known); creates the
        conversation when id is None."""
        return self._db.write(
            lambda s: messages.add_user_message(
                s,
                self._db.now(),
                owner_id,
                conversation_id,
                text,
                images,
                role_id,
                model,
                sentiment,
            )
        )

    def start_reply(self, owner_id: int, conversation_id: str, model: str) -> str:
        """Commit an empty assistant message with status "streaming"; returns its id."""
        return self._db.write(
            lambda s: messages.start_reply(s, self._db.now(), owner_id, conversation_id, model)
        )

    def start_turn(
        self,
        owner_id: int,
        conversation_id: str | None,
        text: str,
        images: Sequence[ImageLike],
        role_id: str,
        model: str,
        sentiment: Sentiment | None = None,
    ) -> tuple[str, Message, str]:
        """`add_user_message` and `start_reply` in one transaction (one commit, not two, before
        the model is called): returns the conversation id, the user's message and the reply id.
        """
        return self._db.write(
            lambda s: messages.start_turn(
                s,
                self._db.now(),
                owner_id,
                conversation_id,
                text,
                images,
                role_id,
                model,
                sentiment,
            )
        )

    def start_turns(
        self, turns: Sequence[messages.NextTurn]
    ) -> list[messages.TurnResult | AssistantError]:
        """Many `start_turn`s of text messages in stored conversations, in one transaction
        (see `assistant.turns`); each gets its result, or the error that stopped it alone."""
        return self._db.write(lambda s: messages.next_turns(s, self._db.now(), turns))

    def checkpoint_reply(
        self, owner_id: int, message_id: str, text: str, reasoning: str = ""
    ) -> bool:
        """Save the reply so far. False, writing nothing, once the reply is final."""
        return self._db.write(
            lambda s: messages.checkpoint_reply(
                s, self._db.now(), owner_id, message_id, text, reasoning
            )
        )

    def finish_reply(
        self,
        owner_id: int,
        message_id: str,
        *,
        status: FinalStatus,
        text: str,
        reasoning: str = "",
        error: str | None = None,
        model: str | None = None,
        requested_model: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        cost: float | None = None,
        sentiment: Sentiment | None = None,
    ) -> None:
        """Finalise a reply as complete, stopped or error (`error` is the user's sentence),
        with its scores when given, in the same write."""
        values: dict[str, Any] = {
            **messages.sentiment_columns(sentiment),
            "status": status,
            "text": text,
            "reasoning": reasoning,
            "error": error,
            "model": model,
            "requested_model": requested_model,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cost": cost,
        }
        self._db.write(
            lambda s: messages.finish_reply(s, self._db.now(), owner_id, message_id, dict(values))
        )

    def recover_stale_replies(self, older_than: timedelta) -> int:
        """Mark "streaming" replies not checkpointed for `older_than` as interrupted (error).

        For start-up and periodic upkeep: their writer has died. The partial text is kept.
        """
        return self._db.write(
            lambda s: messages.recover_stale_replies(s, self._db.now(), older_than)
        )

    def set_feedback(
        self, owner_id: int, message_id: str, value: FeedbackValue | None, comment: str = ""
    ) -> None:
        """Thumbs up or down on a message (None clears it); one per user and message."""
        self._db.write(
            lambda s: messages.set_feedback(s, self._db.now(), owner_id, message_id, value, comment)
        )

    def update_sentiment(
        self, owner_id: int, message_id: str, compound: float, pos: float, neu: float, neg: float
    ) -> None:
        self._db.write(
            lambda s: messages.update_sentiment(s, owner_id, message_id, (compound, pos, neu, neg))
        )

    # -- history ----------------------------------------------------------------------------

    def list_conversations(
        self, owner_id: int, *, limit: int = 100, offset: int = 0
    ) -> list[Conversation]:
        """The owner's conversations, most recently active first."""
        return self._db.read(lambda s: conversations.list_conversations(s, owner_id, limit, offset))

    def get_conversation(self, owner_id: int, conversation_id: str) -> ConversationDetail:
        """A conversation with its messages in order, images and feedback included."""
        return self._db.read(lambda s: conversations.get_conversation(s, owner_id, conversation_id))

    def get_message(self, owner_id: int, message_id: str) -> Message:
        return self._db.read(lambda s: conversations.get_message(s, owner_id, message_id))

    def all_messages(self, owner_id: int) -> list[tuple[Conversation, Message]]:
        """Every message of the owner with its conversation, oldest conversation first."""
        return self._db.read(lambda s: conversations.all_messages(s, owner_id))

    def rename_conversation(self, owner_id: int, conversation_id: str, title: str) -> None:
        """The user's own title; a later model-made title will not replace it."""
        self._db.write(
            lambda s: conversations.set_title(s, owner_id, conversation_id, title, "user")
        )

    def set_generated_title(self, owner_id: int, conversation_id: str, title: str) -> bool:
        """A model-made title; False when the user has already renamed the conversation."""
        return self._db.write(
            lambda s: conversations.set_title(s, owner_id, conversation_id, title, "model")
        )

    def delete_conversation(self, owner_id: int, conversation_id: str) -> None:
        """Delete it with its messages, image links and feedback."""
        self._db.write(lambda s: conversations.delete_conversation(s, owner_id, conversation_id))
        prune_images(self._db)

    def delete_message(self, owner_id: int, message_id: str) -> None:
        """Delete one message, as regenerate and edit-and-resend replace the last turn."""
        self._db.write(lambda s: messages.delete_message(s, owner_id, message_id))
        prune_images(self._db)

    def search(self, owner_id: int, query: str, *, limit: int = 50) -> list[SearchHit]:
        """Case-insensitive substring search over the owner's messages, newest first."""
        return self._db.read(lambda s: conversations.search(s, owner_id, query, limit))

    def image_bytes(self, owner_id: int, sha256: str) -> tuple[bytes, str] | None:
        """The bytes and MIME type of an image one of the owner's messages carries."""
        return self._db.read(lambda s: conversations.image_bytes(s, owner_id, sha256))

    def message_images(self, owner_id: int, message_id: str) -> tuple[ImageRef, ...]:
        return self._db.read(
            lambda s: conversations.message_images(
                s, owner_id, messages.owned_message_id(s, owner_id, message_id)
            )
        )

    # -- exports ----------------------------------------------------------------------------

    def export_markdown(self, owner_id: int, conversation_id: str) -> str:
        return export.to_markdown(self.get_conversation(owner_id, conversation_id))

    def export_json(self, owner_id: int, conversation_id: str) -> str:
        return export.to_json(self.get_conversation(owner_id, conversation_id))

    def export_csv(self, owner_id: int) -> str:
        """Every message of the owner as CSV, cells guarded against formula injection."""
        return export.to_csv(self.all_messages(owner_id))

    # -- custom roles -------------------------------------------------------------------------

    def create_role(self, owner_id: int, draft: RoleDraft) -> CustomRole:
        return self._db.write(lambda s: custom_roles.create(s, self._db.now(), owner_id, draft))

    def update_role(self, owner_id: int, slug: str, draft: RoleDraft) -> CustomRole:
        return self._db.write(
            lambda s: custom_roles.update(s, self._db.now(), owner_id, slug, draft)
        )

    def delete_role(self, owner_id: int, slug: str) -> None:
        self._db.write(lambda s: custom_roles.remove(s, owner_id, slug))

    def get_role(self, owner_id: int, slug: str) -> CustomRole:
        return self._db.read(lambda s: custom_roles.get(s, owner_id, slug))

    def list_roles(self, owner_id: int) -> list[CustomRole]:
        return self._db.read(lambda s: custom_roles.list_roles(s, owner_id))


__all__ = [
    "AccountStore",
    "Conversation",
    "ConversationDetail",
    "ConversationNotFoundError",
    "CustomRole",
    "FeedbackValue",
    "FinalStatus",
    "ImageLike",
    "ImageRef",
    "Message",
    "MessageNotFoundError",
    "NotFoundError",
    "RoleDraft",
    "RoleInputError",
    "RoleNotFoundError",
    "SearchHit",
    "Sentiment",
    "Store",
    "StoreBusyError",
    "StoreError",
    "User",
]
