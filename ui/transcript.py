"""Drawing the conversation: bubbles, inline images, reasoning, versions, footers and actions.

Replies still being produced are drawn as live bubbles (`ui.live`) that the page then follows;
everything else is drawn once per run. Every widget costs each idle session memory for as long
as it is drawn, so older replies keep their thumbs and the rest in one "More" menu whose
contents are drawn only while it is open.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import streamlit as st

from assistant.errors import AssistantError
from assistant.reply import Reply, ReplyStatus
from assistant.safe_markdown import make_safe
from assistant.sentiment.card import analysis_or_fallback, parse_analysis
from ui import browser, state
from ui.chat_actions import Chat
from ui.live import LiveReply, StoredReply
from ui.state import ChatMessage

AVATARS = {"user": ":material/person:", "assistant": ":material/smart_toy:"}
FeedbackSink = Callable[[ChatMessage, str | None], None]
_THUMBS = {0: "down", 1: "up"}
RATED = {
    "up": ":material/thumb_up: rated helpful",
    "down": ":material/thumb_down: rated unhelpful",
}


def model_badge(reply: Reply) -> str:
    if not reply.model:
        return ""
    if reply.model_reason == "vision":
        return f":violet-badge[{make_safe(reply.model)} · reads images]"
    if reply.model_reason == "fallback":
        return (
            f":orange-badge[{make_safe(reply.model)} · fallback for "
            f"{make_safe(reply.requested_model)}]"
        )
    return f":gray-badge[{make_safe(reply.model)}]"


def footer_text(reply: Reply) -> str:
    parts = [model_badge(reply)]
    if reply.usage is not None:
        tokens = f"{reply.usage.prompt_tokens:,} in · {reply.usage.completion_tokens:,} out"
        if reply.usage.cost is not None:
            tokens += f" · ${reply.usage.cost:.5f}"
        parts.append(tokens)
    if reply.finish_reason == "length":
        parts.append(":orange[cut at the maximum length]")
    elif reply.finish_reason == "content_filter":
        parts.append(":orange[cut by the provider's content filter]")
    return "  ".join(p for p in parts if p)


def draw_status(reply: Reply) -> None:
    """Stopped and failed replies say so under whatever text had arrived."""
    if reply.status == ReplyStatus.STOPPED:
        st.caption(":material/stop_circle: Stopped. The text above is what arrived before.")
    elif reply.status == ReplyStatus.ERROR:
        st.error(make_safe(reply.error), icon=":material/error:")
    elif reply.status == ReplyStatus.STREAMING:
        st.caption(":material/hourglass_empty: This reply did not finish.")


def draw_reasoning(text: str) -> None:
    if text:
        with st.expander("Reasoning", icon=":material/psychology:"):
            st.markdown(make_safe(text))


def draw_analysis(message: ChatMessage, user_text: str) -> None:
    from ui.analysis_card import draw_analysis_card

    analysis = analysis_or_fallback(message.text or None, user_text)
    draw_analysis_card(analysis, key=f"analysis_{message.id or id(message)}")


def _versions(message: ChatMessage) -> None:
    """‹ 2/3 › between the versions of a turn (regenerated replies, edited messages)."""
    position, count = message.version
    if count < 2:
        return
    with st.container(horizontal=True, gap=None, vertical_alignment="center", width="content"):
        st.button(
            "‹",
            key=f"older_{message.id}",
            type="tertiary",
            disabled=position == 1,
            help="Earlier version",
            on_click=state.queue_action,
            args=("version", message.versions[position - 2] if position > 1 else message.id),
        )
        st.caption(f"{position:d}/{count:d}", width="content")
        st.button(
            "›",
            key=f"newer_{message.id}",
            type="tertiary",
            disabled=position == count,
            help="Later version",
            on_click=state.queue_action,
            args=("version", message.versions[position] if position < count else message.id),
        )


def _draw_thumbs(message: ChatMessage, chat: Chat) -> None:
    reply = message.reply
    if not message.id or reply is None or reply.status == ReplyStatus.ERROR:
        return
    default = {"down": 0, "up": 1}.get(message.feedback or "")
    value = st.feedback("thumbs", key=f"feedback_{message.id}", default=default)
    chosen = _THUMBS.get(value) if value is not None else None
    if chosen != message.feedback:
        chat.feedback(message, chosen)


def draw_actions(message: ChatMessage, chat: Chat, *, last: bool) -> None:
    """The last reply gets its actions in a row; older ones get one "More" menu."""
    reply = message.reply
    assert reply is not None
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        _versions(message)
        if not last:
            more = st.popover(
                "More",
                icon=":material/more_horiz:",
                type="tertiary",
                on_change="rerun",
                key=f"more_{message.id}",
                help="Rate this reply, or answer again",
            )
            if message.text:
                browser.copy_button(message.id)
            if more.open:
                with more:
                    _draw_thumbs(message, chat)
                    st.button(
                        "Regenerate",
                        icon=":material/refresh:",
                        key=f"regenerate_{message.id}",
                        type="tertiary",
                        on_click=state.queue_action,
                        args=("regenerate", message.id),
                    )
            return
        _draw_thumbs(message, chat)
        if message.text:
            browser.copy_button(message.id)
        failed = reply.status == ReplyStatus.ERROR
        st.button(
            "Retry" if failed else "Regenerate",
            icon=":material/refresh:",
            key="retry" if failed else "regenerate",
            type="tertiary",
            on_click=state.queue_action,
            args=("regenerate", message.id),
        )
        if reply.can_continue:
            st.button(
                "Continue",
                icon=":material/play_arrow:",
                key="continue",
                type="tertiary",
                help="Ask the model to carry on from where the reply ended",
                on_click=state.queue_action,
                args=("continue", message.id),
            )


def draw_reply_footer(message: ChatMessage, chat: Chat, *, last: bool, user_text: str) -> None:
    reply = message.reply
    assert reply is not None
    if message.structured and reply.status != ReplyStatus.ERROR and (message.text or user_text):
        draw_analysis(message, user_text)
    draw_status(reply)
    footer = footer_text(reply)
    if not last and message.feedback:  # its thumbs are in the "More" menu
        footer += f"  {RATED[message.feedback]}"
    if footer:
        st.caption(footer)
    draw_actions(message, chat, last=last)


def stop_button(message: ChatMessage) -> None:
    st.button(
        "Stop",
        icon=":material/stop_circle:",
        key=f"stop_{message.id}",
        help="Stop the reply being written; what arrived is kept",
        on_click=state.queue_action,
        args=("stop", message.id),
    )


def _answer(message: ChatMessage) -> None:
    """The reply's text, in a container the page's copy button finds (`ui.browser`)."""
    structured_json = message.structured and parse_analysis(message.text) is not None
    if message.text and not structured_json:
        with st.container(key=f"answer-{message.id}"):
            st.markdown(make_safe(message.text))


def _edit_form(message: ChatMessage) -> None:
    with st.form(f"edit_{message.id}"):
        st.text_area("Edit your message", key=state.EDITED_TEXT, height=120)
        send, cancel = st.columns(2)
        send.form_submit_button(
            "Send", icon=":material/send:", type="primary", on_click=state.queue_edit
        )
        cancel.form_submit_button("Cancel", on_click=state.stop_editing)


def _user_bubble(message: ChatMessage, *, editable: bool) -> None:
    with st.chat_message("user", avatar=AVATARS["user"]):
        if message.id and st.session_state[state.EDITING_MESSAGE] == message.id:
            _edit_form(message)
            return
        with st.container(key=f"question-{message.id or id(message)}"):
            if message.text:
                st.markdown(make_safe(message.text))
            if message.images:
                st.image([image.data for image in message.images], width=220)
        if not editable and message.version[1] < 2:
            return
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            _versions(message)
            if editable:
                st.button(
                    "Edit",
                    icon=":material/edit:",
                    key=f"edit_{message.id}",
                    type="tertiary",
                    help="Edit this message and send it again",
                    on_click=state.start_editing,
                    args=(message.id, message.text),
                )


def draw_transcript(messages: list[ChatMessage], chat: Chat) -> list[LiveReply]:
    """Draw the conversation; returns the replies still streaming, for the page to follow."""
    shown = st.session_state[state.SHOW_EARLIER]
    hidden = max(0, len(messages) - shown)
    if hidden:
        st.button(
            f"Show {min(hidden, state.VISIBLE_MESSAGES):d} earlier messages ({hidden:d} hidden)",
            icon=":material/expand_less:",
            key="show_earlier_button",
            on_click=st.session_state.__setitem__,
            args=(state.SHOW_EARLIER, shown + state.VISIBLE_MESSAGES),
        )
    last_reply = max((i for i, m in enumerate(messages) if m.reply is not None), default=-1)
    live: list[LiveReply] = []
    user_text = ""
    for index, message in enumerate(messages):
        if message.role == "user":
            user_text = message.text
        if index < hidden:
            continue
        if message.reply is None:
            _user_bubble(message, editable=bool(message.id))
            continue
        is_last = index == last_reply == len(messages) - 1
        question = user_text
        with st.chat_message("assistant", avatar=AVATARS["assistant"]):
            if message.reply.status == ReplyStatus.STREAMING:
                source = chat.running(message.id) or _remote(chat, message)
                if source is not None:
                    at_end = partial(_footer_of, chat, last=is_last, user_text=question)
                    live.append(LiveReply(message, source, draw_footer=at_end))
                    continue
            draw_reasoning(message.reply.reasoning)
            _answer(message)
            draw_reply_footer(message, chat, last=is_last, user_text=question)
    return live


def _footer_of(chat: Chat, message: ChatMessage, *, last: bool, user_text: str) -> None:
    draw_reply_footer(message, chat, last=last, user_text=user_text)


def _remote(chat: Chat, message: ChatMessage) -> StoredReply | None:
    """A reply another process is still producing: followed by reading the store."""
    try:
        return StoredReply(chat.app.store, chat.user.id, message.id)
    except AssistantError:  # gone meanwhile (deleted in another tab)
        return None


__all__ = ["AVATARS", "draw_reply_footer", "draw_transcript", "footer_text", "model_badge"]
