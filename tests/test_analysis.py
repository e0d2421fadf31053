"""Structured sentiment analysis: the model's JSON, checked, with a local fallback."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from assistant.analysis import (
    ANALYSIS_SCHEMA,
    Analysis,
    analysis_or_fallback,
    local_analysis,
    parse_analysis,
    response_format,
)
from assistant.sentiment import score_text

VALID: dict[str, Any] = {
    "label": "mixed",
    "score": -0.2,
    "emotions": ["joy", "frustration"],
    "key_phrases": ["great food", "slow service"],
    "explanation": "Praise for the food, complaints about the service.",
}


def test_response_format_asks_for_the_strict_schema() -> None:
    assert response_format() == {
        "type": "json_schema",
        "json_schema": {"name": "sentiment_analysis", "strict": True, "schema": ANALYSIS_SCHEMA},
    }
    jsonschema.Draft202012Validator.check_schema(ANALYSIS_SCHEMA)
    # Strict structured output needs every property required and no extras allowed.
    assert set(ANALYSIS_SCHEMA["required"]) == set(ANALYSIS_SCHEMA["properties"])
    assert ANALYSIS_SCHEMA["additionalProperties"] is False


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
        jsonschema.validate(json.loads(text), ANALYSIS_SCHEMA)


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
    assert result.explanation.startswith("Positive (score +0.87")


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


def test_neutral_text_has_no_key_phrases() -> None:
    result = local_analysis("The meeting is at 3pm.")
    assert result == Analysis(
        label="neutral",
        score=0.0,
        emotions=[],
        key_phrases=[],
        explanation=result.explanation,
        source="local",
    )
    assert "no words with a clear sentiment" in result.explanation


def test_local_analysis_satisfies_the_schema_it_stands_in_for() -> None:
    result = local_analysis("I love the design, but the battery is awful.")
    payload = {k: v for k, v in result.__dict__.items() if k != "source"}
    jsonschema.validate(payload, ANALYSIS_SCHEMA)
    assert parse_analysis(json.dumps(payload)) == Analysis(**payload, source="model")
