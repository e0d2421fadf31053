"""Which words VADER scored in a text, and what each one added to the score.

The sentiment card explains a score by the words behind it, so those must be the words VADER
actually counted, with the sign it gave them after its own rules. The rules are not written
again here: each piece of the text (the sentences `score_text` scores, see `scoring`) goes
through VADER's own steps, the loop of `SentimentIntensityAnalyzer.polarity_scores` stopped
before its sum: emoji replaced by their names, its tokens, its `sentiment_valence` for each
token (negation up to three words back, boosters, capitals, "no", "least", idioms) and its
"but" rule. The tests check that summing these valences the way VADER does gives back its
`polarity_scores` for every message of the labelled set, so a change in vaderSentiment's
internals cannot go unnoticed.

What this module adds is the phrase: the scored word together with the words before it that
changed it (a negation, "no", "least", a booster right before it), so the card shows "not
happy" rather than "happy", and an emoji rather than the words of its name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from assistant.sentiment.scoring import shared_analyzer, split_pieces

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class ScoredWord:
    #: The word as written (lower case), with the words before it that changed its valence.
    phrase: str
    #: What VADER added to its sum for this word, after every rule, "but" included.
    valence: float
    #: The same before VADER's "but" rule (which halves the words before "but" and raises
    #: those after it by half): how strong the word is on its own.
    strength: float


def _emoji_to_words(analyzer: Any, piece: str) -> tuple[str, list[tuple[int, int, str]]]:
    """VADER's replacement of emoji by their names, and where each name landed in the result."""
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    length = 0
    prev_space = True
    for char in piece:  # the same steps as polarity_scores, keeping the positions
        description = analyzer.emojis.get(char)
        if description is not None:
            if not prev_space:
                out.append(" ")
                length += 1
            spans.append((length, length + len(description), char))
            out.append(description)
            length += len(description)
            prev_space = False
        else:
            out.append(char)
            length += 1
            prev_space = char == " "
    joined = "".join(out)
    shift = len(joined) - len(joined.lstrip())
    return joined.strip(), [(a - shift, b - shift, char) for a, b, char in spans]


def _shown(
    text: str, tokens: list[str], spans: list[tuple[int, int, str]]
) -> list[tuple[str, int]]:
    """Each of VADER's tokens as the card shows it: lower case, or the emoji its words came from
    with that emoji's index (so the words of one emoji's name become one emoji; -1 for words).
    VADER's tokens are `text.split()` with punctuation trimmed, so they pair with the matches."""
    shown: list[tuple[str, int]] = []
    for token, match in zip(tokens, _WORD.finditer(text), strict=True):
        owner = next(
            (k for k, (a, b, _) in enumerate(spans) if a < match.end() and match.start() < b),
            -1,
        )
        shown.append((spans[owner][2], owner) if owner >= 0 else (token.lower(), -1))
    return shown


def _modifiers_start(lower: list[str], i: int, lexicon: Any) -> int:
    """Where the phrase for `lower[i]` starts: at the first negation VADER applied to it, or
    at a booster right before it.

    VADER lets negations and boosters up to three words back change a word, skipping words
    that are sentiment words themselves. Every negation is kept in the phrase, since it flips
    the sign; a booster further back only scales the word, and "really appreciate your help"
    reads better as "really appreciate" and "help".
    """
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, negated

    start = i
    for back in (1, 2, 3):
        j = i - back
        if j < 0:
            break
        word = lower[j]
        if word in lexicon:
            continue
        if negated([word]) or (back == 1 and word in BOOSTER_DICT):
            start = j
    # "no" negates the next two words, or the third after "or"/"nor"; "least" the next.
    if i > 0 and lower[i - 1] in ("no", "least"):
        start = min(start, i - 1)
    if i > 1 and lower[i - 2] == "no":
        start = min(start, i - 2)
    if i > 2 and lower[i - 3] == "no" and lower[i - 1] in ("or", "nor"):
        start = min(start, i - 3)
    return start


def piece_valences(analyzer: Any, piece: str) -> tuple[str, list[str], list[float], list[float]]:
    """VADER's text, tokens, and per-token valences before and after its "but" rule, for one
    piece: the list `polarity_scores` sums (`analyzer.score_valence(after, text)` is its
    answer)."""
    text, _, tokens, before, after = _vader_piece(analyzer, piece)
    return text, tokens, before, after


def _vader_piece(
    analyzer: Any, piece: str
) -> tuple[str, list[tuple[int, int, str]], list[str], list[float], list[float]]:
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentiText

    text, spans = _emoji_to_words(analyzer, piece)
    senti = SentiText(text)
    tokens = senti.words_and_emoticons
    sentiments: list[float] = []
    for i, item in enumerate(tokens):  # polarity_scores' loop, step for step
        lower = item.lower()
        if lower in BOOSTER_DICT or (
            lower == "kind" and i < len(tokens) - 1 and tokens[i + 1].lower() == "of"
        ):
            sentiments.append(0.0)
            continue
        sentiments = analyzer.sentiment_valence(0.0, senti, item, i, sentiments)
    before = [float(v) for v in sentiments]
    after = [float(v) for v in analyzer._but_check(tokens, list(sentiments))]
    return text, spans, tokens, before, after


def scored_words(text: str, *, analyzer: Any | None = None) -> list[ScoredWord]:
    """Every word VADER gave a valence in `text`, in reading order, piece by piece."""
    vader: Any = analyzer if analyzer is not None else shared_analyzer()
    found: list[ScoredWord] = []
    for piece, _ in split_pieces(text):
        vader_text, spans, tokens, before, after = _vader_piece(vader, piece)
        shown = _shown(vader_text, tokens, spans)
        lower = [token.lower() for token in tokens]
        from_emoji: dict[int, int] = {}  # emoji index -> its entry in `found`
        for i, valence in enumerate(after):
            if valence == 0:
                continue
            owner = shown[i][1]
            if owner in from_emoji:  # another word of the same emoji's name: one entry
                earlier = found[from_emoji[owner]]
                found[from_emoji[owner]] = ScoredWord(
                    earlier.phrase,
                    round(earlier.valence + valence, 4),
                    round(earlier.strength + before[i], 4),
                )
                continue
            words: list[str] = []
            for k in range(_modifiers_start(lower, i, vader.lexicon), i + 1):
                if not words or shown[k][1] < 0 or shown[k][1] != shown[k - 1][1]:
                    words.append(shown[k][0])
            if owner >= 0:
                from_emoji[owner] = len(found)
            found.append(ScoredWord(" ".join(words), round(valence, 4), round(before[i], 4)))
    return found


__all__ = ["ScoredWord", "piece_valences", "scored_words"]
