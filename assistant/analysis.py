"""Structured sentiment analysis for the sentiment-analysis chat role.

The role asks the model for JSON matching `ANALYSIS_SCHEMA` (sent as OpenRouter's
`response_format`, see `response_format()`). Support for structured output varies by provider,
and the JSON arrives as a string in the message content, so `parse_analysis` checks it by hand
against the schema and returns None when anything is off: a wrong type, an unknown label, a
score outside -1..1, a missing or an extra key. Nothing is clamped or coerced silently, because a
repaired answer would look like the model's when it is not. `analysis_or_fallback` then
answers from VADER on this machine (`local_analysis`), marked `source="local"`.

The checks are a few explicit lines rather than the `jsonschema` package: the schema is small
and fixed, and each rejection stays readable in a test.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import Counter
from dataclasses import dataclass
from typing import Any

from assistant.sentiment import lexicon, score_text

LABELS = ("positive", "negative", "neutral", "mixed")
#: Both pos and neg shares at least this large, and the smaller at least `MIXED_BALANCE` of
#: the larger, make a text "mixed": "The food was great but the service was terrible."
MIXED_MIN_SHARE = 0.1
MIXED_BALANCE = 0.5
MAX_KEY_PHRASES = 5

ANALYSIS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": list(LABELS)},
        "score": {"type": "number", "minimum": -1, "maximum": 1},
        "emotions": {"type": "array", "items": {"type": "string"}},
        "key_phrases": {"type": "array", "items": {"type": "string"}},
        "explanation": {"type": "string"},
    },
    "required": ["label", "score", "emotions", "key_phrases", "explanation"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Analysis:
    label: str
    score: float
    emotions: list[str]
    key_phrases: list[str]
    explanation: str
    source: str  # "model" (parsed from the model's JSON) or "local" (VADER on this machine)


def response_format() -> dict[str, Any]:
    """The `response_format` request field asking for `ANALYSIS_SCHEMA`.

    Pair it with `provider.require_parameters: true`, or providers without structured output
    silently drop it.
    """
    return {
        "type": "json_schema",
        "json_schema": {"name": "sentiment_analysis", "strict": True, "schema": ANALYSIS_SCHEMA},
    }


_FENCE = re.compile(r"\A```(?:json|JSON)?[ \t]*\r?\n(?P<body>.*?)\r?\n?```\Z", re.DOTALL)


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def parse_analysis(text: str) -> Analysis | None:
    """The model's JSON answer as an `Analysis`, or None when it does not match the schema."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group("body").strip()
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or set(data) != set(ANALYSIS_SCHEMA["required"]):
        return None
    label, score = data["label"], data["score"]
    if not isinstance(label, str) or label not in LABELS:
        return None
    # bool is an int in Python but not a JSON number.
    if isinstance(score, bool) or not isinstance(score, int | float):
        return None
    if not math.isfinite(score) or not -1.0 <= score <= 1.0:
        return None
    if not _is_string_list(data["emotions"]) or not _is_string_list(data["key_phrases"]):
        return None
    if not isinstance(data["explanation"], str):
        return None
    return Analysis(
        label=label,
        score=float(score),
        emotions=list(data["emotions"]),
        key_phrases=list(data["key_phrases"]),
        explanation=data["explanation"],
        source="model",
    )


# --- local analysis from VADER ----------------------------------------------------------------

_EMOTION_WORDS: dict[str, tuple[str, ...]] = {
    "joy": (
        "happy", "glad", "joy", "joyful", "delighted", "love", "loved", "loving", "lovely",
        "wonderful", "awesome", "amazing", "excited", "exciting", "fantastic", "pleased",
        "enjoy", "enjoyed", "fun", "yay", "great", "excellent", "😀", "😊", "😍", "😄", "🎉",
    ),
    "gratitude": (
        "thanks", "thank", "thankful", "grateful", "appreciate", "appreciated",
        "appreciation", "thx", "🙏",
    ),
    "anger": (
        "angry", "furious", "mad", "hate", "hated", "hateful", "rage", "outraged", "livid",
        "disgusting", "disgusted", "unacceptable", "😠", "😡",
    ),
    "sadness": (
        "sad", "unhappy", "depressed", "miserable", "disappointed", "disappointing",
        "heartbroken", "cry", "crying", "lonely", "upset", "😢", "😭",
    ),
    "fear": (
        "afraid", "scared", "fear", "worried", "worry", "anxious", "nervous", "terrified",
        "panic", "frightened", "😨", "😱",
    ),
    "frustration": (
        "frustrated", "frustrating", "annoying", "annoyed", "useless", "broken", "stuck",
        "ugh", "waste", "wasted", "pointless", "ridiculous", "terrible", "awful", "😤",
    ),
    "surprise": (
        "surprised", "surprising", "wow", "unexpected", "unexpectedly", "shocked",
        "astonished", "amazed", "😮", "😲",
    ),
    "trust": (
        "trust", "trusted", "reliable", "confident", "dependable", "honest", "safe",
        "secure", "recommend", "recommended",
    ),
}  # fmt: skip
_EMOTION_ORDER = tuple(_EMOTION_WORDS)
_EMOTION_OF = {word: emotion for emotion, words in _EMOTION_WORDS.items() for word in words}


