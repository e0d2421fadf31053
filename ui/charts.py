"""Plotly figures for the sentiment and batch pages: pure functions from frames to figures.

Nothing here imports Streamlit, so the figures are unit-tested and benchmarked on their own.

Choices that are not obvious:

- Per-turn points are `Scattergl` (WebGL): a 1,000-message conversation draws as fast as a
  10-message one. Batch files (up to 200,000 rows) are never drawn point by point: they are
  aggregated first (label counts, a 40-bin histogram), so the figure stays a few kilobytes.
- Hover text carries a short excerpt of each message (`EXCERPT_CHARS`), whitespace collapsed
  and `<`, `>`, `&` escaped: Plotly renders a few HTML tags in hover labels (`<a href>`,
  `<b>`...), and message text comes from users and models.
- The timeline shows at most `MAX_TIMELINE_POINTS` messages (the latest): past that, "All
  conversations" of a heavy user would ship megabytes of excerpts to the browser on every rerun.
- Rolling-mean lines break between conversations (a NaN gap) instead of joining the end of one
  conversation to the start of the next.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from assistant.sentiment.scoring import NEUTRAL_BAND
from assistant.sentiment.statistics import ROLLING_WINDOW, label_array

EXCERPT_CHARS = 120
MAX_TIMELINE_POINTS = 5_000
HISTOGRAM_BINS = 40

SPEAKER_NAMES = {"user": "User", "assistant": "Assistant"}
SPEAKER_COLOURS = {"user": "#1f77b4", "assistant": "#ff7f0e"}
LABELS = ("positive", "neutral", "negative")
LABEL_COLOURS = {"positive": "#2ca02c", "neutral": "#9e9e9e", "negative": "#d62728"}
FEEDBACK_MARKS = {"up": "👍", "down": "👎"}

_SPACE = re.compile(r"\s+")
_UP_VALUES = frozenset({"up", "1", "thumbs_up", "positive", "👍"})
_DOWN_VALUES = frozenset({"down", "0", "-1", "thumbs_down", "negative", "👎"})


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """One line of at most `limit` characters (plus an ellipsis), safe in a hover label."""
    flat = _SPACE.sub(" ", text).strip()
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return html.escape(flat, quote=False)


def feedback_marks(feedback: pd.Series) -> pd.Series:
    """👍 / 👎 / "" for each feedback value (the store's "up"/"down", or a widget's 1/0)."""
    as_text = feedback.map(lambda v: "" if v is None or v != v else str(v).lower())
    return pd.Series(
        np.select(
            [as_text.isin(_UP_VALUES), as_text.isin(_DOWN_VALUES)],
            [FEEDBACK_MARKS["up"], FEEDBACK_MARKS["down"]],
            default="",
        ),
        index=feedback.index,
        dtype=object,
    )


def _neutral_band(figure: go.Figure, *, horizontal: bool = True) -> None:
    low, high = NEUTRAL_BAND
    style = {"fillcolor": LABEL_COLOURS["neutral"], "opacity": 0.18, "line_width": 0}
    if horizontal:
        figure.add_hrect(y0=low, y1=high, layer="below", name="neutral band", **style)
    else:
        figure.add_vrect(x0=low, x1=high, layer="below", name="neutral band", **style)


def _layout(figure: go.Figure, *, title: str, height: int) -> go.Figure:
    figure.update_layout(
        title={"text": title, "font": {"size": 15}},
        height=height,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
    )
    return figure


def _with_gaps(x: np.ndarray, y: np.ndarray, group: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """`x`, `y` with a NaN inserted wherever `group` changes, so a line breaks there."""
    codes = pd.factorize(group)[0]
    starts = np.flatnonzero(np.diff(codes)) + 1
    return np.insert(x.astype(float), starts, np.nan), np.insert(y, starts, np.nan)


def compound_timeline(frame: pd.DataFrame) -> go.Figure:
    """Compound score per message for user and assistant, their rolling means, feedback marks
    and the neutral band. `frame` is `assistant.sentiment.turn_frame`'s output."""
    total = len(frame)
    title = "Sentiment per message"
    if total > MAX_TIMELINE_POINTS:
        frame = frame.iloc[-MAX_TIMELINE_POINTS:]
        title += f" (the latest {MAX_TIMELINE_POINTS:,} of {total:,})"
    position = np.arange(total - len(frame) + 1, total + 1)
    marks = feedback_marks(frame["feedback"])
    hover = np.column_stack(
        [
            frame["text"].map(excerpt).to_numpy(dtype=object),
            frame["turn"].to_numpy(),
            frame["label"].to_numpy(dtype=object),
            marks.map(lambda m: f"<br>feedback {m}" if m else "").to_numpy(dtype=object),
        ]
    )
    template = (
        "<b>%{fullData.name}</b>, turn %{customdata[1]}: %{y:+.2f} (%{customdata[2]})"
        "%{customdata[3]}<br>%{customdata[0]}<extra></extra>"
    )
    figure = go.Figure()
    for speaker in ("user", "assistant"):
        mask = (frame["speaker"] == speaker).to_numpy()
        figure.add_trace(
            go.Scattergl(
                x=position[mask],
                y=frame["compound"].to_numpy()[mask],
                customdata=hover[mask],
                hovertemplate=template,
                mode="markers",
                name=SPEAKER_NAMES[speaker],
                marker={"color": SPEAKER_COLOURS[speaker], "size": 7},
            )
        )
    for speaker in ("user", "assistant"):
        mask = (frame["speaker"] == speaker).to_numpy()
        x, y = _with_gaps(
            position[mask], frame["rolling"].to_numpy()[mask], frame["conversation_id"][mask]
        )
        figure.add_trace(
            go.Scattergl(
                x=x,
                y=y,
                mode="lines",
                name=f"{SPEAKER_NAMES[speaker]}, mean of last {ROLLING_WINDOW}",
                line={"color": SPEAKER_COLOURS[speaker], "dash": "dash", "width": 2},
                hoverinfo="skip",
            )
        )
    for mark, symbol in ((FEEDBACK_MARKS["down"], "x-thin"), (FEEDBACK_MARKS["up"], "star")):
        mask = (marks == mark).to_numpy()
        if mask.any():
            figure.add_trace(
                go.Scattergl(
                    x=position[mask],
                    y=frame["compound"].to_numpy()[mask],
                    mode="markers",
                    name=f"Feedback {mark}",
                    marker={
                        "symbol": symbol,
                        "size": 14,
                        "color": LABEL_COLOURS["negative" if mark == "👎" else "positive"],
                        "line": {"width": 2},
                    },
                    hoverinfo="skip",
                )
            )
    _neutral_band(figure)
    figure.update_yaxes(title="Compound score", range=[-1.05, 1.05], zeroline=False)
    figure.update_xaxes(title="Message")
    figure.update_layout(hovermode="closest")
    return _layout(figure, title=title, height=420)


