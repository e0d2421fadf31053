"""An incremental Server-Sent Events parser (WHATWG HTML, "event stream interpretation").

Network reads split a stream anywhere: in the middle of a line, between the CR and LF of a CRLF,
or inside a multi-byte UTF-8 character. The parser therefore keeps an incremental UTF-8 decoder
and the unfinished line between calls, and only acts on complete lines.

Comment lines (starting with `:`) are returned as `SSEComment` items rather than dropped: an
OpenRouter keep-alive is a comment, and the client wants to see that the connection is alive
without ever treating it as content or handing it to a JSON parser.

One deliberate leniency at the end of the stream (`flush()`): the spec discards an event that
was not followed by a blank line. We still discard a half-received line (it may be truncated
JSON), but an event whose lines all arrived complete is dispatched, because some servers close
the connection right after their last `data:` line.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["SSEComment", "SSEItem", "SSEMessage", "SSEParser"]


@dataclass(frozen=True, slots=True)
class SSEMessage:
    """A dispatched event. `data` is its `data:` lines joined with newlines."""

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None


@dataclass(frozen=True, slots=True)
class SSEComment:
    """A comment line (a keep-alive); `text` is what followed the colon."""

    text: str


SSEItem = SSEMessage | SSEComment

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class SSEParser:
    """Feed it bytes as they arrive; it returns the messages and comments completed so far."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._line = ""  # text of the current, unfinished line
        self._after_cr = False  # last character seen was CR: a leading LF is its pair
        self._at_start = True  # a BOM is only skipped at the very start of the stream
        self._data: list[str] = []
        self._event = ""
        self._last_id = ""  # persists across events, as the spec says
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEItem]:
        """Parse `chunk` and return the items it completed, in order."""
        return self._consume(self._decoder.decode(chunk))

    def flush(self) -> list[SSEItem]:
        """End of stream: dispatch a pending event whose lines were complete, then reset.

        A trailing line without its line break is discarded (it may be cut short).
        """
        items = self._consume(self._decoder.decode(b"", final=True))
        if self._data:
            items.append(self._dispatch())
        self._reset()
        return items

    def _consume(self, text: str) -> list[SSEItem]:
        if not text:  # e.g. only part of a UTF-8 character arrived: keep the CR state as is
            return []
        if self._at_start:
            self._at_start = False
            text = text.removeprefix("\ufeff")
        if self._after_cr and text.startswith("\n"):
            text = text[1:]  # the LF of a CRLF that was split across two reads
        self._after_cr = False
        items: list[SSEItem] = []
        start = 0
        for match in _LINE_BREAK.finditer(text):
            self._process_line(self._line + text[start : match.start()], items)
            self._line = ""
            start = match.end()
        self._line += text[start:]
        # A CR at the very end may be the first half of a CRLF: remember it.
        self._after_cr = start == len(text) and text.endswith("\r")
        return items

    def _process_line(self, line: str, items: list[SSEItem]) -> None:
        if not line:
            if self._data:
                items.append(self._dispatch())
            else:
                self._event = ""  # an event without data is not dispatched
            return
        if line.startswith(":"):
            items.append(SSEComment(line[1:].removeprefix(" ")))
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        # Any other field name is ignored, as the spec requires.

    def _dispatch(self) -> SSEMessage:
        message = SSEMessage(
            data="\n".join(self._data),
            event=self._event or "message",
            id=self._last_id,
            retry=self._retry,
        )
        self._data = []
        self._event = ""
        return message
