"""The database schema as typed SQLAlchemy 2 models.

Design choices that are not obvious from the columns:

- Every row users can name has two ids: an integer primary key (ordering, foreign keys, cheap
  joins) and a random `public_id` (uuid4 hex) that is the only id that ever leaves the store.
  Messages are ordered by their integer key, which follows insertion order on both databases.
- `messages.owner_id` repeats the conversation's owner so that every read and write of a
  message is scoped by `WHERE owner_id = :owner` in the statement itself, without a join.
- Image bytes are stored once per sha256, but access goes through `message_images`, which has
  its own `owner_id`: two users sending the same picture share storage, never access.
- A conversation is a tree: every message names its parent (the message it answers or
  follows; None for the first). Regenerating a reply or editing a message adds a sibling, so
  earlier versions are kept, never deleted. `conversations.head_id` is the newest message of
  the branch being shown; the transcript is the path from it up to the root. It is a plain
  integer, not a foreign key: a foreign key each way between two tables would make every
  insert order and every cascade ambiguous.
- Deletes cascade in the database (`ON DELETE CASCADE`), so removing an account or a
  conversation is one statement and cannot leave rows behind. Images are the exception
  (`RESTRICT` from the link table): an image is pruned only once nothing links to it.
- Times are stored in UTC and always come back timezone-aware, on SQLite too.
- PostgreSQL `text` cannot hold NUL characters, which users can paste; `UserText` escapes them
  there so every text round-trips exactly on both databases.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Escape character for NUL on PostgreSQL (a private-use code point; itself escaped when present).
_ESCAPE = "\ue000"
_UNESCAPE = re.compile(_ESCAPE + "(.)", re.DOTALL)


def escape_nul(text: str) -> str:
    """Make `text` storable in a PostgreSQL `text` column; reversed by `unescape_nul`."""
    if _ESCAPE not in text and "\x00" not in text:
        return text
    return text.replace(_ESCAPE, _ESCAPE + "1").replace("\x00", _ESCAPE + "0")


def unescape_nul(text: str) -> str:
    if _ESCAPE not in text:
        return text
    return _UNESCAPE.sub(lambda m: "\x00" if m.group(1) == "0" else _ESCAPE, text)


class UserText(TypeDecorator[str]):
    """Text that users wrote: exact round-trip on both databases, NUL characters included."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or dialect.name != "postgresql":
            return value
        return escape_nul(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or dialect.name != "postgresql":
            return value
        return unescape_nul(value)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and returned timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps given to the store must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _owner() -> Mapped[int]:
    return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class User(Base):
    __tablename__ = "users"
    #: Finds abandoned guests for the periodic purge without reading every account.
    __table_args__ = (Index("ix_users_guest_created", "is_guest", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: As the user typed it (trimmed); None for guests and single-sign-on accounts.
    username: Mapped[str | None] = mapped_column(String(64))
    #: Case-folded username: what uniqueness and sign-in compare.
    username_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_guest: Mapped[bool] = mapped_column(Boolean, default=False)
    display_name: Mapped[str | None] = mapped_column(UserText)
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Identity(Base):
    """A single-sign-on identity: (issuer, subject) is the stable key, never the e-mail."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_identities_issuer_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = _owner()
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuthSession(Base):
    """A signed-in browser: only the sha256 of its token is stored."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = _owner()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class TrustedDevice(Base):
    """A browser that signed in to an account with its password: only the sha256 of the device
    token in its cookie is stored. One browser may be trusted by several accounts."""

    __tablename__ = "trusted_devices"
    __table_args__ = (
        UniqueConstraint("token_hash", "user_id", name="uq_trusted_devices_token_user"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = _owner()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class CookieTicket(Base):
    """A one-time, short-lived order to set cookies, redeemed by the browser's own request.

    `ticket_hash` finds it; `sealed` holds the cookie values encrypted with a key derived from
    the ticket, which is never stored, so the table alone reveals no token. `bound_to` is the
    hash of the session cookie the redeeming browser must present (when it had one).
    """

    __tablename__ = "cookie_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    bound_to: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateCount(Base):
    """Hits per key (a hash of what is counted and for whom) in a fixed window."""

    __tablename__ = "rate_counts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LoginFailure(Base):
    """Recent failed sign-ins per throttling key (a hash of an account name or client key)."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_owner_updated", "owner_id", "updated_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    owner_id: Mapped[int] = _owner()
    title: Mapped[str] = mapped_column(UserText)
    #: "first_message", "model" or "user": a model-made title never replaces a user's rename.
    title_source: Mapped[str] = mapped_column(String(16))
    role_id: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(200))
    #: The message the transcript ends with (the key of a message of this conversation).
    head_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'assistant')", name="role"),
        CheckConstraint("status IN ('streaming', 'complete', 'stopped', 'error')", name="status"),
        Index("ix_messages_conversation_order", "conversation_id", "id"),
        Index("ix_messages_status_updated", "status", "updated_at"),
        Index("ix_messages_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    #: The message this one follows; None for the first. Siblings are versions of one turn.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = _owner()
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(UserText)
    reasoning: Mapped[str] = mapped_column(UserText, default="")
    status: Mapped[str] = mapped_column(String(16))
    #: The sentence the user read when status is "error".
    error: Mapped[str | None] = mapped_column(UserText)
    model: Mapped[str | None] = mapped_column(String(200))
    requested_model: Mapped[str | None] = mapped_column(String(200))
    #: Why another model answered: "" (the one asked), "vision" or "fallback".
    model_reason: Mapped[str | None] = mapped_column(String(16))
    #: The provider's finish reason of a complete reply: "stop", "length", "content_filter"...
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    #: The error's class name when status is "error" (which sentence family the user read).
    error_kind: Mapped[str | None] = mapped_column(String(64))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float | None] = mapped_column(Float)
    sentiment_compound: Mapped[float | None] = mapped_column(Float)
    sentiment_pos: Mapped[float | None] = mapped_column(Float)
    sentiment_neu: Mapped[float | None] = mapped_column(Float)
    sentiment_neg: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Image(Base):
    """Processed image bytes, stored once per content hash. Never read without a link row."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    mime: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MessageImage(Base):
    """Who may see which image: the link, not the image, carries the owner."""

    __tablename__ = "message_images"
    __table_args__ = (Index("ix_message_images_owner_image", "owner_id", "image_id"),)

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="RESTRICT"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("message_id", "owner_id", name="uq_feedback_message_owner"),
        CheckConstraint("value IN ('up', 'down')", name="value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = _owner()
    value: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str] = mapped_column(UserText, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CustomRole(Base):
    __tablename__ = "custom_roles"
    __table_args__ = (UniqueConstraint("owner_id", "slug", name="uq_custom_roles_owner_slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = _owner()
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(UserText)
    icon: Mapped[str] = mapped_column(UserText)
    description: Mapped[str] = mapped_column(UserText)
    system_prompt: Mapped[str] = mapped_column(UserText)
    starters: Mapped[list[str]] = mapped_column(JSON)
    temperature: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Lease(Base):
    """Who runs a periodic job when several processes share the database, and until when."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """A personal API key: only the sha256 of its token is stored (see `assistant.api_keys`).

    The request counter of the current one-minute window lives on the key's own row, so that
    counting a request is one update of a row the request locks anyway."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Short and public: shown in lists, part of the token, named to revoke the key.
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    owner_id: Mapped[int] = _owner()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(UserText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_requests: Mapped[int] = mapped_column(Integer, default=0)


class ApiStream(Base):
    """A reply an API key is being answered with, held until it ends or `expires_at` passes
    (its process renews it while it runs): concurrent streams per key, across replicas."""

    __tablename__ = "api_streams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiThread(Base):
    """Which stored conversation an OpenAI-style request continues: the digest of the turns
    the API answered so far (see `assistant.api_keys.thread_digest`)."""

    __tablename__ = "api_threads"
    __table_args__ = (UniqueConstraint("owner_id", "digest", name="uq_api_threads_owner_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


__all__ = [
    "ApiKey",
    "ApiStream",
    "ApiThread",
    "AuthSession",
    "Base",
    "Conversation",
    "CookieTicket",
    "CustomRole",
    "Feedback",
    "Identity",
    "Image",
    "Lease",
    "LoginFailure",
    "Message",
    "MessageImage",
    "RateCount",
    "TrustedDevice",
    "User",
    "UserText",
    "escape_nul",
    "unescape_nul",
]
