"""The baseline for `bench_app`: the chat app Streamlit's tutorials write, nothing more.

History in session state drawn with `st.chat_message` every run, `st.chat_input`, and the reply
streamed with `st.write_stream` from an httpx SSE stream of the same (fake) provider. The
benchmark serves it beside the real app, with the same `.streamlit/config.toml`, so each figure
has a plain-Streamlit figure next to it.

A plain app cannot load stored history, so `?n=<count>` gives a new session that many
synthetic messages (the same texts `bench_app` seeds into the real app's database).

    OPENROUTER_BASE_URL=http://127.0.0.1:PORT/api/v1 streamlit run bench/plain_chat_app.py
"""

import json
import os
from collections.abc import Iterator

import httpx
import streamlit as st

from bench.bench_app import seed_messages

MODEL = "deepseek/deepseek-v3.2"


@st.cache_resource
def http() -> httpx.Client:
    return httpx.Client(
        base_url=os.environ["OPENROUTER_BASE_URL"],
        headers={"Authorization": f"Bearer {os.environ.get('OPENROUTER_API_KEY', '')}"},
        timeout=60,
    )


def tokens(messages: list[dict[str, str]]) -> Iterator[str]:
    body = {"model": MODEL, "messages": messages, "stream": True}
    with http().stream("POST", "/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            for choice in json.loads(line[6:]).get("choices") or []:
                if text := choice.get("delta", {}).get("content"):
                    yield text


if "messages" not in st.session_state:
    count = int(st.query_params.get("n", "0") or 0)
    st.session_state.messages = [
        {"role": role, "content": text} for role, text in seed_messages(count)
    ]

st.title("Plain chat")
for message in st.session_state.messages:
    with st.chat_message(message["role"]):
        st.markdown(message["content"])

if prompt := st.chat_input("Ask"):
    st.session_state.messages.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        answer = st.write_stream(tokens(st.session_state.messages))
    st.session_state.messages.append({"role": "assistant", "content": str(answer)})
