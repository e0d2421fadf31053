"""Drawing a reply while it streams, with few bytes on the wire.

`st.write_stream` re-sends the whole reply for every chunk (about 1,000 times the reply's bytes
for a 2,000-token answer). Here finished paragraphs are frozen into their own element and sent
once; only the unfinished tail is re-sent, and no more often than its size warrants: the
interval grows with the tail, which keeps the bytes sent per byte of text bounded (about
`TAIL_BYTES_PER_SECOND / text rate`) even for one long paragraph.
"""

from __future__ import annotations

import re
import time

import streamlit as st

from assistant.relay import Tick
from assistant.reply import Reply
from assistant.safe_markdown import make_safe

MIN_INTERVAL = 0.05  # seconds between redraws of the tail, at least
TAIL_BYTES_PER_SECOND = 4000  # the tail is redrawn at most this many of its bytes per second
_FENCE_LINE = re.compile(r"^ {0,3}(```|~~~)", re.M)
CURSOR = " ▍"


def looks_structured(text: str) -> bool:
    """JSON (possibly fenced) rather than prose: the start of a structured analysis."""
    return text.lstrip()[:1] in ("{", "`")


def _freeze_point(text: str, start: int) -> int:
    """End of the last complete paragraph after `start` that is outside a code block, or -1."""
    point = text.rfind("\n\n", start)
    while point != -1:
        if len(_FENCE_LINE.findall(text, 0, point)) % 2 == 0:
            return point + 2
        point = text.rfind("\n\n", start, point)
    return -1


class StreamView:
    """Draws one streaming reply inside the current chat bubble."""

    def __init__(self, *, hide_text: bool = False) -> None:
        # Structured replies arrive as JSON: say "Analysing…" until the card can be drawn.
        self._hide_text = hide_text
        self._thinking = st.empty()
        self._reasoning_box = st.empty()
        self._frozen = st.container()
        self._live = st.empty()
        self._frozen_upto = 0
        self._last_draw = 0.0
        self._drawn_tail = ""
        self._reasoning_drawn = 0.0
        self._thinking_shown = -1
        self._thinking.caption(":material/hourglass_top: Thinking…")

    def update(self, reply: Reply, tick: Tick | None = None) -> None:
        now = time.monotonic()
        if not reply.text or (self._hide_text and looks_structured(reply.text)):
            self._show_thinking(reply, tick)
            return
        if self._thinking_shown != -2:
            self._thinking.empty()
            self._thinking_shown = -2
        point = _freeze_point(reply.text, self._frozen_upto)
        if point > self._frozen_upto:
            self._frozen.markdown(make_safe(reply.text[self._frozen_upto : point]))
            self._frozen_upto = point
            self._drawn_tail = ""
            self._live.empty()
        tail = reply.text[self._frozen_upto :]
        interval = max(MIN_INTERVAL, len(tail.encode()) / TAIL_BYTES_PER_SECOND)
        if tail and tail != self._drawn_tail and now - self._last_draw >= interval:
            self._live.markdown(make_safe(tail) + CURSOR)
            self._drawn_tail = tail
            self._last_draw = now

    def _show_thinking(self, reply: Reply, tick: Tick | None) -> None:
        # Redrawing once a second is also what lets Streamlit notice the stop button.
        if tick is not None and int(tick.waited) != self._thinking_shown:
            self._thinking_shown = int(tick.waited)
            what = "Analysing" if reply.text else "Reasoning" if reply.reasoning else "Thinking"
            self._thinking.caption(f":material/hourglass_top: {what}… {self._thinking_shown} s")
        if reply.reasoning and time.monotonic() - self._reasoning_drawn > 1.0:
            self._draw_reasoning(reply.reasoning)

    def _draw_reasoning(self, text: str) -> None:
        self._reasoning_drawn = time.monotonic()
        with (
            self._reasoning_box.container(),
            st.expander("Reasoning", icon=":material/psychology:"),
        ):
            st.markdown(make_safe(text))

    def finish(self, reply: Reply) -> None:
        """Draw the final state of the text (no cursor) once the stream is over."""
        self._thinking.empty()
        if reply.reasoning:
            self._draw_reasoning(reply.reasoning)
        if self._hide_text and looks_structured(reply.text):
            self._live.empty()  # the reply's footer draws the analysis card instead
            return
        tail = reply.text[self._frozen_upto :]
        if tail:
            self._live.markdown(make_safe(tail))
        else:
            self._live.empty()
