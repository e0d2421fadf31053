"""The sentiment role's analysis card: the model's JSON answer checked against the role's
output schema, or else a reading of the text by VADER's word list.

The role asks for JSON following `assistant/roles/sentiment.schema.json` (sent as the request's
`response_format` when the model supports structured output). Support varies by provider, and
the JSON arrives as a string in the message content, so `parse_analysis` checks it against that
same schema and returns None when anything is off: a wrong type, an unknown label, a score
outside -1..1, a missing or an extra key. Nothing is clamped or coerced silently, because a
repaired answer would look like the model's when it is not. `analysis_or_fallback` then
answers with `local_analysis`, marked `source="local"`.

The local reading states only what the word list saw:

- its key phrases are the words VADER scored, with the sign VADER gave them after negation and
  boosters (`words.scored_words`), sentence by sentence as the score itself is computed;
- "mixed" needs praise and complaint of comparable strength among those words: the weaker side
  at least `MIXED_BALANCE` of the stronger, measured before VADER's "but" rule (that rule
  decides which side the overall score leans to, not whether both are there);
- a text in which the word list found no sentiment word says so (`found_words` is False)
  instead of presenting "neutral, +0.00" as a finding.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from assistant.errors import ConfigurationError
from assistant.roles import builtin_roles
from assistant.roles.schema import problem
from assistant.sentiment.scoring import score_text, split_pieces
from assistant.sentiment.words import ScoredWord, scored_words

#: The role whose output schema the card reads.
ROLE_ID = "sentiment"
LABELS = ("positive", "negative", "neutral", "mixed")
#: The fields the card draws: the schema must have exactly these.
FIELDS = frozenset({"label", "score", "emotions", "key_phrases", "explanation"})
#: The weaker of praise and complaint must reach this share of the stronger for "mixed".
MIXED_BALANCE = 0.5
MAX_KEY_PHRASES = 5


@dataclass(frozen=True)
class Analysis:
    label: str
    score: float
    emotions: list[str]
    key_phrases: list[str]
    explanation: str
    source: str  # "model" (parsed from the model's JSON) or "local" (VADER's word list here)
    #: Local readings: "positive" or "negative" for each key phrase, as VADER scored it. The
    #: model's schema carries no polarity per phrase, so its analyses leave this empty.
    polarities: tuple[str, ...] = ()

    @property
    def found_words(self) -> bool:
        """False when this is a local reading in which the word list found no sentiment word:
        its "neutral, +0.00" then means "cannot tell", not "neither good nor bad"."""
        return self.source != "local" or bool(self.key_phrases)


def analysis_schema() -> Mapping[str, Any]:
    """The sentiment role's output schema, as loaded with the role (see `assistant.roles`)."""
    schema = builtin_roles()[ROLE_ID].output_schema
    if schema is None or set(schema.get("properties", {})) != FIELDS:
        fields = ", ".join(sorted(FIELDS))
        raise ConfigurationError(f"The {ROLE_ID} role needs an output_schema with {fields}.")
    return schema


_FENCE = re.compile(r"\A```(?:json|JSON)?[ \t]*\r?\n(?P<body>.*?)\r?\n?```\Z", re.DOTALL)


