"""Batch scoring for analysts: a CSV or pasted lines in, every row scored, an enriched CSV out."""

import streamlit as st

from ui import page
from ui.batch_view import offer_scoring, read_input, read_or_explain

page.begin()

st.title("Batch sentiment scoring")
st.info(
    "Scoring runs on this server with VADER, a word list: no text leaves the machine, no AI "
    "model and no network are involved. That matters for patient notes and other sensitive "
    "texts. VADER was made for short, informal English (reviews, posts, chat).",
    icon=":material/lock:",
)

if (given := read_input()) is not None and (table := read_or_explain(*given)) is not None:
    offer_scoring(table, *given)
