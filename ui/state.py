"""Every session-state key, its default, and `init()`: the only place pages learn state names.

Values are per browser session. Nothing per user goes into module globals or st.cache_*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from assistant.images import PreparedImage
from assistant.reply import Reply

# Keys
MESSAGES = "messages"  # list[ChatMessage]: the conversation as shown (its current branch)
CONVERSATION_ID = "conversation_id"  # the stored conversation being shown ("" = a new one)
CHATS = "chats"  # the sidebar's list of this person's conversations (a `ChatList`), or absent
ROLE_ID = "role_id"  # the active role's id (the role picker's widget key)
MODEL_ID = "model_id"  # the model the user picked ("" = the default)
MODEL_MENU = "model_menu"  # the sidebar's model menu, a popover (a widget key: open or not)
MODEL_PICKER = "model_picker"  # the select box in that menu (a widget key)
MODEL_TYPED = "model_typed"  # the "type a model id" box when there is no catalogue (widget key)
PENDING_IMAGES = "pending_images"  # list[PreparedImage] attached from the sidebar
UPLOADER_NONCE = "uploader_nonce"  # bumped to clear the sidebar uploader after sending
SHOW_EARLIER = "show_earlier"  # how many messages the transcript shows
ACTION = "action"  # a queued request from a button: ("send", text) / ("regenerate", id) / ...
EDITING_MESSAGE = "editing"  # the id of the user message being edited ("" = none)
EDITED_TEXT = "edited_text"  # the edit box's text area
NOTICE = "notice"  # one-off sentences to show above the input (e.g. a rejected upload)
PREPARED_UPLOADS = "prepared_uploads"  # upload id -> PreparedImage | refusal sentence
SCROLL = "scroll"  # bumped when the newest exchange should be scrolled into view
SCROLLED = "scrolled"  # the SCROLL value the page last scrolled for (see ui.browser)
HELPERS_INSTALLED = "helpers_installed"  # the page's copy listener is in place (ui.browser)
RETURNED = "returned_text"  # a message refused as too long, given back to shorten ("" = none)
RETURNED_BOX = "returned_box"  # the text area that holds it (a widget key)
CHAT_BOX = "chat_box"  # the chat input (a widget key: one widget whatever its placeholder)
TOKEN = "session_token"  # this browser's session token (the cookie's, once delivered)
BROWSER_TOKEN = "browser_token"  # the session cookie the browser holds now, as far as we know
DEVICE_TOKEN = "device_token"  # this browser's device cookie after a sign-in in this session
COOKIE_TICKET = "cookie_ticket"  # (ticket, Cookies, n) still to hand to the browser, or absent
USER_ID = "user_id"  # whose data this session shows; a change clears the transcript
USER = "user"  # the User record, refreshed every run

# Other pages
FLASH = "flash"  # (kind, sentence) to show once after an action's st.rerun(), or absent
HISTORY_RENAMING = "history_renaming"  # conversation whose title is being edited ("" = none)
HISTORY_DELETING = "history_deleting"  # conversation awaiting "Confirm delete" ("" = none)
HISTORY_SHOWN = "history_shown"  # how many conversations the History list shows
HISTORY_SEARCH = "history_search"  # the History search box (a widget key)
ROLES_EDITING = "roles_editing"  # None: the list; "": a new role; a slug: that role
ROLES_TEMPLATE = "roles_template"  # the built-in role id a new role starts from ("" = blank)
ROLES_DELETING = "roles_deleting"  # slug of the role awaiting "Confirm delete" ("" = none)
ROLES_TEMPLATE_CHOICE = "roles_template_choice"  # the "Start from" select box (a widget key)
BATCH_RESULT = "batch_result"  # the last scored batch table (see pages/batch.py)
API_KEY_REVOKING = "api_key_revoking"  # id of the API key awaiting "Confirm revoke" ("" = none)

VISIBLE_MESSAGES = 20  # the last 10 exchanges; older turns behind "show earlier messages"
HISTORY_PAGE_SIZE = 50  # conversations per page of the History list


@dataclass(slots=True)
class ChatMessage:
    role: str  # "user" or "assistant"
    text: str = ""
    images: Sequence[PreparedImage] = ()  # a shared empty tuple: most messages have none
    reply: Reply | None = None  # for assistant messages: status, model, usage, error
    id: str = ""  # the stored message's id
    structured: str = ""  # "sentiment" when the reply carries a structured analysis
    feedback: str | None = None  # "up" / "down" from the thumbs under a reply
    #: Every version of this turn (ids, oldest first) when there is more than one.
    versions: tuple[str, ...] = field(default=())

    @property
    def version(self) -> tuple[int, int]:
        """(1-based position, count) among the turn's versions."""
        if not self.versions:
            return 1, 1
        return self.versions.index(self.id) + 1, len(self.versions)


DEFAULTS: dict[str, Any] = {
    MESSAGES: list,
    CONVERSATION_ID: lambda: "",
    ROLE_ID: lambda: "",
    MODEL_ID: lambda: "",
    PENDING_IMAGES: list,
    UPLOADER_NONCE: lambda: 0,
    SHOW_EARLIER: lambda: VISIBLE_MESSAGES,
    ACTION: lambda: None,
    EDITING_MESSAGE: lambda: "",
    NOTICE: list,
    PREPARED_UPLOADS: dict,
    SCROLL: lambda: 0,
    RETURNED: lambda: "",
    HISTORY_RENAMING: lambda: "",
    HISTORY_DELETING: lambda: "",
    HISTORY_SHOWN: lambda: HISTORY_PAGE_SIZE,
    ROLES_EDITING: lambda: None,
    ROLES_TEMPLATE: lambda: "",
    ROLES_DELETING: lambda: "",
    API_KEY_REVOKING: lambda: "",
}


def init() -> None:
    """Give every key its default once per session (factories so lists are never shared)."""
    for key, factory in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = factory()


def messages() -> list[ChatMessage]:
    messages: list[ChatMessage] = st.session_state[MESSAGES]
    return messages


def queue_action(*action: Any) -> None:
    """Widget callbacks only set state; the page acts on it during the run."""
    st.session_state[ACTION] = action


def take_action() -> tuple[Any, ...] | None:
    action = st.session_state[ACTION]
    st.session_state[ACTION] = None
    return action if action is None else tuple(action)


def notify(sentence: str) -> None:
    """A sentence to show once above the input (a refusal, a failure)."""
    st.session_state[NOTICE].append(sentence)


def new_chat() -> None:
    st.session_state[MESSAGES] = []
    st.session_state[CONVERSATION_ID] = ""
    st.query_params.pop("c", None)
    st.session_state[PENDING_IMAGES] = []
    st.session_state[UPLOADER_NONCE] += 1
    st.session_state[SHOW_EARLIER] = VISIBLE_MESSAGES
    st.session_state[EDITING_MESSAGE] = ""


def start_editing(message_id: str, text: str) -> None:
    st.session_state[EDITING_MESSAGE] = message_id
    st.session_state[EDITED_TEXT] = text


def stop_editing() -> None:
    st.session_state[EDITING_MESSAGE] = ""


def queue_edit() -> None:
    """The edit form's Send: resend the edited text in place of the message being edited."""
    queue_action("edit", st.session_state[EDITING_MESSAGE], st.session_state.get(EDITED_TEXT, ""))
    stop_editing()


def scroll_to_newest() -> None:
    st.session_state[SCROLL] += 1
