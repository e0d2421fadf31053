"""Scores from VADER and the aggregates the sentiment page charts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from assistant.sentiment import (
    MAX_PIECE_WORDS,
    NEUTRAL_BAND,
    Scores,
    attention_turns,
    by_role,
    distribution,
    score_many,
    score_text,
    turn_frame,
    unflagged_drops,
)


class CountingAnalyzer:
    """The real VADER analyzer, recording every text it is asked to score."""

    def __init__(self) -> None:
        self.inner = SentimentIntensityAnalyzer()
        self.calls: list[str] = []

    def polarity_scores(self, text: str) -> Mapping[str, float]:
        self.calls.append(text)
        return self.inner.polarity_scores(text)


# --- scoring --------------------------------------------------------------------------------


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


# --- aggregates -----------------------------------------------------------------------------


@dataclass
class Message:
    role: str
    text: str
    compound: float | None = None
    pos: float | None = None
    neu: float | None = None
    neg: float | None = None
    conversation_id: int | None = 1
    message_id: int | None = None
    role_id: str | None = None
    feedback: int | None = None


def conversation(
    compounds: list[tuple[str, float]], *, conversation_id: int = 1, role_id: str | None = None
) -> list[Message]:
    return [
        Message(
            role=role,
            text=f"turn {i}",
            compound=c,
            pos=0.0,
            neu=1.0,
            neg=0.0,
            conversation_id=conversation_id,
            message_id=i,
            role_id=role_id,
        )
        for i, (role, c) in enumerate(compounds, start=1)
    ]


def test_turn_frame_numbers_turns_and_rolls_per_speaker() -> None:
    user = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    records = []
    for value in user:
        records += [("user", value), ("assistant", -0.9)]
    frame = turn_frame(conversation(records))

    assert frame["turn"].tolist() == list(range(1, 13))
    users = frame[frame["speaker"] == "user"]
    assert users["rolling"].round(4).tolist() == [0.1, 0.15, 0.2, 0.25, 0.3, 0.4]
    assert frame.loc[frame["speaker"] == "assistant", "rolling"].tolist() == [-0.9] * 6
    assert users["change"].round(4).tolist()[1:] == [0.1] * 5
    assert pd.isna(users["change"].iloc[0])


def test_turn_frame_keeps_conversations_apart() -> None:
    first = conversation([("user", 0.8), ("assistant", 0.0)], conversation_id=1)
    second = conversation([("user", -0.8), ("assistant", 0.0)], conversation_id=2)
    frame = turn_frame(first + second)
    assert frame["turn"].tolist() == [1, 2, 1, 2]
    assert frame["rolling"].tolist() == [0.8, 0.0, -0.8, 0.0]
    assert frame["change"].isna().all()


def test_turn_frame_accepts_mappings_scores_missing_values_and_skips_system() -> None:
    frame = turn_frame(
        [
            {"role": "system", "text": "You are kind."},
            {"role": "user", "text": "This is terrible, I hate it."},
            {
                "role": "assistant",
                "text": "I love helping!",
                "compound": 0.25,
                "pos": 0.5,
                "neu": 0.5,
                "neg": 0.0,
            },
        ]
    )
    assert frame["speaker"].tolist() == ["user", "assistant"]
    assert frame["label"].tolist() == ["negative", "positive"]
    assert frame["compound"].iloc[0] == score_text("This is terrible, I hate it.").compound
    assert frame["compound"].iloc[1] == 0.25  # stored scores are used, not recomputed


def test_distribution_counts_labels_per_speaker() -> None:
    frame = turn_frame(
        conversation(
            [("user", 0.5), ("assistant", 0.0), ("user", -0.5), ("assistant", 0.3), ("user", 0.9)]
        )
    )
    counts = distribution(frame)
    assert counts.loc["user"].tolist() == [2, 0, 1]
    assert counts.loc["assistant"].tolist() == [1, 1, 0]
    assert list(counts.columns) == ["positive", "neutral", "negative"]


def test_by_role_averages_per_chat_role() -> None:
    coach = conversation([("user", 0.4), ("assistant", 0.8)], role_id="coach", conversation_id=1)
    critic = conversation(
        [("user", -0.6), ("assistant", -0.2)], role_id="critic", conversation_id=2
    )
    loose = conversation([("user", 0.0)], role_id=None, conversation_id=3)
    table = by_role(turn_frame(coach + critic + loose)).set_index("role_id")
    assert table.loc["coach", "mean_compound"] == pytest.approx(0.6)
    assert table.loc["critic", "user_mean"] == pytest.approx(-0.6)
    assert table.loc["critic", "assistant_mean"] == pytest.approx(-0.2)
    assert table.loc["unknown", "messages"] == 1


def test_attention_turns_flags_strong_negatives_and_sharp_drops() -> None:
    frame = turn_frame(
        conversation(
            [
                ("user", 0.7),
                ("assistant", -0.9),  # assistant turns are never flagged
                ("user", 0.0),  # fell 0.7: a sharp drop
                ("assistant", 0.2),
                ("user", -0.8),  # strongly negative and fell 0.8
                ("assistant", 0.2),
                ("user", -0.6),  # strongly negative only
                ("assistant", 0.2),
                ("user", -0.3),  # neither
            ]
        )
    )
    table = attention_turns(frame)
    assert table["turn"].tolist() == [3, 5, 7]
    reasons = table["reason"].tolist()
    assert reasons[0].startswith("sharp drop (-0.70")
    assert "strongly negative (-0.80)" in reasons[1] and "sharp drop" in reasons[1]
    assert reasons[2] == "strongly negative (-0.60)"


def test_attention_thresholds_are_parameters() -> None:
    frame = turn_frame(conversation([("user", 0.2), ("assistant", 0.0), ("user", -0.3)]))
    assert attention_turns(frame).empty
    assert attention_turns(frame, strong=-0.25, drop=0.5)["turn"].tolist() == [3]


def test_unflagged_drops_lists_replies_without_thumbs_down() -> None:
    records = conversation(
        [
            ("user", 0.6),
            ("assistant", 0.1),
            ("user", -0.4),
            ("assistant", 0.1),
            ("user", 0.5),
            ("assistant", 0.1),
            ("user", -0.3),
        ]
    )
    records[5].feedback = 0  # thumbs down on the reply before the second drop
    table = unflagged_drops(turn_frame(records))
    assert table["turn"].tolist() == [2]
    assert table["user_turn"].tolist() == [3]
    assert table["change"].iloc[0] == pytest.approx(-1.0)

    records[5].feedback = 1  # a thumbs up does not excuse it
    assert unflagged_drops(turn_frame(records))["turn"].tolist() == [2, 6]


def test_unflagged_drops_ignores_small_falls_and_non_negative_turns() -> None:
    records = conversation(
        [("user", 0.9), ("assistant", 0.0), ("user", 0.2), ("assistant", 0.0), ("user", -0.1)]
    )
    assert unflagged_drops(turn_frame(records)).empty


def test_thousand_message_conversation_builds_every_aggregate() -> None:
    pattern = [0.6, -0.7, 0.0, 0.4]
    records = conversation(
        [("user" if i % 2 == 0 else "assistant", pattern[i % 4]) for i in range(1000)]
    )
    frame = turn_frame(records)
    assert len(frame) == 1000
    assert distribution(frame).to_numpy().sum() == 1000
    # user turns alternate 0.6, 0.0: each 0.0 after a 0.6 is a sharp drop.
    assert len(attention_turns(frame)) == 250
    assert len(unflagged_drops(frame)) == 0  # the drops go to 0.0, which is not negative