def parse_analysis(text: str, schema: Mapping[str, Any] | None = None) -> Analysis | None:
    """The model's JSON answer as an `Analysis`, or None when it does not follow the schema
    (the sentiment role's unless `schema` is given). A fenced code block around it is fine."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group("body").strip()
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if problem(data, schema if schema is not None else analysis_schema()) is not None:
        return None
    return Analysis(
        label=data["label"],
        score=float(data["score"]),
        emotions=list(data["emotions"]),
        key_phrases=list(data["key_phrases"]),
        explanation=data["explanation"],
        source="model",
    )


# --- the local reading: VADER's word list ----------------------------------------------------

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


def _tokens(text: str) -> list[str]:
    # VADER's own tokenisation: split on whitespace, strip punctuation unless that leaves
    # two characters or fewer (so emoticons like ":)" survive).
    tokens = []
    for raw in text.split():
        stripped = raw.strip(string.punctuation)
        tokens.append((raw if len(stripped) <= 2 else stripped).lower())
    return tokens


def _emotions(text: str) -> list[str]:
    """Emotion words found, most frequent first. Sentence by sentence, like the score: a
    negation ends at the full stop. Negated emotion words are skipped ("not happy" is no
    joy) rather than guessed into their opposite."""
    from vaderSentiment.vaderSentiment import negated

    counts: Counter[str] = Counter()
    for piece, _ in split_pieces(text):
        tokens = _tokens(piece)
        for i, token in enumerate(tokens):
            emotion = _EMOTION_OF.get(token)
            before = tokens[max(0, i - 3) : i]
            if emotion and not (negated(before) or "no" in before[-2:]):
                counts[emotion] += 1
    return sorted(counts, key=lambda e: (-counts[e], _EMOTION_ORDER.index(e)))


def _label(compound_label: str, words: list[ScoredWord]) -> str:
    praise = sum(w.strength for w in words if w.strength > 0)
    complaint = -sum(w.strength for w in words if w.strength < 0)
    if min(praise, complaint) >= MIXED_BALANCE * max(praise, complaint) > 0:
        return "mixed"
    return compound_label


def _key_phrases(words: list[ScoredWord], label: str) -> list[ScoredWord]:
    """The strongest phrases, each once. A mixed reading takes them from both sides in turn;
    a positive or negative one always includes the strongest phrase of its own side."""
    best: dict[str, ScoredWord] = {}
    for word in words:
        if word.phrase not in best or abs(word.valence) > abs(best[word.phrase].valence):
            best[word.phrase] = word
    ranked = sorted(best.values(), key=lambda w: -abs(w.valence))
    if label == "mixed":
        sides = [[w for w in ranked if w.valence > 0], [w for w in ranked if w.valence < 0]]
        turns = zip_longest(*sorted(sides, key=lambda side: -abs(side[0].valence)))
        return [w for pair in turns for w in pair if w is not None][:MAX_KEY_PHRASES]
    keys = ranked[:MAX_KEY_PHRASES]
    sign = {"positive": 1, "negative": -1}.get(label)
    if sign and keys and not any(w.valence * sign > 0 for w in keys):
        strongest = next((w for w in ranked if w.valence * sign > 0), None)
        if strongest is not None:
            keys[-1] = strongest
    return keys


def _quoted(words: list[ScoredWord]) -> str:
    return ", ".join(f'"{w.phrase}"' for w in words)


def _explanation(label: str, score: float, keys: list[ScoredWord]) -> str:
    if not keys:
        return (
            "The word list found no words with a sentiment in this text, so it cannot tell "
            "how it reads."
        )
    positive = [w for w in keys if w.valence > 0]
    negative = [w for w in keys if w.valence < 0]
    if label == "mixed":
        return (
            f"Mixed (overall {score:+.2f}): {_quoted(positive)} read positive and "
            f"{_quoted(negative)} negative, with comparable weight."
        )
    if label == "neutral":
        return f"Neutral ({score:+.2f}): {_quoted(keys)} weigh little or balance out."
    drivers, others = (positive, negative) if label == "positive" else (negative, positive)
    text = f"{label.capitalize()} ({score:+.2f}), because of {_quoted(drivers)}."
    if others:
        opposite = "negative" if label == "positive" else "positive"
        verbs = ("reads", "weighs") if len(others) == 1 else ("read", "weigh")
        text += f" {_quoted(others)} {verbs[0]} {opposite} to the word list but {verbs[1]} less."
    return text


def local_analysis(text: str) -> Analysis:
    """An `Analysis` of `text` by VADER's word list on this machine (see the module docstring)."""
    scores = score_text(text)
    words = scored_words(text)
    label = _label(scores.label, words) if words else "neutral"
    keys = _key_phrases(words, label)
    return Analysis(
        label=label,
        score=scores.compound,
        emotions=_emotions(text),
        key_phrases=[w.phrase for w in keys],
        explanation=_explanation(label, scores.compound, keys),
        source="local",
        polarities=tuple("positive" if w.valence > 0 else "negative" for w in keys),
    )


def analysis_or_fallback(model_text: str | None, user_text: str) -> Analysis:
    """The model's analysis when its answer is valid JSON of the schema, else the local one."""
    if model_text:
        parsed = parse_analysis(model_text)
        if parsed is not None:
            return parsed
    return local_analysis(user_text)


__all__ = [
    "FIELDS",
    "LABELS",
    "MIXED_BALANCE",
    "ROLE_ID",
    "Analysis",
    "analysis_or_fallback",
    "analysis_schema",
    "local_analysis",
    "parse_analysis",
]
