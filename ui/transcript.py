"""Drawing finished messages: bubbles, inline images, reasoning, footers and actions."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from assistant.reply import ERROR, STOPPED, STREAMING, Reply
from assistant.safe_markdown import make_safe
from assistant.sentiment.card import analysis_or_fallback, parse_analysis
from ui import state
from ui.state import ChatMessage

AVATARS = {"user": ":material/person:", "assistant": ":material/smart_toy:"}
FeedbackSink = Callable[[ChatMessage, str | None], None]
_THUMBS = {0: "down", 1: "up"}
_RATED = {
    "up": ":material/thumb_up: rated helpful",
    "down": ":material/thumb_down: rated unhelpful",
}


def model_badge(reply: Reply) -> str:
    if not reply.model:
        return ""
    if reply.model_reason == "vision":
        return f":violet-badge[{reply.model} · reads images]"
    if reply.model_reason == "fallback":
        return f":orange-badge[{reply.model} · fallback for {reply.requested_model}]"
    return f":gray-badge[{reply.model}]"


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
    if reply.status == STOPPED:
        st.caption(":material/stop_circle: Stopped. The text above is what arrived before.")
    elif reply.status == ERROR:
        st.error(reply.error, icon=":material/error:")
    elif reply.status == STREAMING:
        st.caption(":material/hourglass_empty: This reply did not finish.")


def draw_reasoning(text: str) -> None:
    if text:
        with st.expander("Reasoning", icon=":material/psychology:"):
            st.markdown(make_safe(text))


def draw_analysis(message: ChatMessage, user_text: str) -> None:
    from ui.analysis_card import draw_analysis_card

    analysis = analysis_or_fallback(message.text or None, user_text)
    draw_analysis_card(analysis, key=f"analysis_{message.id or id(message)}")


def draw_reply_footer(
    message: ChatMessage, *, last: bool, user_text: str, on_feedback: FeedbackSink | None
) -> None:
    reply = message.reply
    assert reply is not None
    if message.structured and reply.status != ERROR and (message.text or user_text):
        draw_analysis(message, user_text)
    draw_status(reply)
    footer = footer_text(reply)
    if not last and message.feedback:  # its thumbs are in the "More" menu
        footer += f"  {_RATED[message.feedback]}"
    if footer:
        st.caption(footer)
    draw_actions(message, last=last, on_feedback=on_feedback)


def draw_message(
    message: ChatMessage, *, last: bool, user_text: str, on_feedback: FeedbackSink | None
) -> None:
    with st.chat_message(message.role, avatar=AVATARS[message.role]):
        if message.reply is not None:
            draw_reasoning(message.reply.reasoning)
        structured_json = message.structured and parse_analysis(message.text) is not None
        if message.text and not structured_json:
            st.markdown(make_safe(message.text))
        if message.images:
            st.image([image.data for image in message.images], width=220)
        if message.reply is not None:
            draw_reply_footer(message, last=last, user_text=user_text, on_feedback=on_feedback)


def _draw_thumbs(message: ChatMessage, on_feedback: FeedbackSink | None) -> None:
    reply = message.reply
    if on_feedback is None or not message.id or reply is None or reply.status == ERROR:
        return
    default = {"down": 0, "up": 1}.get(message.feedback or "")
    value = st.feedback("thumbs", key=f"feedback_{message.id}", default=default)
    chosen = _THUMBS.get(value) if value is not None else None
    if chosen != message.feedback:
        on_feedback(message, chosen)


def _draw_copy_text(container: DeltaGenerator, message: ChatMessage) -> None:
    container.code(message.text or " ", language="markdown", wrap_lines=True)


def draw_actions(message: ChatMessage, *, last: bool, on_feedback: FeedbackSink | None) -> None:
    """The last reply gets its actions in a row; older ones get one "More" menu holding thumbs
    and Copy. Every widget costs each idle session memory for as long as it is drawn (about
    0.8 kB each, bench/bench_app.py): two per reply were a fifth of a session with 20 messages.
    Menus draw their content only while open, or every bubble would send its text twice."""
    reply = message.reply
    assert reply is not None
    key = message.id or str(id(message))
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        if not last:
            more = st.popover(
                "More",
                icon=":material/more_horiz:",
                type="tertiary",
                on_change="rerun",
                key=f"more_{key}",
                help="Copy or rate this reply",
            )
            if more.open:
                with more:
                    _draw_thumbs(message, on_feedback)
                    _draw_copy_text(more, message)
            return
        _draw_thumbs(message, on_feedback)
        copy = st.popover(
            "Copy",
            icon=":material/content_copy:",
            type="tertiary",
            on_change="rerun",
            key=f"copy_{key}",
        )
        if copy.open:
            _draw_copy_text(copy, message)
        failed = reply.status == ERROR
        st.button(
            "Retry" if failed else "Regenerate",
            icon=":material/refresh:",
            key="retry" if failed else "regenerate",
            type="tertiary",
            on_click=state.queue_action,
            args=("regenerate",),
        )
        st.button(
            "Edit",
            icon=":material/edit:",
            key="edit",
            type="tertiary",
            help="Edit your last message and send it again",
            on_click=st.session_state.__setitem__,
            args=(state.EDITING, True),
        )


def draw_transcript(messages: list[ChatMessage], on_feedback: FeedbackSink | None) -> None:
    shown = st.session_state[state.SHOW_EARLIER]
    hidden = max(0, len(messages) - shown)
    if hidden:
        st.button(
            f"Show {min(hidden, state.VISIBLE_MESSAGES)} earlier messages ({hidden} hidden)",
            icon=":material/expand_less:",
            key="show_earlier_button",
            on_click=st.session_state.__setitem__,
            args=(state.SHOW_EARLIER, shown + state.VISIBLE_MESSAGES),
        )
    last_reply = max((i for i, m in enumerate(messages) if m.reply is not None), default=-1)
    user_text = ""
    for index in range(len(messages)):
        message = messages[index]
        if message.role == "user":
            user_text = message.text
        if index < hidden:
            continue
        is_last = index == last_reply == len(messages) - 1
        draw_message(message, last=is_last, user_text=user_text, on_feedback=on_feedback)
