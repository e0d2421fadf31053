"""What the store hands out: small frozen dataclasses, never live ORM objects.

Callers never hold a database session, so nothing can lazy-load later, leak across threads or
be written back by accident. Ids in records are the random public ids, except `User.id`, which
never comes from a browser (it is looked up from a session token) and stays an integer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from assistant.errors import AssistantError, InputError
from assistant.reply import ReplyStatus

MessageRole = Literal["user", "assistant"]
FeedbackValue = Literal["up", "down"]


class NotFoundError(AssistantError):
    """The thing does not exist, or belongs to someone else: the two are indistinguishable."""

    sentence = "That item was not found. It may have been deleted."


class ConversationNotFoundError(NotFoundError):
    sentence = "That conversation was not found. It may have been deleted."


class MessageNotFoundError(NotFoundError):
    sentence = "That message was not found. It may have been deleted."


class RoleNotFoundError(NotFoundError):
    sentence = "That role was not found. It may have been deleted."


class RoleInputError(InputError):
    sentence = "That role cannot be saved."


class ImageLike(Protocol):
    """What the store needs of an image (`assistant.images.PreparedImage` fits)."""

    @property
    def data(self) -> bytes: ...
    @property
    def mime(self) -> str: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def sha256(self) -> str: ...


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str | None
    display_name: str | None
    email: str | None
    is_guest: bool
    created_at: datetime

    @property
    def label(self) -> str:
        return self.display_name or self.username or ("Guest" if self.is_guest else "User")

    @property
    def is_saved(self) -> bool:
        """False for a guest who has not written anything yet (`unsaved_guest`): no row."""
        return self.id != UNSAVED_ID


#: The id of a guest with no row yet. No row has it (ids start at 1 on both databases), so
#: every owner-scoped read for it finds nothing.
UNSAVED_ID = 0


def unsaved_guest(now: datetime) -> User:
    """A guest who costs nothing: saved (`Accounts.start_guest`) at their first message."""
    return User(UNSAVED_ID, None, None, None, is_guest=True, created_at=now)


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image attached to a message; fetch its bytes with `Store.image_bytes`."""

    sha256: str
    mime: str
    width: int
    height: int
    size: int


@dataclass(frozen=True, slots=True)
class Sentiment:
    compound: float
    pos: float
    neu: float
    neg: float


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    role: MessageRole
    text: str
    status: ReplyStatus
    created_at: datetime
    updated_at: datetime
    #: The message this one follows (None for the first); siblings are versions of one turn.
    parent_id: str | None = None
    reasoning: str = ""
    error: str | None = None
    error_kind: str | None = None
    model: str | None = None
    requested_model: str | None = None
    model_reason: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    sentiment: Sentiment | None = None
    images: tuple[ImageRef, ...] = ()
    feedback: FeedbackValue | None = None
    #: An earlier version of its turn: not on the branch the conversation shows.
    superseded: bool = False

    @property
    def is_streaming(self) -> bool:
        """Still being written, or its writer died (see `Store.recover_stale_replies`)."""
        return self.status == "streaming"


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    title: str
    title_source: str
    role_id: str
    model: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ConversationDetail:
    """A conversation as shown: the branch ending at its head, oldest first.

    `versions` names, for each shown message that has siblings, every version of that turn
    (its own id included) oldest first; `earlier` holds the messages of the branches not
    shown (earlier versions), oldest first, for exports and charts.
    """

    conversation: Conversation
    messages: tuple[Message, ...]
    versions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    earlier: tuple[Message, ...] = ()

    def version_of(self, message_id: str) -> tuple[int, int]:
        """(1-based position, count) of a shown message among its turn's versions."""
        siblings = self.versions.get(message_id)
        if not siblings:
            return 1, 1
        return siblings.index(message_id) + 1, len(siblings)


@dataclass(frozen=True, slots=True)
class NewTurn:
    """A user's message to store with the empty reply row that will answer it.

    `conversation_id` None starts a conversation. The message follows the conversation's head
    (the end of the branch shown).
    """

    owner_id: int
    conversation_id: str | None
    text: str
    role_id: str
    model: str
    images: Sequence[ImageLike] = ()
    sentiment: Sentiment | None = None


@dataclass(frozen=True, slots=True)
class StartedTurn:
    """What `Store.start_turn` and `Store.revise_turn` committed."""

    conversation_id: str
    #: The user's message: the new one, or for a regenerated reply the one it answers.
    message: Message
    reply_id: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    conversation_id: str
    conversation_title: str
    message_id: str
    role: MessageRole
    snippet: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RoleDraft:
    """The editable fields of a custom role, as a form submits them."""

    name: str
    system_prompt: str
    icon: str = "🧩"
    description: str = ""
    starters: Sequence[str] = ()
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class CustomRole:
    slug: str
    name: str
    icon: str
    description: str
    system_prompt: str
    starters: tuple[str, ...]
    temperature: float | None
    created_at: datetime
    updated_at: datetime

    @property
    def role_id(self) -> str:
        """The id a conversation stores; the prefix keeps it apart from built-in role ids."""
        return f"custom:{self.slug}"


__all__ = [
    "UNSAVED_ID",
    "Conversation",
    "ConversationDetail",
    "ConversationNotFoundError",
    "CustomRole",
    "FeedbackValue",
    "ImageLike",
    "ImageRef",
    "Message",
    "MessageNotFoundError",
    "MessageRole",
    "NewTurn",
    "NotFoundError",
    "RoleDraft",
    "RoleInputError",
    "RoleNotFoundError",
    "SearchHit",
    "Sentiment",
    "StartedTurn",
    "User",
    "unsaved_guest",
]
