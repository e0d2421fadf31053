"""The sentiment-analysis role's structured answer, drawn in the chat as a compact card.

Every string in an `Analysis` may come from the model (and, through it, from text a user
pasted), so labels, emotions and key phrases are shown as literal text: Markdown syntax in them
is escaped, and emotions are cut down to plain words before they go inside a badge. The
explanation is prose and goes through `make_safe` like any reply.

The card says first whose reading it is: the model's, or the local word list's (VADER, no AI
model), because the two deserve different trust. A local reading marks each key phrase with
the sign the word list gave it, as text and not by colour alone.

The score bar is a Plotly chart, and Streamlit refuses two charts with identical figures and no
key on one page (the same analysis twice in a transcript would do that): pass `key`, e.g. the
message id. A zero score gets no bar: an empty track says nothing.
"""

from __future__ import annotations

import hashlib
import re
from itertools import zip_longest

import streamlit as st

from assistant.safe_markdown import escape_markdown, make_safe
from assistant.sentiment.card import Analysis
from ui.charts import score_gauge

#: Badge colour and emoji per label (Streamlit's Markdown colour names).
LABEL_STYLE = {
    "positive": ("green", "😊"),
    "negative": ("red", "😟"),
    "neutral": ("gray", "😐"),
    "mixed": ("orange", "🤔"),
}
#: How each phrase's sign is shown in a local reading (text, not colour alone).
POLARITY_MARKS = {"positive": ":green[(+)]", "negative": ":red[(−)]"}
LOCAL_MARKER = "Local reading (word list, no AI model)"
MODEL_MARKER = "From the model"
NO_WORDS = "😶 No sentiment words found"
MAX_EMOTIONS = 8
MAX_PHRASES = 8
CHART_CONFIG = {"displayModeBar": False, "staticPlot": True}

_NOT_WORD = re.compile(r"[^\w\s'’-]+")


def badge_text(text: str, limit: int = 30) -> str:
    """A plain word or two for inside a badge: letters, digits, spaces, apostrophes, hyphens."""
    return " ".join(_NOT_WORD.sub(" ", text).split())[:limit].strip()


def _chart_key(analysis: Analysis, key: str | None) -> str:
    if key:
        return f"analysis_score_{key}"
    digest = hashlib.sha256(repr(analysis).encode("utf-8")).hexdigest()[:16]
    return f"analysis_score_{digest}"


def _phrase(text: str, polarity: str) -> str:
    mark = POLARITY_MARKS.get(polarity, "")
    return f"“{escape_markdown(text)}”" + (f" {mark}" if mark else "")


def draw_analysis_card(analysis: Analysis, *, key: str | None = None) -> None:
    """Where the reading came from, label and score with a bar of it, emotions, key phrases
    (with the sign the word list gave each, for a local reading) and the explanation.

    No bar is drawn for a score of zero (it would be an empty track), and a local reading
    that found no sentiment word says so instead of showing "neutral, +0.00" as a finding."""
    colour, emoji = LABEL_STYLE.get(analysis.label, ("violet", "📊"))
    label = escape_markdown(analysis.label.capitalize())
    with st.container(border=True):
        if analysis.source == "local":
            st.caption(
                f":material/menu_book: **{LOCAL_MARKER}**: VADER's word list on this server "
                "read the text, because the model's answer was missing or not a valid analysis."
            )
        else:
            st.caption(f":material/smart_toy: **{MODEL_MARKER}**")
        if not analysis.found_words:
            st.markdown(f"#### :gray-badge[{NO_WORDS}]")
        else:
            st.markdown(
                f"#### :{colour}-badge[{emoji} {label}] · score {analysis.score:+.2f}",
                help="From -1 (very negative) to +1 (very positive); within ±0.05 is neutral.",
            )
        if round(analysis.score, 2) != 0:
            st.plotly_chart(
                score_gauge(analysis.score, analysis.label),
                config=CHART_CONFIG,
                key=_chart_key(analysis, key),
            )
        emotions = [badge_text(e) for e in analysis.emotions[:MAX_EMOTIONS]]
        emotions = [e for e in emotions if e]
        if emotions:
            st.markdown(
                "**Emotions** " + " ".join(f":violet-badge[{e}]" for e in emotions),
            )
        shown = [
            (text, polarity)
            for text, polarity in zip_longest(analysis.key_phrases, analysis.polarities)
            if text is not None and text.strip()
        ][:MAX_PHRASES]
        if shown:
            st.markdown("**Key phrases** " + " · ".join(_phrase(t, p or "") for t, p in shown))
        if analysis.explanation.strip():
            st.markdown(make_safe(analysis.explanation))


__all__ = [
    "LABEL_STYLE",
    "LOCAL_MARKER",
    "MODEL_MARKER",
    "NO_WORDS",
    "POLARITY_MARKS",
    "badge_text",
    "draw_analysis_card",
    "escape_markdown",
]