def label_counts(labels: pd.Series, name: str = "All rows") -> pd.DataFrame:
    """One row named `name` with the count of each label: the shape `label_distribution` draws."""
    counts = labels.value_counts().reindex(list(LABELS), fill_value=0)
    return pd.DataFrame([counts.to_numpy()], index=[name], columns=list(LABELS))


def label_distribution(
    counts: pd.DataFrame, *, title: str = "Positive, neutral, negative"
) -> go.Figure:
    """Stacked bars: one bar per row of `counts` (a speaker, or all rows), one colour per label.

    `counts` is `assistant.sentiment.distribution(frame)` or `label_counts(...)`.
    """
    names = [SPEAKER_NAMES.get(str(index), str(index)) for index in counts.index]
    totals = counts.sum(axis=1).replace(0, 1).to_numpy()
    figure = go.Figure()
    for label in LABELS:
        values = counts[label].to_numpy() if label in counts else np.zeros(len(counts), int)
        shares = values / totals
        figure.add_trace(
            go.Bar(
                x=names,
                y=values,
                name=label,
                marker_color=LABEL_COLOURS[label],
                customdata=shares,
                text=[
                    f"{share:.0%}" if value else ""
                    for value, share in zip(values, shares, strict=True)
                ],
                hovertemplate=(f"%{{x}}: %{{y:,}} {label} (%{{customdata:.0%}})<extra></extra>"),
            )
        )
    figure.update_layout(barmode="stack")
    figure.update_yaxes(title="Messages" if "user" in counts.index else "Rows")
    return _layout(figure, title=title, height=340)


