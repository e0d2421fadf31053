"""Scores from VADER: one sentence exactly as VADER scores it, long texts piece by piece."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from assistant.sentiment import (
    MAX_PIECE_WORDS,
    NEUTRAL_BAND,
    Scores,
    score_many,
    score_text,
)


class CountingAnalyzer:
    """The real VADER analyzer, recording every text it is asked to score."""

    def __init__(self) -> None:
        self.inner = SentimentIntensityAnalyzer()
        self.calls: list[str] = []

    def polarity_scores(self, text: str) -> Mapping[str, float]:
        self.calls.append(text)
        return self.inner.polarity_scores(text)


def test_clearly_positive_sentence_is_positive() -> None:
    scores = score_text("I love this, it works perfectly!")
    assert scores.label == "positive"
    assert scores.compound > 0.5
    assert scores.pos > scores.neg


def test_clearly_negative_sentence_is_negative() -> None:
    scores = score_text("This is terrible, I hate it.")
    assert scores.label == "negative"
    assert scores.compound < -0.5
    assert scores.neg > scores.pos


def test_factual_sentence_is_neutral() -> None:
    scores = score_text("The meeting is at 3pm.")
    assert scores == Scores(compound=0.0, pos=0.0, neu=1.0, neg=0.0)
    assert scores.label == "neutral"


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n"])
def test_empty_text_is_neutral_zeros(text: str) -> None:
    assert score_text(text) == Scores(compound=0.0, pos=0.0, neu=1.0, neg=0.0)


@pytest.mark.parametrize(
    ("compound", "label"),
    [(0.05, "positive"), (0.0499, "neutral"), (-0.0499, "neutral"), (-0.05, "negative")],
)
def test_labels_use_vader_thresholds(compound: float, label: str) -> None:
    assert NEUTRAL_BAND == (-0.05, 0.05)
    assert Scores(compound=compound, pos=0.0, neu=1.0, neg=0.0).label == label


def test_one_sentence_matches_vader_exactly() -> None:
    text = "The food was great but the service was terrible."
    expected = SentimentIntensityAnalyzer().polarity_scores(text)
    scores = score_text(text)
    assert (scores.compound, scores.pos, scores.neu, scores.neg) == (
        expected["compound"],
        expected["pos"],
        expected["neu"],
        expected["neg"],
    )


def test_long_text_costs_one_vader_call_per_sentence() -> None:
    sentence = "The update broke my settings and I am annoyed."
    for count in (10, 100, 1000):
        analyzer = CountingAnalyzer()
        score_text(" ".join([sentence] * count), analyzer=analyzer)
        assert len(analyzer.calls) == count
        assert all(call == sentence for call in analyzer.calls)


def test_long_unpunctuated_text_is_cut_into_bounded_chunks() -> None:
    words = ("good bad fine slow quick nice awful plain " * 250).split()  # 2,000 words
    analyzer = CountingAnalyzer()
    score_text(" ".join(words), analyzer=analyzer)
    sizes = [len(call.split()) for call in analyzer.calls]
    assert sum(sizes) == len(words)
    assert max(sizes) <= MAX_PIECE_WORDS
    assert len(sizes) == 2000 // MAX_PIECE_WORDS


def test_sentences_combine_as_a_length_weighted_mean() -> None:
    short, long = "I love it.", "This update is a terrible, awful and broken mess."
    vader = SentimentIntensityAnalyzer()
    a, b = vader.polarity_scores(short), vader.polarity_scores(long)
    wa, wb = len(short.split()), len(long.split())
    scores = score_text(f"{short} {long}", analyzer=CountingAnalyzer())
    assert scores.compound == pytest.approx(
        (a["compound"] * wa + b["compound"] * wb) / (wa + wb), abs=1e-4
    )
    assert scores.neg == pytest.approx((a["neg"] * wa + b["neg"] * wb) / (wa + wb), abs=1e-3)
    assert scores.pos + scores.neu + scores.neg == pytest.approx(1.0, abs=0.01)


def test_lines_without_punctuation_are_scored_separately() -> None:
    analyzer = CountingAnalyzer()
    score_text("great work\nterrible bug\n\nok", analyzer=analyzer)
    assert analyzer.calls == ["great work", "terrible bug", "ok"]


def test_score_many_keeps_order() -> None:
    texts = ["I love it!", "", "I hate it."]
    assert [s.label for s in score_many(texts)] == ["positive", "neutral", "negative"]