@dataclass(frozen=True)
class _Contribution:
    phrase: str
    valence: float


def _tokens(text: str) -> list[str]:
    # VADER's own tokenisation: split on whitespace, strip punctuation unless that leaves
    # two characters or fewer (so emoticons like ":)" survive).
    tokens = []
    for raw in text.split():
        stripped = raw.strip(string.punctuation)
        tokens.append((raw if len(stripped) <= 2 else stripped).lower())
    return tokens


def _contributions(tokens: list[str]) -> list[_Contribution]:
    """Lexicon words with their valence, negation and a preceding booster folded in."""
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, N_SCALAR, negated

    valences = lexicon()
    found = []
    for i, token in enumerate(tokens):
        valence = valences.get(token)
        if valence is None or token in BOOSTER_DICT or negated([token]):
            continue
        start = i
        for back in range(1, 4):  # VADER looks up to three words back for a negation
            if i - back >= 0 and negated([tokens[i - back]]):
                valence *= N_SCALAR
                start = i - back
                break
        if start == i and i > 0 and tokens[i - 1] in BOOSTER_DICT:
            boost = BOOSTER_DICT[tokens[i - 1]]
            valence += boost if valence > 0 else -boost
            start = i - 1
        found.append(_Contribution(" ".join(tokens[start : i + 1]), valence))
    return found


def _emotions(tokens: list[str]) -> list[str]:
    from vaderSentiment.vaderSentiment import negated

    counts: Counter[str] = Counter()
    for i, token in enumerate(tokens):
        emotion = _EMOTION_OF.get(token)
        # "not happy" is no joy; skip negated emotion words rather than guess their opposite.
        if emotion and not any(negated([w]) for w in tokens[max(0, i - 3) : i]):
            counts[emotion] += 1
    return sorted(counts, key=lambda e: (-counts[e], _EMOTION_ORDER.index(e)))


def _key_phrases(contributions: list[_Contribution]) -> list[_Contribution]:
    best: dict[str, _Contribution] = {}
    for item in contributions:
        if item.phrase not in best or abs(item.valence) > abs(best[item.phrase].valence):
            best[item.phrase] = item
    ranked = sorted(best.values(), key=lambda c: -abs(c.valence))
    return ranked[:MAX_KEY_PHRASES]


def _quoted(items: list[_Contribution]) -> str:
    return ", ".join(f'"{c.phrase}"' for c in items)


def _explanation(
    label: str, score: float, pos: float, neg: float, keys: list[_Contribution]
) -> str:
    scores = f"score {score:+.2f}; {pos:.0%} of the text reads positive, {neg:.0%} negative"
    positive = [c for c in keys if c.valence > 0]
    negative = [c for c in keys if c.valence < 0]
    if label == "mixed":
        return (
            f"Mixed ({scores}): positive words ({_quoted(positive)}) and negative words "
            f"({_quoted(negative)}) both carry weight."
        )
    if label == "neutral":
        if keys:
            return f"Neutral ({scores}): {_quoted(keys)} balance out or weigh little."
        return f"Neutral ({scores}): no words with a clear sentiment."
    drivers = positive if label == "positive" else negative
    return f"{label.capitalize()} ({scores}), mostly because of {_quoted(drivers or keys)}."


def local_analysis(text: str) -> Analysis:
    """An `Analysis` computed on this machine from VADER's scores and lexicon."""
    scores = score_text(text)
    label = scores.label
    if min(scores.pos, scores.neg) >= MIXED_MIN_SHARE and min(
        scores.pos, scores.neg
    ) >= MIXED_BALANCE * max(scores.pos, scores.neg):
        label = "mixed"
    tokens = _tokens(text)
    keys = _key_phrases(_contributions(tokens))
    return Analysis(
        label=label,
        score=scores.compound,
        emotions=_emotions(tokens),
        key_phrases=[c.phrase for c in keys],
        explanation=_explanation(label, scores.compound, scores.pos, scores.neg, keys),
        source="local",
    )


def analysis_or_fallback(model_text: str | None, user_text: str) -> Analysis:
    """The model's analysis when its answer is valid JSON of the schema, else the local one."""
    if model_text:
        parsed = parse_analysis(model_text)
        if parsed is not None:
            return parsed
    return local_analysis(user_text)


__all__ = [
    "ANALYSIS_SCHEMA",
    "LABELS",
    "Analysis",
    "analysis_or_fallback",
    "local_analysis",
    "parse_analysis",
    "response_format",
]
