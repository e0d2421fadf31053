"""Aggregates the sentiment page charts: one row per turn, then counts, means and the turns
that need a look.

Aggregates take records in conversation order and never loop over rows in Python: every
per-speaker quantity is a pandas groupby over (conversation_id, speaker). This is the only
module of the package that imports pandas and numpy; the chat core never imports it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from assistant.sentiment.scoring import NEUTRAL_BAND, score_many

#: Turns per speaker in the rolling mean the page draws.
ROLLING_WINDOW = 5
#: Feedback values that mean "thumbs down": `st.feedback("thumbs")` gives 0 for down, 1 for up.
THUMBS_DOWN_VALUES = frozenset({0, -1, "0", "-1", "down", "thumbs_down", "negative", "👎"})


_RECORD_FIELDS = (
    "role",
    "text",
    "compound",
    "pos",
    "neu",
    "neg",
    "created_at",
    "message_id",
    "conversation_id",
    "role_id",
    "feedback",
)
_SCORE_FIELDS = ("compound", "pos", "neu", "neg")
_SPEAKERS = ("user", "assistant")
_LABELS = ("positive", "neutral", "negative")
TURN_COLUMNS = (
    "conversation_id",
    "turn",
    "speaker",
    "text",
    *_SCORE_FIELDS,
    "label",
    "rolling",
    "change",
    "created_at",
    "message_id",
    "role_id",
    "feedback",
    "thumbs_down",
)


def _record_values(record: Any) -> tuple[Any, ...]:
    if isinstance(record, Mapping):
        return tuple(record.get(name) for name in _RECORD_FIELDS)
    return tuple(getattr(record, name, None) for name in _RECORD_FIELDS)


def label_array(compound: pd.Series | np.ndarray) -> np.ndarray:
    """`label_for` over a column of compound scores, without a Python loop."""
    values = np.asarray(compound, dtype=float)
    return np.select(
        [values >= NEUTRAL_BAND[1], values <= NEUTRAL_BAND[0]],
        ["positive", "negative"],
        default="neutral",
    )


def turn_frame(messages: Sequence[Any]) -> pd.DataFrame:
    """One row per user/assistant message, in the order given (conversation order).

    `messages` are mappings or objects with `role` ("user"/"assistant"; others are skipped),
    `text`, and optionally `compound`, `pos`, `neu`, `neg` (scored here when any is missing),
    `created_at`, `message_id`, `conversation_id`, `role_id`, `feedback`.

    Columns (`TURN_COLUMNS`): `turn` counts from 1 within each conversation; `rolling` is the
    mean compound of that speaker's last `ROLLING_WINDOW` turns; `change` is the compound
    minus that speaker's previous turn (NaN for a first turn); `thumbs_down` is True when
    `feedback` is one of `THUMBS_DOWN_VALUES`.
    """
    frame = pd.DataFrame.from_records(
        [_record_values(m) for m in messages], columns=list(_RECORD_FIELDS)
    )
    frame = frame[frame["role"].isin(_SPEAKERS)].reset_index(drop=True)
    frame = frame.rename(columns={"role": "speaker"})
    frame["text"] = frame["text"].fillna("").astype(str)
    for name in _SCORE_FIELDS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    missing = frame[list(_SCORE_FIELDS)].isna().any(axis=1).to_numpy()
    if missing.any():
        scored = score_many(frame.loc[missing, "text"])
        for name in _SCORE_FIELDS:
            frame.loc[missing, name] = [getattr(s, name) for s in scored]
    frame["label"] = label_array(frame["compound"])

    by_conversation = frame.groupby("conversation_id", dropna=False, sort=False)
    frame["turn"] = by_conversation.cumcount() + 1
    by_speaker = frame.groupby(["conversation_id", "speaker"], dropna=False, sort=False)
    frame["change"] = by_speaker["compound"].diff()
    frame["rolling"] = (
        by_speaker["compound"]
        .rolling(ROLLING_WINDOW, min_periods=1)
        .mean()
        .reset_index(level=[0, 1], drop=True)
        .sort_index()
    )
    frame["thumbs_down"] = frame["feedback"].map(_is_thumbs_down).astype(bool)
    return frame[list(TURN_COLUMNS)]


def _is_thumbs_down(value: Any) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    try:
        return value in THUMBS_DOWN_VALUES
    except TypeError:  # unhashable feedback (e.g. a dict from a richer widget): not a thumb
        return False


def distribution(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts of positive / neutral / negative turns: one row per speaker, one column per label."""
    counts = frame.groupby(["speaker", "label"]).size().unstack(fill_value=0)
    return counts.reindex(columns=list(_LABELS), fill_value=0).rename_axis(
        index="speaker", columns=None
    )


