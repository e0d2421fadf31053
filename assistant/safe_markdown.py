"""Make model and user text safe to hand to a Markdown renderer.

Streamlit's `st.markdown` already refuses raw HTML, but it renders Markdown images, and a browser
fetches an image URL the moment it is drawn. A model tricked by injected instructions can put
private data into such a URL, so images pointing anywhere are shown as plain links instead. Links
whose scheme is not http, https or mailto (`javascript:`, `data:`, `vbscript:`, `file:`...) lose
their target and keep their text. Code spans and fenced code blocks are left exactly as written,
since they are shown as text anyway.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

SAFE_SCHEMES = ("http://", "https://", "mailto:")

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,}).*?$(?:.*?^\1\2[`~]*\s*$|\Z)", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
_URL = r"(?:<([^>\n]*)>|((?:[^\s()<>]|\([^\s()<>]*\))*))(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?"
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\(\s*" + _URL + r"\s*\)")
_REF_IMAGE = re.compile(r"!\[([^\]\n]*)\]\[([^\]\n]*)\]")
_LINK = re.compile(r"(?<!!)\[([^\]\n]*)\]\(\s*" + _URL + r"\s*\)")
_AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.\-]{1,31}:[^\s<>]*)>")
_REF_DEFINITION = re.compile(r"^( {0,3}\[[^\]\n]+\]:\s*)(<?\S+>?)(.*)$", re.M)
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")


def is_safe_url(url: str) -> bool:
    """True for http(s) and mailto URLs, after undoing entity and whitespace tricks."""
    cleaned = _CONTROL.sub("", html.unescape(url)).lower()
    return cleaned.startswith(SAFE_SCHEMES)


def _destination(match: re.Match[str]) -> str:
    return match.group(2) if match.group(2) is not None else match.group(3)


def _image_as_link(match: re.Match[str]) -> str:
    alt, url = match.group(1).strip() or "image", _destination(match)
    if is_safe_url(url):
        return f"[🖼 {alt}]({url})"
    return f"🖼 {alt}"


def _link(match: re.Match[str]) -> str:
    text, url = match.group(1), _destination(match)
    if is_safe_url(url) or url.startswith("#"):
        return match.group(0)
    return text


def _autolink(match: re.Match[str]) -> str:
    url = match.group(1)
    return match.group(0) if is_safe_url(url) else url.replace(":", "&#58;", 1)


def _ref_definition(match: re.Match[str]) -> str:
    url = match.group(2).strip("<>")
    return match.group(0) if is_safe_url(url) else f"{match.group(1)}#{match.group(3)}"


def _clean_prose(text: str) -> str:
    text = _IMAGE.sub(_image_as_link, text)
    text = _REF_IMAGE.sub(lambda m: f"[🖼 {m.group(1) or 'image'}][{m.group(2)}]", text)
    text = _LINK.sub(_link, text)
    text = _AUTOLINK.sub(_autolink, text)
    return _REF_DEFINITION.sub(_ref_definition, text)


def _outside(pattern: re.Pattern[str], text: str, clean: Callable[[str], str]) -> str:
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(clean(text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(clean(text[last:]))
    return "".join(out)


def make_safe(text: str) -> str:
    """Markdown with outside images turned into links and unsafe link targets removed."""
    return _outside(_FENCE, text, lambda prose: _outside(_CODE_SPAN, prose, _clean_prose))


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=])")


def escape_markdown(text: str) -> str:
    """`text` shown literally: every character Markdown (or Streamlit's `:color[...]`,
    `:emoji:` and `$math$` extensions) could act on is backslash-escaped, whitespace folded.
    For outside text that is plain by nature: titles, names, file names, key phrases."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def sentence(error: BaseException) -> str:
    """The sentence an error carries for the user, safe to render: it may quote a provider's
    words, a model's name or a file's name."""
    return make_safe(str(error))


__all__ = ["escape_markdown", "is_safe_url", "make_safe", "sentence"]
