"""Uploads whose file name holds a NUL character are refused before Streamlit stores them.

No browser sends such a name; a request made by hand can. Streamlit refuses the name only
later, when it compares the chat input's state before the page script runs, so the page
cannot catch it: the sender's page showed Streamlit's exception box and lost its message.
Refused here, the file is never stored, and the message the page sends with it finds no file.

The name is read from the headers of the multipart body's first part (Streamlit takes one file
per request), which arrive in its first few kilobytes; the body is then handed on unchanged.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from starlette.responses import PlainTextResponse

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PATH = "/_stcore/upload_file/"
#: The part's headers come first; a request whose first part has not ended its headers by here
#: is left to Streamlit's own parser.
HEAD_BYTES = 16 * 1024
REFUSED = "A file name may not contain a NUL character. Rename the file and attach it again."
# A raw NUL anywhere in the part's headers, or one encoded in an RFC 2231 `filename*=` value.
_ENCODED_NUL = re.compile(rb"filename\*\s*=[^;\r\n]*%00", re.IGNORECASE)


def names_a_nul(part_headers: bytes) -> bool:
    return b"\x00" in part_headers or _ENCODED_NUL.search(part_headers) is not None


class UploadNameMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "PUT" or UPLOAD_PATH not in scope["path"]:
            await self.app(scope, receive, send)
            return
        read: list[Message] = []
        head = b""
        more = True
        while more and len(head) < HEAD_BYTES:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":
                break
            head += message.get("body", b"")
            more = message.get("more_body", False)
            if b"\r\n\r\n" in head:  # the first part's boundary line and headers have come
                break
        if names_a_nul(head.split(b"\r\n\r\n", 1)[0]):
            await PlainTextResponse(REFUSED, status_code=400)(scope, receive, send)
            return

        async def replay() -> Message:
            return read.pop(0) if read else await receive()

        await self.app(scope, replay, send)


__all__ = ["HEAD_BYTES", "REFUSED", "UPLOAD_PATH", "UploadNameMiddleware", "names_a_nul"]
