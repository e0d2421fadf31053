"""The sentiment card: the model's JSON checked against the role's schema, or a local reading
by VADER's word list that says only what the word list saw."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from assistant.sentiment import score_text
from assistant.sentiment.card import (
    LABELS,
    Analysis,
    analysis_or_fallback,
    analysis_schema,
    local_analysis,
    parse_analysis,
)

LABELLED_SET = Path(__file__).resolve().parent / "data" / "support_messages.csv"
#: Agreement of the local reading with the labelled set, as measured when the set was written
#: (54 of 76, 0.711; the reading before this set existed agreed on 53): a floor, not a goal.
AGREEMENT_FLOOR = 0.70

VALID: dict[str, Any] = {
    "label": "mixed",
    "score": -0.2,
    "emotions": ["joy", "frustration"],
    "key_phrases": ["great food", "slow service"],
    "explanation": "Praise for the food, complaints about the service.",
}


def test_the_card_reads_the_schema_the_role_sends() -> None:
    schema = analysis_schema()
    jsonschema.Draft202012Validator.check_schema(dict(schema))
    assert schema["properties"]["label"]["enum"] == list(LABELS)


def test_valid_json_is_parsed_as_the_models_analysis() -> None:
    assert parse_analysis(json.dumps(VALID)) == Analysis(
        label="mixed",
        score=-0.2,
        emotions=["joy", "frustration"],
        key_phrases=["great food", "slow service"],
        explanation="Praise for the food, complaints about the service.",
        source="model",
    )


@pytest.mark.parametrize(
    "wrapped",
    [
        "```json\n{}\n```",
        "```\n{}\n```",
        "  ```json\r\n{}\r\n```  \n",
    ],
)
def test_json_in_a_code_fence_is_parsed(wrapped: str) -> None:
    parsed = parse_analysis(wrapped.replace("{}", json.dumps(VALID, indent=2)))
    assert parsed is not None
    assert parsed.label == "mixed"
    assert parsed.source == "model"


def test_integer_scores_at_the_bounds_are_valid() -> None:
    for score in (-1, 0, 1):
        parsed = parse_analysis(json.dumps(VALID | {"score": score}))
        assert parsed is not None
        assert parsed.score == float(score)


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in VALID.items() if k != key}


INVALID = {
    "not json": "The text is positive.",
    "truncated": json.dumps(VALID)[:-5],
    "a list": json.dumps([VALID]),
    "unknown label": json.dumps(VALID | {"label": "happy"}),
    "label not a string": json.dumps(VALID | {"label": 1}),
    "score too high": json.dumps(VALID | {"score": 1.5}),
    "score too low": json.dumps(VALID | {"score": -1.01}),
    "score as a string": json.dumps(VALID | {"score": "0.5"}),
    "score as a boolean": json.dumps(VALID | {"score": True}),
    "score NaN": json.dumps(VALID | {"score": float("nan")}),
    "emotions a string": json.dumps(VALID | {"emotions": "joy"}),
    "key phrase not a string": json.dumps(VALID | {"key_phrases": ["ok", 3]}),
    "explanation null": json.dumps(VALID | {"explanation": None}),
    "missing key": json.dumps(without("emotions")),
    "extra key": json.dumps(VALID | {"confidence": 0.9}),
    "text around the fence": "Here you go:\n```json\n" + json.dumps(VALID) + "\n```",
}


@pytest.mark.parametrize("text", INVALID.values(), ids=INVALID.keys())
def test_answers_off_the_schema_are_rejected(text: str) -> None:
    assert parse_analysis(text) is None


@pytest.mark.parametrize(
    "text",
    [
        t
        for name, t in INVALID.items()
        if name not in ("not json", "truncated", "score NaN", "text around the fence")
    ],
)
def test_rejections_agree_with_jsonschema(text: str) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(text), dict(analysis_schema()))


def test_the_schema_is_data_the_parser_follows() -> None:
    schema = json.loads(json.dumps(analysis_schema()))
    answer = json.dumps(VALID | {"label": "furious"})
    assert parse_analysis(answer) is None
    schema["properties"]["label"]["enum"].append("furious")
    parsed = parse_analysis(answer, schema)
    assert parsed is not None and parsed.label == "furious"


def test_invalid_model_answer_falls_back_to_local_analysis() -> None:
    result = analysis_or_fallback('{"label": "great"}', "This is terrible, I hate it.")
    assert result.source == "local"
    assert result.label == "negative"
    assert result.score == score_text("This is terrible, I hate it.").compound


def test_missing_model_answer_falls_back_to_local_analysis() -> None:
    assert analysis_or_fallback(None, "I love it").source == "local"
    assert analysis_or_fallback("", "I love it").source == "local"


def test_valid_model_answer_wins_over_local_analysis() -> None:
    result = analysis_or_fallback(json.dumps(VALID), "This is terrible, I hate it.")
    assert result.source == "model"
    assert result.label == "mixed"


def test_local_analysis_of_a_positive_text() -> None:
    result = local_analysis("I love this, it works perfectly!")
    assert result.label == "positive"
    assert result.score > 0.5
    assert result.emotions == ["joy"]
    assert result.key_phrases[0] == "love"
    assert '"love"' in result.explanation
    assert result.explanation.startswith("Positive (+0.87)")


def test_local_analysis_of_a_negative_text() -> None:
    result = local_analysis("This is terrible, I hate it.")
    assert result.label == "negative"
    assert set(result.emotions) == {"anger", "frustration"}
    assert set(result.key_phrases) == {"hate", "terrible"}


def test_praise_and_complaint_together_are_mixed() -> None:
    result = local_analysis("The food was great but the service was terrible.")
    assert result.label == "mixed"
    assert "great" in result.key_phrases and "terrible" in result.key_phrases
    assert result.explanation.startswith("Mixed")


def test_negation_and_boosters_shape_key_phrases_and_emotions() -> None:
    result = local_analysis("I am not happy, this is very frustrating.")
    assert result.label == "negative"
    assert "not happy" in result.key_phrases
    assert "very frustrating" in result.key_phrases
    assert "joy" not in result.emotions  # "not happy" is not joy
    assert "frustration" in result.emotions


def test_gratitude_is_recognised() -> None:
    result = local_analysis("Thanks so much, I really appreciate your help!")
    assert result.emotions == ["gratitude"]
    assert "really appreciate" in result.key_phrases


def test_text_without_sentiment_words_says_the_word_list_found_none() -> None:
    result = local_analysis("The meeting is at 3pm.")
    assert result == Analysis(
        label="neutral",
        score=0.0,
        emotions=[],
        key_phrases=[],
        explanation=result.explanation,
        source="local",
    )
    assert not result.found_words
    assert "found no words with a sentiment" in result.explanation


def test_local_analysis_satisfies_the_schema_it_stands_in_for() -> None:
    result = local_analysis("I love the design, but the battery is awful.")
    payload = {k: v for k, v in result.__dict__.items() if k not in ("source", "polarities")}
    jsonschema.validate(payload, dict(analysis_schema()))
    assert parse_analysis(json.dumps(payload)) == Analysis(**payload, source="model")


# --- the two readings of issue 10.19 --------------------------------------------------------


def signed(result: Analysis) -> dict[str, str]:
    return dict(zip(result.key_phrases, result.polarities, strict=True))


def test_a_furious_complaint_reads_negative_with_each_phrase_signed_as_vader_scored() -> None:
    result = local_analysis("The battery died after a week and support never answered. Furious.")
    assert result.label == "negative"
    # "support" is in VADER's word list as a positive word; the card says so, and that it
    # weighs less, rather than calling the whole message mixed.
    assert signed(result) == {"furious": "negative", "died": "negative", "support": "positive"}
    assert "anger" in result.emotions
    assert result.explanation.startswith('Negative (-0.26), because of "furious", "died".')
    assert '"support" reads positive to the word list but weighs less.' in result.explanation


def test_a_negation_ends_at_the_full_stop() -> None:
    # VADER negates up to three words back: read as one string, "never answered. Furious."
    # made "furious" positive. Sentence by sentence, as the score is computed, it is not.
    result = local_analysis("Support never answered. Furious.")
    assert signed(result)["furious"] == "negative"
    assert not any("never" in phrase for phrase in result.key_phrases)


def test_a_late_delivery_is_not_presented_as_a_neutral_finding() -> None:
    result = local_analysis("The delivery was late again and nobody answered my emails.")
    assert score_text("The delivery was late again and nobody answered my emails.").compound == 0
    assert not result.found_words and result.key_phrases == []
    assert result.explanation.startswith("The word list found no words with a sentiment")


@pytest.mark.parametrize(
    ("text", "phrase", "polarity"),
    [
        ("Not bad at all, the setup was easy.", "not bad", "positive"),
        ("I am not happy with the repair.", "not happy", "negative"),
        ("I never had a problem with it.", "never had a problem", "positive"),
        ("No problem, glad to help.", "no problem", "positive"),
        ("The update is very slow and extremely annoying.", "extremely annoying", "negative"),
    ],
)
def test_phrases_carry_their_negation_and_the_sign_it_gives(
    text: str, phrase: str, polarity: str
) -> None:
    assert signed(local_analysis(text))[phrase] == polarity


def test_mixed_is_claimed_only_with_both_sides_among_the_phrases() -> None:
    for text, _ in labelled_set():
        result = local_analysis(text)
        if result.label == "mixed":
            assert {"positive", "negative"} <= set(result.polarities), text


def test_a_mixed_reading_names_both_sides_even_when_one_has_many_stronger_words() -> None:
    text = (
        "Wonderful staff, excellent food, amazing view, fantastic music, superb wine. "
        "Sadly the room was dirty, the bed was uncomfortable, the shower was broken, "
        "the wifi was bad, the noise was annoying and the bill was wrong."
    )
    result = local_analysis(text)
    assert result.label == "mixed"
    assert {"positive", "negative"} <= set(result.polarities)


# --- agreement with the labelled set --------------------------------------------------------


def labelled_set() -> list[tuple[str, str]]:
    with LABELLED_SET.open(encoding="utf-8", newline="") as handle:
        return [(row["text"], row["label"]) for row in csv.DictReader(handle)]


def test_the_labelled_set_is_fifty_plus_varied_support_messages() -> None:
    rows = labelled_set()
    counts = Counter(label for _, label in rows)
    assert len(rows) >= 50 and len({text for text, _ in rows}) == len(rows)
    assert set(counts) == set(LABELS) and min(counts.values()) >= 10


def test_the_local_reading_agrees_with_the_labelled_set_at_least_as_measured() -> None:
    rows = labelled_set()
    agreed = sum(local_analysis(text).label == label for text, label in rows)
    assert agreed / len(rows) >= AGREEMENT_FLOOR, f"{agreed} of {len(rows)}"
