"""The sentiment figures: traces, bands, hover excerpts, and how much reaches the browser."""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from assistant.sentiment import NEUTRAL_BAND
from assistant.sentiment.statistics import by_role, distribution, turn_frame
from ui import charts


def chat(*turns: tuple[str, str], conversation: str = "c1", **extra: Any) -> list[dict[str, Any]]:
    return [
        {"role": role, "text": text, "conversation_id": conversation, **extra}
        for role, text in turns
    ]


def by_name(figure: go.Figure) -> dict[str, Any]:
    return {trace.name: trace for trace in figure.data}


CONVERSATION = chat(
    ("user", "I love this phone, the screen is gorgeous."),
    ("assistant", "Glad to hear it! Anything else?"),
    ("user", "The battery is terrible and support was useless."),
    ("assistant", "Sorry about that. Try a battery calibration."),
    ("user", "Still awful."),
    ("assistant", "Then a replacement under warranty is the way."),
)


def test_timeline_draws_each_speaker_and_its_rolling_mean() -> None:
    frame = turn_frame(CONVERSATION)
    traces = by_name(charts.compound_timeline(frame))
    assert {"User", "Assistant"} <= set(traces)
    assert all(t.type == "scattergl" for t in traces.values())
    assert list(traces["User"].x) == [1, 3, 5]
    assert list(traces["Assistant"].x) == [2, 4, 6]
    user = frame[frame["speaker"] == "user"]
    assert list(traces["User"].y) == list(user["compound"])
    rolling = traces["User, mean of last 5"]
    assert rolling.mode == "lines"
    assert list(rolling.y) == list(user["rolling"])


def test_timeline_shades_the_neutral_band() -> None:
    figure = charts.compound_timeline(turn_frame(CONVERSATION))
    bands = [s for s in figure.layout.shapes if s.name == "neutral band"]
    assert len(bands) == 1
    assert (bands[0].y0, bands[0].y1) == NEUTRAL_BAND
    assert tuple(figure.layout.yaxis.range) == (-1.05, 1.05)


def test_hover_shows_a_short_escaped_excerpt_of_the_message() -> None:
    long_text = "<script>alert(1)</script> " + "word " * 100
    frame = turn_frame(chat(("user", long_text), ("assistant", "ok")))
    hover = by_name(charts.compound_timeline(frame))["User"].customdata[0][0]
    assert len(html.unescape(hover)) == charts.EXCERPT_CHARS
    assert hover.endswith("…")
    assert "<script>" not in hover and "&lt;script&gt;" in hover
    assert "\n" not in charts.excerpt("line one\n\n  line two") == "line one line two"


def test_rolling_lines_break_between_conversations() -> None:
    records = chat(("user", "great"), ("assistant", "thanks"), conversation="a")
    records += chat(("user", "awful"), ("assistant", "sorry"), conversation="b")
    figure = charts.compound_timeline(turn_frame(records))
    rolling_y = list(by_name(figure)["User, mean of last 5"].y)
    assert len(rolling_y) == 3 and math.isnan(rolling_y[1])
    assert list(by_name(figure)["User"].x) == [1, 3]  # points themselves are not padded


def test_feedback_is_marked_on_the_reply_it_was_given_to() -> None:
    records = chat(("user", "hi"), ("assistant", "hello"), ("user", "bad"), ("assistant", "oh"))
    records[1]["feedback"] = "down"
    records[3]["feedback"] = "up"
    traces = by_name(charts.compound_timeline(turn_frame(records)))
    assert list(traces["Feedback 👎"].x) == [2]
    assert list(traces["Feedback 👍"].x) == [4]
    assert "feedback 👎" in traces["Assistant"].customdata[0][3]


def test_a_huge_timeline_keeps_only_the_latest_messages() -> None:
    n = charts.MAX_TIMELINE_POINTS + 10
    records = [
        {"role": "user" if i % 2 == 0 else "assistant", "text": "x", "compound": 0.1}
        for i in range(n)
    ]
    figure = charts.compound_timeline(turn_frame(records))
    traces = by_name(figure)
    drawn = len(traces["User"].x) + len(traces["Assistant"].x)
    assert drawn == charts.MAX_TIMELINE_POINTS
    assert min(traces["User"].x) == 11 and max(traces["Assistant"].x) == n
    assert f"{n:,}" in figure.layout.title.text


def test_distribution_stacks_label_counts_per_speaker() -> None:
    counts = distribution(turn_frame(CONVERSATION))
    figure = charts.label_distribution(counts)
    traces = by_name(figure)
    assert list(traces) == ["positive", "neutral", "negative"]
    assert list(traces["positive"].x) == ["Assistant", "User"]
    for label, trace in traces.items():
        assert list(trace.y) == list(counts[label])
    assert figure.layout.barmode == "stack"


def test_label_counts_feed_the_same_chart_for_batch_rows() -> None:
    labels = pd.Series(["positive", "negative", "positive"])
    counts = charts.label_counts(labels)
    assert counts.loc["All rows"].tolist() == [2, 0, 1]
    assert list(by_name(charts.label_distribution(counts))["positive"].x) == ["All rows"]


def test_role_comparison_names_roles_and_compares_both_speakers() -> None:
    records = chat(("user", "great"), ("assistant", "thanks"), role_id="gadget")
    records += chat(("user", "awful"), ("assistant", "sorry"), role_id="legal")
    figure = charts.role_comparison(by_role(turn_frame(records)), {"gadget": "📱 Gadget"})
    traces = by_name(figure)
    assert list(traces["User (mean)"].x) == ["📱 Gadget", "legal"]
    assert traces["User (mean)"].y[0] > 0 > traces["User (mean)"].y[1]
    assert "Assistant (mean)" in traces


def test_histogram_counts_rows_on_the_server() -> None:
    rng = np.random.default_rng(3)
    compound = pd.Series(np.append(rng.uniform(-1, 1, 100_000), [np.nan, 1.0, -1.0]))
    figure = charts.compound_histogram(compound)
    (bars,) = figure.data
    assert len(bars.x) == charts.HISTOGRAM_BINS
    assert sum(bars.y) == 100_002  # NaN left out, both ends counted
    assert len(figure.to_json()) < 20_000  # aggregated: not 100,000 points


def test_gauge_draws_the_score_from_zero_in_its_label_colour() -> None:
    figure = charts.score_gauge(-0.62, "negative")
    (bar,) = figure.data
    assert list(bar.x) == [-0.62] and bar.base == 0
    assert bar.marker.color == charts.LABEL_COLOURS["negative"]
    assert tuple(figure.layout.xaxis.range) == (-1, 1)
    assert charts.score_gauge(0.3, "mixed").data[0].marker.color not in charts.LABEL_COLOURS


def test_feedback_marks_read_store_and_widget_values() -> None:
    marks = charts.feedback_marks(pd.Series(["up", "down", None, 1, 0, float("nan"), "meh"]))
    assert marks.tolist() == ["👍", "👎", "", "👍", "👎", "", ""]
