"""Sentiment of chat messages, scored on this machine with VADER (no network), and the
aggregates the sentiment page charts.

Design choices that are not obvious from the code:

- One `SentimentIntensityAnalyzer` is shared by every session. Building it parses a
  7,500-entry lexicon (about 12 ms); afterwards `polarity_scores` only reads `lexicon` and
  `emojis` and never writes to the instance, so threads may share it. A lock makes sure two
  first calls do not both build it.
- Long texts are scored piece by piece. VADER's cost grows much faster than length (its
  negation check copies the whole token list for every sentiment word): 31 ms for 832 words
  as one string. We split into sentences (and lines), cut any piece longer than
  `MAX_PIECE_WORDS` words into near-equal chunks, and score each piece, so the cost is linear
  in the length of the text.
- Pieces are combined by a mean weighted by word count. VADER's own advice for paragraphs is to
  average sentence scores; weighting by length keeps a one-word "Ok." from counting as much as a
  long complaint. Scoring a long text in one call (VADER's sum of valences) saturates towards
  +/-1 for any long text, which would make every long reply look extreme. pos/neu/neg use the
  same weights, so they still sum to about 1.
- Scores of pieces are cached (LRU) when the shared analyzer is used: the page rescored the
  whole transcript on every rerun, and analysts' files repeat sentences.
- Aggregates take records in conversation order and never loop over rows in Python: every
  per-speaker quantity is a pandas groupby over (conversation_id, speaker).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import pandas as pd

#: Compound scores strictly inside this band are neutral (VADER's standard thresholds).
NEUTRAL_BAND = (-0.05, 0.05)
#: Pieces longer than this are cut into chunks so each VADER call stays cheap.
MAX_PIECE_WORDS = 40
#: Turns per speaker in the rolling mean the page draws.
ROLLING_WINDOW = 5
#: Feedback values that mean "thumbs down": `st.feedback("thumbs")` gives 0 for down, 1 for up.
THUMBS_DOWN_VALUES = frozenset({0, -1, "0", "-1", "down", "thumbs_down", "negative", "👎"})

_PIECE_BREAK = re.compile(r"(?<=[.!?…])\s+|\s*[\r\n]+\s*")


class PolarityScorer(Protocol):
    """What we need from an analyzer: VADER's `polarity_scores`."""

    def polarity_scores(self, text: str) -> Mapping[str, float]: ...


@dataclass(frozen=True)
class Scores:
    compound: float
    pos: float
    neu: float
    neg: float

    @property
    def label(self) -> str:
        return label_for(self.compound)


NEUTRAL = Scores(compound=0.0, pos=0.0, neu=1.0, neg=0.0)


def label_for(compound: float) -> str:
    """positive / negative / neutral from a compound score, by VADER's thresholds."""
    if compound >= NEUTRAL_BAND[1]:
        return "positive"
    if compound <= NEUTRAL_BAND[0]:
        return "negative"
    return "neutral"


_analyzer: PolarityScorer | None = None
_analyzer_lock = threading.Lock()


def shared_analyzer() -> PolarityScorer:
    """The process-wide VADER analyzer, built on first use.

    Read-only after construction (polarity_scores never mutates it), hence safe to share
    between the threads Streamlit runs sessions in.
    """
    global _analyzer
    if _analyzer is None:
        with _analyzer_lock:
            if _analyzer is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                _analyzer = SentimentIntensityAnalyzer()
    return _analyzer


def lexicon() -> Mapping[str, float]:
    """VADER's word valences (shared, never modify), for explaining scores."""
    analyzer: Any = shared_analyzer()
    return analyzer.lexicon


@lru_cache(maxsize=16_384)
def _shared_piece_scores(piece: str) -> tuple[float, float, float, float]:
    return _piece_scores(shared_analyzer(), piece)


def _piece_scores(analyzer: PolarityScorer, piece: str) -> tuple[float, float, float, float]:
    raw = analyzer.polarity_scores(piece)
    pos, neu, neg = float(raw["pos"]), float(raw["neu"]), float(raw["neg"])
    if pos + neu + neg == 0.0:  # VADER's answer for a piece with no tokens at all
        neu = 1.0
    return float(raw["compound"]), pos, neu, neg


def split_pieces(text: str) -> list[tuple[str, int]]:
    """Sentences (and lines) of `text` with their word counts; long ones cut into chunks."""
    pieces: list[tuple[str, int]] = []
    for sentence in _PIECE_BREAK.split(text):
        words = sentence.split()
        n = len(words)
        if n == 0:
            continue
        if n <= MAX_PIECE_WORDS:
            pieces.append((sentence.strip(), n))
            continue
        chunks = math.ceil(n / MAX_PIECE_WORDS)
        size = math.ceil(n / chunks)
        for start in range(0, n, size):
            chunk = words[start : start + size]
            pieces.append((" ".join(chunk), len(chunk)))
    return pieces


def score_text(text: str, *, analyzer: PolarityScorer | None = None) -> Scores:
    """VADER scores of `text`, piece by piece (see the module docstring).

    Pass `analyzer` to use another one (tests count calls this way); piece scores are cached
    only for the shared analyzer.
    """
    pieces = split_pieces(text)
    if not pieces:
        return NEUTRAL
    if analyzer is None:
        score_piece: Callable[[str], tuple[float, float, float, float]] = _shared_piece_scores
    else:
        scorer = analyzer

        def score_piece(piece: str) -> tuple[float, float, float, float]:
            return _piece_scores(scorer, piece)

    if len(pieces) == 1:
        return Scores(*score_piece(pieces[0][0]))
    total = compound = pos = neu = neg = 0.0
    for piece, weight in pieces:
        c, p, u, n = score_piece(piece)
        total += weight
        compound += c * weight
        pos += p * weight
        neu += u * weight
        neg += n * weight
    return Scores(
        compound=round(compound / total, 4),
        pos=round(pos / total, 3),
        neu=round(neu / total, 3),
        neg=round(neg / total, 3),
    )


def score_many(texts: Iterable[str], *, analyzer: PolarityScorer | None = None) -> list[Scores]:
    return [score_text(text, analyzer=analyzer) for text in texts]


# --- aggregates for the sentiment page -------------------------------------------------------

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
    "MAX_PIECE_WORDS",
    "NEUTRAL",
    "NEUTRAL_BAND",
    "ROLLING_WINDOW",
    "THUMBS_DOWN_VALUES",
    "TURN_COLUMNS",
    "PolarityScorer",
    "Scores",
    "attention_turns",
    "by_role",
    "distribution",
    "label_array",
    "label_for",
    "lexicon",
    "score_many",
    "score_text",
    "shared_analyzer",
    "split_pieces",
    "turn_frame",
    "unflagged_drops",
]
