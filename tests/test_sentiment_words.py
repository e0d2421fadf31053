"""Which words VADER scored, and how: VADER's own steps, checked against its own answers."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from assistant.sentiment import shared_analyzer, split_pieces
from assistant.sentiment.words import piece_valences, scored_words

LABELLED_SET = Path(__file__).resolve().parent / "data" / "support_messages.csv"
TRICKY = [
    "The food was great but the service was terrible.",
    "I am not happy, this is VERY frustrating!!",
    "It isn't bad at all, kind of nice actually.",
    "No problem or worry, not the least bit annoyed.",
    "Without doubt the best, never so happy 😂😂 :)",
    "😡😡 useless",
    "Support never answered. Furious.",
]


def texts() -> list[str]:
    with LABELLED_SET.open(encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)] + TRICKY


def test_the_valences_sum_to_vaders_own_scores_piece_by_piece() -> None:
    analyzer = shared_analyzer()
    for text in texts():
        for piece, _ in split_pieces(text):
            vader_text, _, _, after = piece_valences(analyzer, piece)
            assert analyzer.score_valence(after, vader_text) == analyzer.polarity_scores(piece)


def test_every_scored_word_is_listed_with_the_valence_vader_summed() -> None:
    analyzer = shared_analyzer()
    for text in texts():
        expected = []
        for piece, _ in split_pieces(text):
            expected += [v for v in piece_valences(analyzer, piece)[3] if v != 0]
        listed = [w.valence for w in scored_words(text)]
        assert sum(listed) == pytest.approx(sum(expected), abs=1e-3), text


def test_the_but_rule_changes_weight_not_sign() -> None:
    great, terrible = scored_words("The food was great but the service was terrible.")
    assert (great.phrase, great.valence, great.strength) == ("great", 1.55, 3.1)
    assert terrible.phrase == "terrible" and terrible.strength < 0
    assert terrible.valence == pytest.approx(1.5 * terrible.strength)


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        ("I am not happy, this is very frustrating.", ["not happy", "very frustrating"]),
        ("Thanks, I really appreciate your help!", ["thanks", "really appreciate", "help"]),
        ("I don't like it at all.", ["don't like"]),
        ("No problem at all.", ["no problem"]),
    ],
)
def test_phrases_hold_negations_and_the_booster_right_before(text: str, phrases: list[str]) -> None:
    assert [w.phrase for w in scored_words(text)] == phrases


def test_an_emoji_is_shown_as_itself_with_the_sum_of_the_words_of_its_name() -> None:
    analyzer = shared_analyzer()
    (laugh,) = scored_words("😂")
    assert laugh.phrase == "😂"
    total = sum(piece_valences(analyzer, "😂")[3])  # "face with tears of joy": - and +
    assert laugh.valence == pytest.approx(total)


def test_a_text_with_no_sentiment_word_has_none() -> None:
    assert scored_words("The delivery was late again and nobody answered my emails.") == []
    assert scored_words("") == []
