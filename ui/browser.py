"""A few lines of trusted JavaScript for what Streamlit cannot do from the server.

- One-click copy of a reply, with a "Copied" confirmation. Each reply draws a small static
  button (`copy_button`, no widget state, so an idle session pays nothing per reply) naming
  the container its answer was drawn in; one listener copies that container's text.
- Scroll the newest exchange into view when a message is sent, even if the person had
  scrolled up to read.
- On a phone, close the sidebar after a link in it was followed (Streamlit leaves it open over
  most of the screen).

The script is registered once (a components-v2 component, run in the page, not an iframe) and
carries no user or model text: only a counter. It never builds HTML from data.

It is drawn only when it has something to do, since every element drawn costs each run server
time: once per browser session to start listening (the listener belongs to the page and stays
when the element goes), and again in the run that asks for a scroll.
"""

from __future__ import annotations

import streamlit as st
import streamlit.components.v2 as components

from ui import state

_JS = """
const NARROW = "(max-width: 768px)";

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text);
  }
  // Plain http on a network address: the clipboard API is off, the old way still works.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
}

function inPath(event, selector) {
  // Buttons drawn by st.html live in a shadow root: look along the composed path.
  for (const node of event.composedPath()) {
    if (node instanceof Element && node.matches(selector)) return node;
  }
  return null;
}

function onClick(event) {
  const button = inPath(event, "button[data-copy]");
  if (button) {
    const answer = document.querySelector(".st-key-answer-" + button.dataset.copy);
    if (!answer) return;
    copyText(answer.innerText.trim()).then(
      () => { button.dataset.state = "copied"; button.textContent = "Copied ✓"; },
      () => { button.dataset.state = "failed"; button.textContent = "Copy failed"; },
    );
    setTimeout(() => { button.dataset.state = ""; button.textContent = "Copy"; }, 2000);
    return;
  }
  const link = inPath(event, '[data-testid="stSidebar"] a');
  if (link && window.matchMedia(NARROW).matches) {
    setTimeout(() => {
      const close = document.querySelector(
        '[data-testid="stSidebarCollapseButton"] button, '
        + '[data-testid="stSidebar"] [data-testid="stBaseButton-headerNoPadding"]');
      if (close) close.click();
    }, 100);
  }
}

function scrollToNewest() {
  // The user's messages are drawn in containers keyed "question-<id>": the last one is new.
  const questions = document.querySelectorAll('[class*="st-key-question-"]');
  const newest = questions[questions.length - 1];
  const bubble = newest && newest.closest('[data-testid="stChatMessage"]');
  if (bubble) bubble.scrollIntoView({ behavior: "smooth", block: "start" });
}

export default function (component) {
  const data = component.data || {};
  const state = window.__assistantHelpers || (window.__assistantHelpers = { scrolled: 0 });
  if (!state.listening) {
    document.addEventListener("click", onClick, true);
    state.listening = true;
  }
  if (data.scroll && data.scroll !== state.scrolled) {
    state.scrolled = data.scroll;
    setTimeout(scrollToNewest, 150);
  }
}
"""

_helper = components.component("assistant_browser_helpers", js=_JS, isolate_styles=False)

_PAGE_CSS = """
<style>
/* Streamlit's "Running… Stop" corner would stop only the page's drawing, not the reply,
   which runs on the server: the chat has its own Stop button. */
[data-testid="stStatusWidget"] { display: none; }
button[data-copy] {
  font: inherit; font-size: 0.875rem; color: inherit; background: none; border: none;
  padding: 0.25rem 0.5rem; border-radius: 0.5rem; cursor: pointer; opacity: 0.8;
}
button[data-copy]:hover { opacity: 1; background: rgba(128, 128, 128, 0.15); }
</style>
"""


def install() -> None:
    """The page's styles (every run: they go when not drawn), and the listener for copy clicks
    and sidebar navigation (the first run of a browser session)."""
    st.html(_PAGE_CSS)
    if not st.session_state.get(state.HELPERS_INSTALLED):
        st.session_state[state.HELPERS_INSTALLED] = True
        with st.sidebar:
            _helper(data={}, key="browser_helpers", height=0)


def scroll_to_newest(nonce: int) -> None:
    """Bring the newest exchange into view when `nonce` changes (drawn in that run only)."""
    if nonce and st.session_state.get(state.SCROLLED) != nonce:
        st.session_state[state.SCROLLED] = nonce
        _helper(data={"scroll": nonce}, key=f"scroll_helper_{nonce}", height=0)


def copy_button(message_id: str) -> None:
    """A button that copies the reply drawn in the container `answer-<message_id>`."""
    if message_id.isalnum():  # store ids are hex; nothing else is ever put into the HTML
        st.html(
            f'<button type="button" data-copy="{message_id}" title="Copy">Copy</button>',
            width="content",
        )


__all__ = ["copy_button", "install", "scroll_to_newest"]
