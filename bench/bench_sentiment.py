"""How fast sentiment scoring and the sentiment page's aggregates are on this machine.

Run: `python -m bench sentiment`. Each row: name, value, unit, target.
Targets are what the page needs to feel immediate (a rerun budget of about 100 ms for the
aggregates of a long conversation) and what an analyst will wait for (a 100,000-row file in
well under a minute).
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from assistant.sentiment import score_many, scoring
from assistant.sentiment.batch import score_frame
from assistant.sentiment.statistics import (
    attention_turns,
    by_role,
    distribution,
    turn_frame,
    unflagged_drops,
)

SUBJECTS = [
    "the app",
    "your answer",
    "the new update",
    "this feature",
    "the checkout page",
    "support",
    "the search",
    "the export",
    "my dashboard",
    "the login",
    "the summary",
    "the translation",
]
VERDICTS = [
    "works perfectly",
    "is really helpful",
    "is great, thanks",
    "is fine I guess",
    "is slow again",
    "keeps crashing",
    "is confusing",
    "is terrible",
    "did not help at all",
    "saved me hours",
    "is exactly what I needed",
    "is broken since yesterday",
    "looks ok",
    "makes me so frustrated",
    "is surprisingly good",
    "could be better",
]
ENDINGS = ["", "!", ".", " :)", " :(", "?", "!!", ". Please fix it.", ". Love it."]
WORDS = [
    "good", "bad", "slow", "fast", "happy", "sad", "love", "hate", "help", "broken", "fix",
    "great", "awful", "fine", "nice", "ok", "confusing", "clear", "useful", "useless", "thanks",
    "sorry", "again", "never", "always", "really", "very", "quite", "the", "a", "my", "your",
    "it", "is", "was", "and", "but", "not",
]  # fmt: skip


def chat_message(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERDICTS)}{rng.choice(ENDINGS)}"


def distinct_message(rng: random.Random, index: int) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16)))
    return f"{chat_message(rng)} {words} (ticket {index})."


def clear_piece_cache() -> None:
    scoring._shared_piece_scores.cache_clear()


def timed(action: Callable[[], Any], repeat: int = 1) -> float:
    """The fastest of `repeat` runs of `action`, in seconds (the least disturbed by others)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def conversation(n: int, rng: random.Random) -> list[dict[str, Any]]:
    records = []
    for i in range(n):
        scores = scoring.score_text(chat_message(rng))
        records.append(
            {
                "role": "user" if i % 2 == 0 else "assistant",
                "text": f"message {i}",
                "compound": scores.compound,
                "pos": scores.pos,
                "neu": scores.neu,
                "neg": scores.neg,
                "message_id": i,
                "conversation_id": 1,
                "role_id": rng.choice(["coach", "critic", None]),
                "feedback": rng.choice([None, None, None, 0, 1]),
            }
        )
    return records


def run() -> list[dict[str, Any]]:
    rng = random.Random(7)
    rows: list[dict[str, Any]] = []
    scoring.shared_analyzer()  # build once outside the measurements

    messages = [distinct_message(rng, i) for i in range(5_000)]
    clear_piece_cache()
    seconds = timed(lambda: score_many(messages))
    rows.append(
        {
            "name": "score_text, short distinct chat messages (cold cache)",
            "value": round(len(messages) / seconds),
            "unit": "messages/s",
            "target": ">= 5,000",
        }
    )

    analyzer = scoring.shared_analyzer()
    seconds = timed(lambda: [analyzer.polarity_scores(m) for m in messages])
    rows.append(
        {
            "name": "reference: raw VADER polarity_scores on the same messages",
            "value": round(len(messages) / seconds),
            "unit": "messages/s",
            "target": "(baseline, no splitting or caching)",
        }
    )

    long_text = " ".join(chat_message(rng) + "." for _ in range(120))
    words = len(long_text.split())
    clear_piece_cache()
    seconds = timed(lambda: scoring.score_text(long_text))
    rows.append(
        {
            "name": f"score_text, one {words}-word text (cold cache)",
            "value": round(seconds * 1000, 2),
            "unit": "ms",
            "target": "< 10 ms",
        }
    )
    rows.append(
        {
            "name": f"reference: raw VADER on the same {words}-word text in one call",
            "value": round(timed(lambda: analyzer.polarity_scores(long_text)) * 1000, 2),
            "unit": "ms",
            "target": "(baseline; cost grows faster than length)",
        }
    )

    for n in (10, 100, 1_000):
        records = conversation(n, rng)

        def aggregates(records: list[dict[str, Any]] = records) -> None:
            frame = turn_frame(records)
            distribution(frame)
            by_role(frame)
            attention_turns(frame)
            unflagged_drops(frame)

        rows.append(
            {
                "name": f"turn_frame + all aggregates, {n:,} messages",
                "value": round(timed(aggregates, repeat=5) * 1000, 1),
                "unit": "ms",
                "target": "< 100 ms",
            }
        )

    unscored = [
        {"role": "user" if i % 2 == 0 else "assistant", "text": distinct_message(rng, i)}
        for i in range(1_000)
    ]
    clear_piece_cache()
    rows.append(
        {
            "name": "turn_frame, 1,000 messages without stored scores (scores them)",
            "value": round(timed(lambda: turn_frame(unscored)) * 1000, 1),
            "unit": "ms",
            "target": "< 500 ms",
        }
    )

    for label, texts in (
        ("repeated chat messages", [chat_message(rng) for _ in range(100_000)]),
        ("all distinct texts", [distinct_message(rng, i) for i in range(100_000)]),
    ):
        frame = pd.DataFrame({"id": range(len(texts)), "text": texts})
        distinct = frame["text"].nunique()
        clear_piece_cache()
        seconds = timed(lambda frame=frame: score_frame(frame, "text"))
        rows.append(
            {
                "name": f"score_frame, 100,000 rows, {label} ({distinct:,} distinct texts)",
                "value": round(seconds, 2),
                "unit": "s",
                "target": "< 60 s",
            }
        )
    return rows
