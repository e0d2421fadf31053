"""The Sentiment page's parts: what to chart (scope, records) and how (overview, tables).

Scores stored with each message are used as they are; messages without them (older rows) are
scored by `turn_frame`. Everything is read through the store with the current user's id.

A conversation that is gone (deleted meanwhile, or another user's: the store does not tell the
two apart) simply leaves nothing to chart. Any other failure, such as the database being
unreachable, is said as it is, with the error's own sentence, and logged once with its detail:
"nothing to chart yet" would tell someone whose history is intact that it is empty.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandas as pd
import streamlit as st

from assistant.errors import AssistantError
from assistant.roles import builtin_roles
from assistant.sentiment import statistics
from assistant.sentiment.batch import to_csv_bytes
from assistant.store import Conversation, Message, NotFoundError, Store, User
from ui import charts, failures

CURRENT, ALL = "", "*all*"
CHART = {"displayModeBar": False}
TABLE_TEXT_CHARS = 200
SCORE = st.column_config.NumberColumn(format="%+.2f")
ATTENTION = {"turn": "Turn", "reason": "Why", "text": "Message", "compound": "Score"}
DROPS = {"turn": "Reply turn", "reply": "Reply", "feedback": "Feedback"}
DROPS |= {"user_text": "User's next message", "user_compound": "Its score", "change": "Change"}
TURNS = {"turn": "Turn", "speaker": "Who", "compound": "Score", "label": "Label"}
TURNS |= {"feedback": "Feedback", "text": "Message"}


def record(conversation: Conversation, message: Message) -> dict[str, Any]:
    scores = asdict(message.sentiment) if message.sentiment else {}  # none: scored on the fly
    return {
        **scores,
        "role": message.role,
        "text": message.text,
        "created_at": message.created_at,
        "message_id": message.id,
        "conversation_id": conversation.id,
        "role_id": conversation.role_id,
        "feedback": message.feedback,
    }


def load(store: Store, user: User, scope: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Records of the chosen scope and the titles of their conversations. Failed replies with
    no text are left out: there is nothing in them to score."""
    if scope == ALL:
        pairs = store.all_messages(user.id)
    else:
        detail = store.get_conversation(user.id, scope)
        pairs = [(detail.conversation, message) for message in detail.messages]
    kept = [(c, m) for c, m in pairs if m.role == "user" or m.text.strip()]
    return [record(c, m) for c, m in kept], {c.id: c.title for c, _ in kept}


def read_records(
    store: Store, user: User, current: str
) -> tuple[list[dict[str, Any]], dict[str, str]] | None:
    """The records and titles of the scope the user picks (`current` is the chat's
    conversation): empty when there is nothing to chart, None when reading failed (shown and
    logged here)."""
    try:
        scope = choose_scope(store, user, current)
        return load(store, user, scope) if scope else ([], {})
    except NotFoundError:
        return [], {}
    except AssistantError as error:  # the store failed: say so (logged once, by `show`)
        failures.show(error, icon=":material/cloud_off:")
        return None


def choose_scope(store: Store, user: User, current: str) -> str:
    if user.is_guest:
        st.caption("Sign in to chart your other conversations, or all of them together.")
        return current
    listed = {c.id: c for c in store.list_conversations(user.id)}
    options = [CURRENT, ALL, *(cid for cid in listed if cid != current)]
    names = {CURRENT: "This conversation", ALL: "All conversations"}
    choice = st.selectbox(
        "Conversation",
        options,
        format_func=lambda o: names.get(o) or f"{listed[o].title} · {listed[o].updated_at:%d %b}",
    )
    return current if choice == CURRENT else str(choice)


def table(frame: pd.DataFrame, columns: dict[str, str], titles: dict[str, str]) -> None:
    """`frame[columns]` renamed to `columns`' values, long texts cut, conversation ids titled."""
    if len(titles) > 1:
        columns = {"conversation_id": "Conversation", **columns}
    shown = frame.copy()
    for name in ("text", "reply", "user_text"):
        if name in shown:
            shown[name] = shown[name].map(lambda t: " ".join(str(t).split())[:TABLE_TEXT_CHARS])
    if "feedback" in shown:
        shown["feedback"] = charts.feedback_marks(shown["feedback"])
    if "conversation_id" in columns:
        shown["conversation_id"] = shown["conversation_id"].map(titles).fillna("")
    shown = shown[list(columns)].rename(columns=columns)
    config = {
        title: SCORE for name, title in columns.items() if "compound" in name or name == "change"
    }
    st.dataframe(shown, hide_index=True, column_config=config)


def draw_overview(frame: pd.DataFrame, attention: pd.DataFrame) -> None:
    users, replies = (frame.loc[frame["speaker"] == s, "compound"] for s in ("user", "assistant"))
    first, second, third, fourth = st.columns(4)
    first.metric("Messages", f"{len(frame):,}")
    second.metric("User, mean", f"{users.mean():+.2f}" if len(users) else "–")
    third.metric("Replies, mean", f"{replies.mean():+.2f}" if len(replies) else "–")
    fourth.metric("Need attention", f"{len(attention):,}")
    st.plotly_chart(charts.compound_timeline(frame), config=CHART)
    left, right = st.columns(2)
    with left:
        st.plotly_chart(charts.label_distribution(statistics.distribution(frame)), config=CHART)
    with right:
        names = {rid: role.label for rid, role in builtin_roles().items()}
        st.plotly_chart(charts.role_comparison(statistics.by_role(frame), names), config=CHART)


def draw_tables(frame: pd.DataFrame, attention: pd.DataFrame, titles: dict[str, str]) -> None:
    st.subheader("Turns that need attention")
    if attention.empty:
        st.caption("No strongly negative user turn and no sharp drop.")
    else:
        table(attention, ATTENTION, titles)
    st.subheader("Sharp turns to negative with no thumbs-down")
    st.caption(
        "Replies after which the user's next message turned sharply negative, yet nobody gave "
        "the reply a thumbs-down: feedback alone would miss these."
    )
    drops = statistics.unflagged_drops(frame)
    if drops.empty:
        st.caption("None.")
    else:
        table(drops, DROPS, titles)
    with st.expander(f"Every message with its score and feedback ({len(frame):,})"):
        table(frame, TURNS, titles)
    st.download_button(
        "Download the scores (CSV)",
        lambda: to_csv_bytes(frame.drop(columns=["thumbs_down"])),  # built when clicked
        file_name="sentiment-scores.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",  # a download needs no rerun
    )
