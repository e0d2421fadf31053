"""Streamlit glue shared by the pages: session-state keys, cached services, drawing helpers.

Only this package and the pages import Streamlit; the logic they call lives in `assistant/`.
"""
