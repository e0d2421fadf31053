"""Every place that hands text to Streamlit's Markdown renderer, and what it hands over.

Streamlit renders Markdown in body text, captions, alerts, button and link labels, popover,
expander and tab labels, metrics and more; a browser fetches any image such Markdown names. So
every string that did not come from this codebase (a user's role, a model's or a provider's
words, a file name, a title) must pass through `make_safe` first.

This test reads the source of `app.py`, `pages/` and `ui/`, lists every call of a rendering
function, and requires its text argument to be a literal (or an f-string of literals and
already-safe parts), a `make_safe(...)` call, or a name bound to one. A new call that renders a
variable fails here until it is made safe or shown to be our own text. The rendering of hostile
strings end to end is tested in tests/test_hostile_markdown.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    ROOT / "app.py",
    *sorted((ROOT / "pages").glob("*.py")),
    *sorted((ROOT / "ui").glob("*.py")),
]

#: Streamlit calls whose first argument (or `label=`) is rendered as Markdown.
RENDERERS = {
    "markdown",
    "caption",
    "info",
    "warning",
    "error",
    "success",
    "toast",
    "button",
    "form_submit_button",
    "download_button",
    "link_button",
    "page_link",
    "popover",
    "expander",
    "title",
    "header",
    "subheader",
    "write",
    "metric",
    "checkbox",
    "toggle",
    "text_input",
    "text_area",
    "selectbox",
    "file_uploader",
}
#: Functions of this codebase that return Markdown made of safe parts: `make_safe` and
#: `sentence` (assistant/safe_markdown.py); `escape_markdown`, `badge_text` and `_phrase`
#: (escaping, ui/analysis_card.py); `footer_text`, `model_badge` (made-safe model names,
#: ui/transcript.py); `label` (make_safe of a role's icon and name, ui/role_editor.py);
#: `local_time` (a date), `describe` (counts and a detected encoding, ui/batch_view.py); `len`.
SAFE_PRODUCERS = {
    "make_safe",
    "sentence",
    "escape_markdown",
    "badge_text",
    "_phrase",
    "footer_text",
    "model_badge",
    "label",
    "local_time",
    "describe",
    "len",
}


def _is_safe(node: ast.expr, safe_names: set[str]) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(
            isinstance(v, ast.Constant)
            or v.format_spec is not None  # type: ignore[attr-defined]  # a formatted number
            or _is_safe(v.value, safe_names)  # type: ignore[attr-defined]
            for v in node.values
        )
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "join" and isinstance(func, ast.Attribute):  # "sep".join(safe parts)
            return _is_safe(func.value, safe_names) and all(
                _is_safe(a, safe_names) for a in node.args
            )
        return name in SAFE_PRODUCERS
    if isinstance(node, ast.Name):
        return node.id in safe_names or node.id.isupper()  # UPPER_CASE: a module constant
    if isinstance(node, ast.Attribute):
        return node.attr.isupper()  # a module's constant: our own words
    if isinstance(node, ast.GeneratorExp):  # (f"[{x}]" for x in safe_list)
        loop = node.generators[0]
        bound = (
            {loop.target.id}
            if isinstance(loop.target, ast.Name) and _is_safe(loop.iter, safe_names)
            else set()
        )
        return _is_safe(node.elt, safe_names | bound)
    if isinstance(node, ast.IfExp):
        return _is_safe(node.body, safe_names) and _is_safe(node.orelse, safe_names)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_safe(node.left, safe_names) and _is_safe(node.right, safe_names)
    if isinstance(node, ast.Subscript):  # a lookup in a constant table of our own words
        return isinstance(node.value, ast.Name) and node.value.id.isupper()
    if isinstance(node, ast.ListComp):  # [safe(x) for x in ...] or [x for x in safe_list]
        if _is_safe(node.elt, safe_names):
            return True
        loop = node.generators[0]
        return (
            isinstance(node.elt, ast.Name)
            and isinstance(loop.target, ast.Name)
            and node.elt.id == loop.target.id
            and _is_safe(loop.iter, safe_names)
        )
    return False


def _constant_lookup(node: ast.expr) -> bool:
    """`TABLE.get(...)` or `TABLE[...]` on an UPPER_CASE table of our own words."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = node.func.value
        return node.func.attr == "get" and isinstance(owner, ast.Name) and owner.id.isupper()
    return isinstance(node, ast.Subscript) and _is_safe(node, set())


def _safe_names(tree: ast.AST) -> set[str]:
    """Names assigned only from safe expressions (e.g. `title = make_safe(chat.title)`)."""
    assigned: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
                elif isinstance(target, ast.Tuple) and _constant_lookup(node.value):
                    for element in target.elts:  # colour, emoji = STYLE.get(label, ...)
                        if isinstance(element, ast.Name):
                            assigned.setdefault(element.id, []).append(ast.Constant(""))
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            assigned.setdefault(node.target.id, []).append(node.value)
    safe: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, values in assigned.items():
            # A name built from itself (`xs = [x for x in xs if x]`) is as safe as the rest.
            if name not in safe and all(_is_safe(v, safe | {name}) for v in values):
                safe.add(name)
                changed = True
    return safe


def rendering_sites() -> list[tuple[str, int, str, ast.expr]]:
    """(file, line, function, text argument) of every rendering call in the UI."""
    sites = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name = node.func.attr
            if name not in RENDERERS:
                continue
            owner = node.func.value
            owner_name = getattr(owner, "id", getattr(owner, "attr", ""))
            if owner_name not in {"st", "sidebar", "more", "menu", "container", "export"} and not (
                isinstance(owner, ast.Attribute) and getattr(owner.value, "id", "") == "st"
            ):
                continue
            label = next((k.value for k in node.keywords if k.arg in ("label", "body")), None)
            argument = node.args[0] if node.args else label
            if argument is None:
                continue
            if name == "page_link" and label is not None:
                argument = label
            sites.append((str(path.relative_to(ROOT)), node.lineno, name, argument))
    return sites


def test_there_are_rendering_sites_to_check() -> None:
    assert len(rendering_sites()) > 50  # the scan itself works


@pytest.mark.parametrize(
    ("where", "line", "function", "argument"),
    rendering_sites(),
    ids=[f"{w}:{n}" for w, n, _, _ in rendering_sites()],
)
def test_every_rendered_text_is_a_literal_or_made_safe(
    where: str, line: int, function: str, argument: ast.expr
) -> None:
    tree = ast.parse((ROOT / where).read_text(encoding="utf-8"))
    assert _is_safe(argument, _safe_names(tree)), (
        f"{where}:{line}: st.{function}({ast.unparse(argument)}) renders text that may come "
        "from a user, a model or a provider: pass it through make_safe"
    )
