"""The Batch scoring page's parts: read the input, offer scoring, show the results.

The scored table stays in session state, tagged with a digest of the input and the column, so
reruns (a download, a widget) never score again; new input or another column simply no longer
matches the tag.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import PurePath
from typing import Any

import pandas as pd
import streamlit as st

from assistant.errors import InputError
from assistant.sentiment.batch import (
    MAX_BYTES,
    MAX_ROWS,
    read_table,
    score_frame,
    text_columns,
    to_csv_bytes,
)
from ui import charts, failures, state

BATCH_RESULT = state.BATCH_RESULT
CHART = {"displayModeBar": False}
SCORE = st.column_config.NumberColumn(format="%+.3f")
EXTREMES = 10


def read_input() -> tuple[bytes, str | None] | None:
    """The raw bytes and file name (None when pasted), or None while there is nothing yet."""
    source = st.radio("Input", ["Upload a file", "Paste lines"], horizontal=True)
    if source == "Upload a file":
        # The size limit is the server's (server.maxUploadSize): a larger one here would be
        # shown in the browser and then refused by the upload endpoint anyway.
        upload = st.file_uploader(
            "A CSV, TSV or plain-text file (one text per line)",
            type=["csv", "tsv", "txt"],
            help=f"Up to {MAX_ROWS:,} rows. Excel files: save them as CSV (UTF-8) first.",
        )
        return (upload.getvalue(), upload.name) if upload is not None else None
    pasted = st.text_area(
        "One text per line, or a table with a header row", height=200, max_chars=MAX_BYTES
    )
    return (pasted.encode("utf-8"), None) if pasted.strip() else None


def describe(frame: pd.DataFrame) -> str:
    attrs = frame.attrs
    shape = "one text per line" if attrs["format"] == "lines" else "a table"
    delimiter = {",": "comma", ";": "semicolon", "\t": "tab"}.get(attrs["delimiter"] or "")
    how = f", {delimiter}-separated" if delimiter else ""
    return (
        f"Read {len(frame):,} rows × {len(frame.columns)} columns as {shape}{how}, "
        f"encoding {attrs['encoding'].upper()}."
    )


def score(frame: pd.DataFrame, column: str, tag: str) -> dict[str, Any]:
    bar = st.progress(0.0, text="Scoring…")

    def report(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Scored {done:,} of {total:,} rows")

    started = time.perf_counter()
    scored = score_frame(frame, column, progress=report)
    seconds = time.perf_counter() - started
    bar.empty()
    return {"tag": tag, "column": column, "frame": scored, "seconds": seconds}


def show(result: dict[str, Any], name: str | None) -> None:
    scored, column = result["frame"], result["column"]
    st.success(
        f"Scored {len(scored):,} rows in {result['seconds']:.1f} s on this server.",
        icon=":material/check_circle:",
    )
    shares = scored["label"].value_counts(normalize=True)
    first, second, third = st.columns(3)
    first.metric("Mean compound", f"{scored['compound'].mean():+.2f}")
    second.metric("Positive", f"{shares.get('positive', 0):.0%}")
    third.metric("Negative", f"{shares.get('negative', 0):.0%}")
    left, right = st.columns(2)
    with left:
        distribution = charts.label_counts(scored["label"])
        st.plotly_chart(charts.label_distribution(distribution), config=CHART)
    with right:
        st.plotly_chart(charts.compound_histogram(scored["compound"]), config=CHART)
    shown = [column, "compound", "label"]
    config = {"compound": SCORE}
    st.subheader("Most negative rows")
    st.dataframe(scored.nsmallest(EXTREMES, "compound")[shown], column_config=config)
    st.subheader("Most positive rows")
    st.dataframe(scored.nlargest(EXTREMES, "compound")[shown], column_config=config)
    stem = PurePath(name).stem if name else "pasted"
    st.download_button(
        "Download the scored CSV",
        lambda: to_csv_bytes(scored),  # built when clicked, not on every rerun
        file_name=f"{stem}-sentiment.csv",
        mime="text/csv",
        icon=":material/download:",
        type="primary",
        on_click="ignore",
    )


def read_or_explain(raw: bytes, name: str | None) -> pd.DataFrame | None:
    try:
        frame = read_table(raw, name)
    except InputError as err:
        failures.show(err, icon=":material/error:")
        return None
    st.caption(describe(frame))
    return frame


def offer_scoring(frame: pd.DataFrame, raw: bytes, name: str | None) -> None:
    column = st.selectbox(
        "Text column to score", text_columns(frame), help="The most text-like column comes first."
    )
    tag = f"{hashlib.sha256(raw).hexdigest()}:{column}"
    if st.button(f"Score {len(frame):,} rows", type="primary", icon=":material/play_arrow:"):
        st.session_state[BATCH_RESULT] = score(frame, column, tag)
    else:
        st.caption("About 10 s per 100,000 different texts; repeated texts are scored once.")
    result = st.session_state.get(BATCH_RESULT)
    if result is not None and result["tag"] == tag:
        show(result, name)