def by_role(frame: pd.DataFrame) -> pd.DataFrame:
    """Per chat role id: message count, mean compound overall, for user turns and for replies.

    Messages without a role id are grouped under "unknown".
    """
    role_id = frame["role_id"].astype(object).where(frame["role_id"].notna(), "unknown")
    data = pd.DataFrame(
        {
            "role_id": role_id.astype(str),
            "compound": frame["compound"],
            "user": frame["compound"].where(frame["speaker"] == "user"),
            "assistant": frame["compound"].where(frame["speaker"] == "assistant"),
        }
    )
    grouped = data.groupby("role_id", sort=True)
    return pd.DataFrame(
        {
            "messages": grouped["compound"].count(),
            "mean_compound": grouped["compound"].mean(),
            "user_mean": grouped["user"].mean(),
            "assistant_mean": grouped["assistant"].mean(),
        }
    ).reset_index()


_ATTENTION_COLUMNS = ["conversation_id", "turn", "message_id", "text", "compound", "change"]


def attention_turns(
    frame: pd.DataFrame, *, strong: float = -0.5, drop: float = 0.6
) -> pd.DataFrame:
    """User turns that need a look: compound <= `strong`, or a fall of at least `drop` from
    that user's previous turn. Each row says why in `reason`."""
    user = frame["speaker"] == "user"
    is_strong = user & (frame["compound"] <= strong)
    is_drop = user & (frame["change"] <= -drop)
    picked_mask = is_strong | is_drop
    picked = frame.loc[picked_mask, _ATTENTION_COLUMNS].reset_index(drop=True)
    strong_hit = is_strong[picked_mask].to_numpy()
    drop_hit = is_drop[picked_mask].to_numpy()
    strong_reason = (
        "strongly negative (" + picked["compound"].map("{:+.2f}".format).astype(str) + ")"
    )
    drop_reason = (
        "sharp drop ("
        + picked["change"].map("{:+.2f}".format).astype(str)
        + " from the previous user turn)"
    )
    picked["reason"] = (
        strong_reason.where(strong_hit, "")
        + np.where(strong_hit & drop_hit, "; ", "")
        + drop_reason.where(drop_hit, "")
    ).astype(str)
    return picked


def unflagged_drops(frame: pd.DataFrame, *, drop: float = 0.6) -> pd.DataFrame:
    """Assistant replies the next user turn reacted to sharply (negative, and down by at least
    `drop` from the user's previous turn) that nobody gave a thumbs-down."""
    following = frame.groupby("conversation_id", dropna=False, sort=False)[
        ["speaker", "turn", "text", "compound", "change"]
    ].shift(-1)
    mask = (
        (frame["speaker"] == "assistant")
        & (following["speaker"] == "user")
        & (following["compound"] <= NEUTRAL_BAND[0])
        & (following["change"] <= -drop)
        & ~frame["thumbs_down"]
    )
    result = frame.loc[mask, ["conversation_id", "turn", "message_id", "text", "feedback"]]
    result = result.rename(columns={"text": "reply"})
    result["user_turn"] = following.loc[mask, "turn"].astype(int)
    result["user_text"] = following.loc[mask, "text"]
    result["user_compound"] = following.loc[mask, "compound"].astype(float)
    result["change"] = following.loc[mask, "change"].astype(float)
    return result.reset_index(drop=True)


__all__ = [
    "ROLLING_WINDOW",
    "THUMBS_DOWN_VALUES",
    "TURN_COLUMNS",
    "attention_turns",
    "by_role",
    "distribution",
    "label_array",
    "turn_frame",
    "unflagged_drops",
]
