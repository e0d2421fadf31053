"""The aggregates the sentiment page charts, from turns in conversation order."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from assistant.sentiment import score_text
from assistant.sentiment.statistics import (
    attention_turns,
    by_role,
    distribution,
    turn_frame,
    unflagged_drops,
)


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
