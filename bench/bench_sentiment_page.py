"""What the sentiment page costs the server per rerun, without Streamlit: records to turn_frame,
every aggregate, every figure, and the figures' JSON (what `st.plotly_chart` serialises).

Run: `python -m bench sentiment_page`.
Each row: name, value, unit, target. The target is the rerun budget the page needs to feel
immediate (about 250 ms of server time at 1,000 messages, before the browser draws).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.sentiment import score_text, shared_analyzer, statistics
from assistant.sentiment.batch import to_csv_bytes
from bench.bench_sentiment import timed
from ui import charts

SIZES = (10, 100, 1_000)
OPENINGS = ["The app", "Your answer", "The update", "Support", "The battery", "The screen"]
VERDICTS = [
    "works perfectly, thank you so much",
    "is fine I guess",
    "keeps crashing and I am really frustrated",
    "is terrible, nothing works",
    "saved me hours this week",
    "could be better but it is ok",
]


def records(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """A conversation as the page builds it from the store: scores stored with each message."""
    out = []
    for i in range(n):
        speaker = "user" if i % 2 == 0 else "assistant"
        text = f"{rng.choice(OPENINGS)} {rng.choice(VERDICTS)}. " * rng.randint(1, 6)
        scores = score_text(text)
        out.append(
            {
                "role": speaker,
                "text": text,
                "compound": scores.compound,
                "pos": scores.pos,
                "neu": scores.neu,
                "neg": scores.neg,
                "message_id": f"m{i}",
                "conversation_id": "c1",
                "role_id": "gadget",
                "feedback": rng.choice([None, None, None, "up", "down"]) if i % 2 else None,
            }
        )
    return out


def build(messages: list[dict[str, Any]]) -> int:
    """Everything one rerun of the page computes; returns the bytes of figure JSON."""
    frame = statistics.turn_frame(messages)
    statistics.attention_turns(frame)
    statistics.unflagged_drops(frame)
    figures = [
        charts.compound_timeline(frame),
        charts.label_distribution(statistics.distribution(frame)),
        charts.role_comparison(statistics.by_role(frame)),
    ]
    return sum(len(figure.to_json()) for figure in figures)


def run() -> list[dict[str, Any]]:
    rng = random.Random(11)
    shared_analyzer()
    build(records(10, rng))  # warm up Plotly's validators once, as a running server has
    rows: list[dict[str, Any]] = []
    for n in SIZES:
        messages = records(n, rng)
        rows.append(
            {
                "name": f"sentiment page build (frame, aggregates, figures, JSON), {n:,} messages",
                "value": round(timed(lambda m=messages: build(m), repeat=5) * 1000, 1),
                "unit": "ms",
                "target": "< 250 ms",
            }
        )
        rows.append(
            {
                "name": f"sentiment page figure JSON, {n:,} messages",
                "value": round(build(messages) / 1024, 1),
                "unit": "kB",
                "target": "< 600 kB",
            }
        )
    frame = statistics.turn_frame(records(1_000, rng))
    rows.append(
        {
            "name": "sentiment page CSV download, 1,000 messages (built only when clicked)",
            "value": round(timed(lambda: to_csv_bytes(frame), repeat=3) * 1000, 1),
            "unit": "ms",
            "target": "< 250 ms",
        }
    )
    return rows
