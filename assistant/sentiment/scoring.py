"""Sentiment of a text, scored on this machine with VADER (no network).

Nothing here imports pandas or numpy: the chat core scores every finished message, and the
terminal client imports the core, so this module stays as light as the standard library.

Design choices that are not obvious from the code:

- One `SentimentIntensityAnalyzer` is shared by every session. Building it parses a
  7,500-entry lexicon (about 12 ms); afterwards `polarity_scores` only reads `lexicon` and
  `emojis` and never writes to the instance, so threads may share it. A lock makes sure two
  first calls do not both build it.
- Long texts are scored piece by piece. VADER's cost grows much faster than length (its
  negation check copies the whole token list for every sentiment word): 31 ms for 832 words
  as one string. We split into sentences (and lines), cut any piece longer than
  `MAX_PIECE_WORDS` words into near-equal chunks, and score each piece, so the cost is linear
  in the length of the text. Sentences are also where VADER's rules belong: its negation looks
  three words back, and across a full stop that turns "never answered. Furious." positive.
- Pieces are combined by a mean weighted by word count. VADER's own advice for paragraphs is to
  average sentence scores; weighting by length keeps a one-word "Ok." from counting as much as a
  long complaint. Scoring a long text in one call (VADER's sum of valences) saturates towards
  +/-1 for any long text, which would make every long reply look extreme. pos/neu/neg use the
  same weights, so they still sum to about 1.
- Scores of pieces are cached (LRU) when the shared analyzer is used: the page rescored the
  whole transcript on every rerun, and analysts' files repeat sentences.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

#: Compound scores strictly inside this band are neutral (VADER's standard thresholds).
NEUTRAL_BAND = (-0.05, 0.05)
#: Pieces longer than this are cut into chunks so each VADER call stays cheap.
MAX_PIECE_WORDS = 40

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


__all__ = [
    "MAX_PIECE_WORDS",
    "NEUTRAL",
    "NEUTRAL_BAND",
    "PolarityScorer",
    "Scores",
    "label_for",
    "lexicon",
    "score_many",
    "score_text",
    "shared_analyzer",
    "split_pieces",
]
