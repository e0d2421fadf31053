"""Saved history behind one object: `Store(url)`, SQLite file or PostgreSQL, same behaviour.

    store = Store.from_settings(settings)
    store.migrate()                                    # Alembic upgrade to head, in code
    started = store.start_turn(NewTurn(owner_id, None, "Hi", "gadget", model))
    store.checkpoint_reply(owner_id, started.reply_id, "Hel")  # as the text grows
    store.finish_reply(owner_id, started.reply_id, reply)      # its final state

Rules every method keeps:

- The owner is part of every statement's WHERE clause. Another user's id behaves exactly like
  an id that does not exist: `NotFoundError` (a subclass of `AssistantError` with a neutral
  sentence). The one exception is `image_bytes`, which returns None (a media lookup whose
  caller answers 404 either way).
- Conversations and messages are named by random public ids (uuid4 hex), never by row number.
- Methods return frozen records (`assistant.store.records`); no session outlives a call.
- Each call is one transaction, retried whole on lock contention (see `database`, which also
  holds the dialect policy: SQLite writers queue on one lock, follow-up turns commit in groups).
- Nothing is deleted to make room for a new version: a regenerated reply or an edited message
  is a sibling of the one it replaces (see `models`), shown instead of it.

Module map: `database` (engine, pragmas, transactions, migrations), `models` (schema),
`records` (what callers get), `messages` (the chat write path), `conversations` (history reads,
search, images), `custom_roles`, `export`, `users` (rows behind `assistant.accounts`),
`browsers` (cookie tickets, trusted devices, counters), `api_keys` (rows behind
`assistant.api_keys`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from assistant.reply import Reply
from assistant.settings import Settings
from assistant.store import conversations, custom_roles, export, messages
from assistant.store.api_keys import ApiKeyStore
from assistant.store.browsers import BrowserStore
from assistant.store.database import Clock, Database, StoreBusyError, StoreError, utc_now
from assistant.store.records import (
    Conversation,
    ConversationDetail,
    ConversationNotFoundError,
    CustomRole,
    FeedbackValue,
    ImageLike,
    ImageRef,
    Message,
    MessageNotFoundError,
    NewTurn,
    NotFoundError,
    RoleDraft,
    RoleInputError,
    RoleNotFoundError,
    SearchHit,
    Sentiment,
    StartedTurn,
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
        #: Cookie tickets, trusted devices, counters; for `accounts` and `cookie_tickets`.
        self.browsers = BrowserStore(self._db)
        #: Personal API keys, the streams they hold, their threads; for `assistant.api_keys`.
        self.api_keys = ApiKeyStore(self._db)

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

    def start_turn(self, turn: NewTurn) -> StartedTurn:
        """Commit the user's message (its images, its scores) and the empty "streaming" reply
        row that will answer it, in one transaction, before any model is called.

        A text message in a stored conversation (the common case) is committed together with
        the others queued at the same moment on SQLite (see `database`)."""
        if turn.conversation_id is None or turn.images:
            return self._db.write(lambda s: messages.start_turn(s, self._db.now(), turn))
        return self._db.write_grouped(
            "start_turn", turn, lambda s, batch: messages.start_turns(s, self._db.now(), batch)
        )

    def revise_turn(
        self,
        owner_id: int,
        message_id: str,
        *,
        text: str | None,
        role_id: str,
        model: str,
        sentiment: Sentiment | None = None,
    ) -> StartedTurn:
        """A new version of a turn, in one transaction; the earlier version stays stored.

        `text` None regenerates the reply `message_id` names (or the reply to the user message
        it names); with `text`, the user message `message_id` is edited: the edited copy and a
        new empty reply become the branch the conversation shows."""
        return self._db.write(
            lambda s: messages.revise_turn(
                s, self._db.now(), owner_id, message_id, text, role_id, model, sentiment
            )
        )

    def resume_reply(self, owner_id: int, reply_id: str) -> Reply:
        """Mark the conversation's last reply, stopped or cut at the length limit, as streaming
        again so it can be continued; returns it as it was stored."""
        return self._db.write(
            lambda s: messages.resume_reply(s, self._db.now(), owner_id, reply_id)
        )

    def select_version(self, owner_id: int, message_id: str) -> str:
        """Show the branch through this version of a turn; returns the conversation's id."""
        return self._db.write(lambda s: messages.select_version(s, owner_id, message_id))

    def checkpoint_reply(
        self, owner_id: int, message_id: str, text: str, reasoning: str = "", *, wait: bool = True
    ) -> bool:
        """Save the reply so far; False, writing nothing, once the reply is final or (with
        `wait=False`) when another write of this process holds the database."""
        work = lambda s: messages.checkpoint_reply(  # noqa: E731
            s, self._db.now(), owner_id, message_id, text, reasoning
        )
        if wait:
            return self._db.write(work)
        written, result = self._db.try_write(work)
        return bool(written and result)

    def checkpoint_replies(self, replies: Sequence[tuple[int, str, str, str]]) -> int:
        """Save the text so far of several replies, as (owner id, reply id, text, reasoning),
        in one transaction: one commit for every reply a process is streaming. Replies already
        final, or not the owner's, are left as they are; returns how many were saved."""
        if not replies:
            return 0
        return self._db.write(lambda s: messages.checkpoint_replies(s, self._db.now(), replies))

    def finish_reply(
        self, owner_id: int, message_id: str, reply: Reply, sentiment: Sentiment | None = None
    ) -> None:
        """Store the reply's final state (complete, stopped or error) with every field the live
        view showed, and its scores, in one write."""
        if not reply.done:
            raise ValueError("a reply is finished as complete, stopped or error, not streaming")
        self._db.write(
            lambda s: messages.finish_reply(
                s, self._db.now(), owner_id, message_id, reply, sentiment
            )
        )

    def touch_replies(self, replies: Sequence[tuple[int, str]]) -> int:
        """Heartbeat of replies this process is producing, as (owner id, reply id) pairs."""
        return self._db.write(lambda s: messages.touch_replies(s, self._db.now(), replies))

    def reply_context(
        self, owner_id: int, reply_id: str, *, through_reply: bool = False
    ) -> list[Message]:
        """The messages a reply answers, oldest first (and the reply, `through_reply`)."""
        return self._db.read(
            lambda s: conversations.reply_context(s, owner_id, reply_id, through_reply)
        )

    def recover_stale_replies(
        self,
        older_than: timedelta,
        *,
        owner_id: int | None = None,
        conversation_id: str | None = None,
    ) -> int:
        """Mark "streaming" replies not checkpointed for `older_than` as interrupted (error):
        their writer has died. The partial text is kept. All of them, or those of one
        owner's conversation."""
        return self._db.write(
            lambda s: messages.recover_stale_replies(
                s,
                self._db.now(),
                older_than,
                owner_id=owner_id,
                conversation_id=conversation_id,
            )
        )

    def take_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Hold the lease `name` for `ttl` if it is free, expired or already `holder`'s."""
        return self._db.write(lambda s: messages.take_lease(s, self._db.now(), name, holder, ttl))

    def set_feedback(
        self, owner_id: int, message_id: str, value: FeedbackValue | None, comment: str = ""
    ) -> None:
        """Thumbs up or down on a message (None clears it); one per user and message."""
        self._db.write(
            lambda s: messages.set_feedback(s, self._db.now(), owner_id, message_id, value, comment)
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

    def set_conversation_choice(
        self, owner_id: int, conversation_id: str, role_id: str, model: str
    ) -> None:
        """The role and model the conversation goes on with (picked before its next turn)."""
        self._db.write(
            lambda s: conversations.set_choice(s, owner_id, conversation_id, role_id, model)
        )

    def delete_conversation(self, owner_id: int, conversation_id: str) -> None:
        """Delete it with its messages, image links and feedback."""
        self._db.write(lambda s: conversations.delete_conversation(s, owner_id, conversation_id))
        prune_images(self._db)
        self._db.forget_deleted()

    def search(self, owner_id: int, query: str, *, limit: int = 50) -> list[SearchHit]:
        """Case-insensitive substring search over the owner's messages, newest first."""
        return self._db.read(lambda s: conversations.search(s, owner_id, query, limit))

    def image_bytes(self, owner_id: int, sha256: str) -> tuple[bytes, str] | None:
        """The bytes and MIME type of an image one of the owner's messages carries."""
        return self._db.read(lambda s: conversations.image_bytes(s, owner_id, sha256))

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
    "ImageLike",
    "ImageRef",
    "Message",
    "MessageNotFoundError",
    "NewTurn",
    "NotFoundError",
    "RoleDraft",
    "RoleInputError",
    "RoleNotFoundError",
    "SearchHit",
    "Sentiment",
    "StartedTurn",
    "Store",
    "StoreBusyError",
    "StoreError",
    "User",
]
