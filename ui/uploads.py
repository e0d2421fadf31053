"""Uploaded files to prepared images, with a sentence for every file that is refused.

The widgets' `type=` check runs in the browser only; anyone can post any bytes, so every file
goes through `prepare_image` here. Results are kept per upload id in session state so a 12 MP
photo is processed once, not on every rerun.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import streamlit as st

from assistant.errors import AssistantError
from assistant.images import PreparedImage, prepare_image
from assistant.limits import MAX_IMAGES_PER_MESSAGE, MAX_UPLOAD_MB
from assistant.safe_markdown import escape_markdown
from ui import state

#: As MIME types, not extensions: the browser's picker offers images only either way, but a
#: list of extensions also makes Streamlit check names on the server, and a file posted with
#: another name (an SVG, say) then raised Streamlit's own error box, taking the typed text with
#: it. Every file is checked by its content here instead (`prepare_image`), with a sentence.
IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"]


class Upload(Protocol):
    file_id: str
    name: str
    size: int

    def getvalue(self) -> bytes: ...


def prepare_uploads(files: Sequence[Upload]) -> tuple[list[PreparedImage], list[str]]:
    cache: dict[str, PreparedImage | str] = st.session_state[state.PREPARED_UPLOADS]
    images: list[PreparedImage] = []
    problems: list[str] = []
    for upload in files:
        key = f"{upload.file_id}:{upload.size}"
        if key not in cache:
            if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
                cache[key] = f"it is larger than {MAX_UPLOAD_MB} MB."
            else:
                try:
                    cache[key] = prepare_image(upload.getvalue())
                except AssistantError as exc:
                    cache[key] = str(exc)
        result = cache[key]
        name = escape_markdown(upload.name)  # shown in Markdown: a file's name is anybody's
        if isinstance(result, str):
            problems.append(f"{name} was not attached: {result}")
        elif len(images) >= MAX_IMAGES_PER_MESSAGE:
            problems.append(
                f"{name} was not attached: up to {MAX_IMAGES_PER_MESSAGE} images fit in "
                "one message."
            )
        else:
            images.append(result)
    return images, problems