def role_comparison(roles: pd.DataFrame, names: Mapping[str, str] | None = None) -> go.Figure:
    """Mean compound of user turns and of replies per chat role (`assistant.sentiment.by_role`).

    `names` maps role ids to the labels people know them by.
    """
    labels = [(names or {}).get(role_id, role_id) for role_id in roles["role_id"]]
    figure = go.Figure()
    for column, speaker in (("user_mean", "user"), ("assistant_mean", "assistant")):
        figure.add_trace(
            go.Bar(
                x=labels,
                y=roles[column].to_numpy(dtype=float),
                name=f"{SPEAKER_NAMES[speaker]} (mean)",
                marker_color=SPEAKER_COLOURS[speaker],
                customdata=roles["messages"].to_numpy(),
                hovertemplate=(
                    "%{x}: %{y:+.2f} mean, %{customdata:,} messages in this role<extra></extra>"
                ),
            )
        )
    _neutral_band(figure)
    figure.update_layout(barmode="group")
    figure.update_yaxes(title="Mean compound", range=[-1.05, 1.05], zeroline=True)
    return _layout(figure, title="By chat role", height=340)


def compound_histogram(compound: pd.Series, *, bins: int = HISTOGRAM_BINS) -> go.Figure:
    """How many rows fall in each compound range, counted here (not in the browser)."""
    edges = np.linspace(-1.0, 1.0, bins + 1)
    values = np.clip(compound.to_numpy(dtype=float), -1.0, 1.0)
    counts, _ = np.histogram(values[~np.isnan(values)], bins=edges)
    centres = (edges[:-1] + edges[1:]) / 2
    colours = [LABEL_COLOURS[label] for label in label_array(centres)]
    figure = go.Figure(
        go.Bar(
            x=centres,
            y=counts,
            width=(edges[1] - edges[0]) * 0.95,
            marker_color=colours,
            customdata=np.column_stack([edges[:-1], edges[1:]]),
            hovertemplate=(
                "%{customdata[0]:+.2f} to %{customdata[1]:+.2f}: %{y:,} rows<extra></extra>"
            ),
            name="rows",
        )
    )
    _neutral_band(figure, horizontal=False)
    figure.update_xaxes(title="Compound score", range=[-1.05, 1.05])
    figure.update_yaxes(title="Rows")
    figure.update_layout(showlegend=False)
    return _layout(figure, title="Compound scores", height=340)


def score_gauge(score: float, label: str) -> go.Figure:
    """A one-line bar from 0 to `score` on a -1..1 axis, coloured by `label`, over the neutral
    band: a diverging bar reads as "how far from neutral, and which way" at a glance."""
    colour = LABEL_COLOURS.get(label, "#9467bd")  # "mixed" has no VADER colour
    figure = go.Figure(
        go.Bar(
            x=[score],
            y=[""],
            base=0,
            orientation="h",
            marker_color=colour,
            width=0.6,
            hovertemplate=f"{html.escape(label)}: %{{x:+.2f}}<extra></extra>",
            name="score",
        )
    )
    _neutral_band(figure, horizontal=False)
    figure.add_vline(x=0, line_width=1, line_color="#888888")
    figure.update_xaxes(range=[-1, 1], tickvals=[-1, -0.5, 0, 0.5, 1], fixedrange=True)
    figure.update_yaxes(visible=False, fixedrange=True)
    figure.update_layout(
        height=70, margin={"l": 8, "r": 8, "t": 4, "b": 4}, showlegend=False, bargap=0
    )
    return figure


__all__ = [
    "EXCERPT_CHARS",
    "LABEL_COLOURS",
    "MAX_TIMELINE_POINTS",
    "SPEAKER_COLOURS",
    "compound_histogram",
    "compound_timeline",
    "excerpt",
    "feedback_marks",
    "label_counts",
    "label_distribution",
    "role_comparison",
    "score_gauge",
]
