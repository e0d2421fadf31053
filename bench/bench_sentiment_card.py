"""How often the sentiment card's local reading agrees with people: the labelled set.

tests/data/support_messages.csv holds short customer-support messages, each with the label a
person gave it (positive, negative, neutral or mixed), written before any scorer was run on
them. This prints the share the local reading (VADER's word list, `local_analysis`) labels
the same way, and one confusion row per gold label: how that label's messages were read.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LABELLED_SET = ROOT / "tests" / "data" / "support_messages.csv"
LABELS = ("positive", "negative", "neutral", "mixed")
#: The floor tests/test_sentiment_card.py holds the reading to.
TARGET = ">= 0.70"


def run() -> list[dict[str, Any]]:
    from assistant.sentiment.card import local_analysis

    with LABELLED_SET.open(encoding="utf-8", newline="") as handle:
        rows = [(row["text"], row["label"]) for row in csv.DictReader(handle)]
    started = time.perf_counter()
    read = [local_analysis(text).label for text, _ in rows]
    per_message = (time.perf_counter() - started) / len(rows)
    confusion = Counter(zip((label for _, label in rows), read, strict=True))
    agreed = sum(confusion[(label, label)] for label in LABELS)
    result: list[dict[str, Any]] = [
        {
            "name": f"card, local reading: agreement with {len(rows)} labelled messages",
            "value": round(agreed / len(rows), 3),
            "unit": f"{agreed} of {len(rows)}",
            "target": TARGET,
        }
    ]
    for gold in LABELS:
        total = sum(confusion[(gold, label)] for label in LABELS)
        result.append(
            {
                "name": f"card, local reading: {total} {gold} read as pos/neg/neu/mixed",
                "value": "/".join(str(confusion[(gold, label)]) for label in LABELS),
                "unit": "messages",
                "target": None,
            }
        )
    result.append(
        {
            "name": "card, local reading: time per message (first read, cold cache)",
            "value": round(per_message * 1000, 2),
            "unit": "ms",
            "target": None,
        }
    )
    return result
