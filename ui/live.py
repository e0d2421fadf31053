"""Drawing replies while they stream, from the server-side task producing them.

A page run never produces a reply: it watches the task (`assistant.replies.ReplyTask`) and
draws what has arrived. A click, a refresh or a second tab simply starts another run, which
draws the reply so far and carries on watching; the reply itself never notices.

Few bytes on the wire: `st.write_stream` re-sends the whole reply for every chunk (about 1,000
times the reply's bytes for a 2,000-token answer). Here finished paragraphs are frozen into
their own element and sent once; only the unfinished tail is re-sent, and no more often than
its size warrants: the interval grows with the tail, which keeps the bytes sent per byte of
text bounded (about `TAIL_BYTES_PER_SECOND / text rate`) even for one long paragraph.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import streamlit as st

from assistant.reply import Reply, ReplyStatus
from assistant.safe_markdown import make_safe
from assistant.store import Store
from assistant.upkeep import STALE_AFTER
from ui.state import ChatMessage

# Seconds between redraws of the tail, at least: ten a second reads as smooth, and each
# redraw is an element the server builds and sends (bench/bench_burst.py, CPU per reply).
MIN_INTERVAL = 0.1
TAIL_BYTES_PER_SECOND = 4000  # the tail is redrawn at most this many of its bytes per second
TICK = 0.25  # seconds a watcher waits for news before redrawing the "Thinking… N s" line
REMOTE_POLL = 1.0  # seconds between reads of a reply another process is producing
_FENCE_LINE = re.compile(r"^ {0,3}(```|~~~)", re.M)
CURSOR = " ▍"


class ReplySource(Protocol):
    """What a watcher needs of a reply being produced (`ReplyTask` is one)."""

    @property
    def done(self) -> bool: ...
    @property
    def queued(self) -> bool: ...
    @property
    def started_at(self) -> float: ...
    def snapshot(self) -> tuple[int, Reply]: ...
    def wait(self, seen: int, timeout: float) -> int: ...


class StoredReply:
    """A reply another process is producing (a second replica): read from the store."""

    queued = False

    def __init__(self, store: Store, owner_id: int, reply_id: str) -> None:
        self._store = store
        self._owner_id = owner_id
        self._reply_id = reply_id
        self.started_at = time.monotonic()
        self._version = 0
        self._reply = Reply()
        self.done = False
        self._read()

    def _read(self) -> None:
        message = self._store.get_message(self._owner_id, self._reply_id)
        if message.is_streaming and datetime.now(UTC) - message.updated_at > STALE_AFTER:
            # Its process died (no heartbeat): say so now rather than at the next upkeep.
            self._store.recover_stale_replies(
                STALE_AFTER, owner_id=self._owner_id, conversation_id=message.conversation_id
            )
            message = self._store.get_message(self._owner_id, self._reply_id)
        reply = Reply.from_message(message)
        if reply != self._reply:
            self._reply = reply
            self._version += 1
        self.done = reply.done

    def snapshot(self) -> tuple[int, Reply]:
        return self._version, self._reply.copy()

    def wait(self, seen: int, timeout: float) -> int:
        if self._version == seen and not self.done:
            time.sleep(min(timeout, REMOTE_POLL))
            self._read()
        return self._version


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

    def __init__(self, *, hide_text: bool = False, key: str | None = None) -> None:
        """`key` names the container the text is drawn in (the copy button finds it)."""
        # Structured replies arrive as JSON: say "Analysing…" until the card can be drawn.
        self._hide_text = hide_text
        self._thinking = st.empty()
        self._reasoning_box = st.empty()
        with st.container(key=key):
            self._frozen = st.container()
            self._live = st.empty()
        self._frozen_upto = 0
        self._last_draw = 0.0
        self._drawn_tail = ""
        self._reasoning_drawn = 0.0
        self._thinking_shown = ""

    def update(self, reply: Reply, *, waited: float, queued: bool = False) -> None:
        now = time.monotonic()
        if not reply.text or (self._hide_text and looks_structured(reply.text)):
            self._show_waiting(reply, waited, queued)
            return
        if self._thinking_shown:
            self._thinking.empty()
            self._thinking_shown = ""
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

    def _show_waiting(self, reply: Reply, waited: float, queued: bool) -> None:
        if queued:
            line = ":material/hourglass_top: Waiting for the reply before it…"
        else:
            what = "Analysing" if reply.text else "Reasoning" if reply.reasoning else "Thinking"
            line = f":material/hourglass_top: {what}… {int(waited)} s"
        # Drawn on every tick, changed or not: drawing is when Streamlit notices a click
        # or a stop that asks for a new run, so the page answers within a tick.
        self._thinking.caption(line)
        self._thinking_shown = line
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


class LiveReply:
    """One reply bubble being drawn from its source, with a footer drawn when it ends."""

    def __init__(
        self,
        message: ChatMessage,
        source: ReplySource,
        *,
        draw_footer: Callable[[ChatMessage], None],
    ) -> None:
        self.message = message
        self.source = source
        self.seen = -1
        self.done = False
        self._draw_footer = draw_footer
        self._view = StreamView(hide_text=bool(message.structured), key=f"answer-{message.id}")
        self._footer = st.empty()

    def refresh(self) -> bool:
        """Draw what arrived since the last call; True once the reply has ended."""
        version, reply = self.source.snapshot()
        waited = time.monotonic() - self.source.started_at
        self._view.update(reply, waited=waited, queued=self.source.queued)
        self.seen = version
        self.message.reply = reply
        self.message.text = reply.text
        if self.source.done and reply.status != ReplyStatus.STREAMING:
            self._view.finish(reply)
            with self._footer.container():
                self._draw_footer(self.message)
            self.done = True
        return self.done


def follow(replies: list[LiveReply]) -> None:
    """Draw the live replies until every one has ended (a new run may interrupt any time:
    the replies carry on, and that run follows them in turn)."""
    while replies:
        for live in list(replies):
            if live.refresh():
                replies.remove(live)
        if not replies:
            return
        first = replies[0]
        first.source.wait(first.seen, TICK)
        time.sleep(MIN_INTERVAL)  # let a few tokens gather: fewer wake-ups, same smoothness


__all__ = ["LiveReply", "ReplySource", "StoredReply", "StreamView", "follow"]
