"""Sentiment of chat messages, scored on this machine with VADER (no network).

    scoring     VADER scores of a text, piece by piece (re-exported here)
    words       which words VADER scored in a text, and how (negation and boosters included)
    card        the sentiment role's analysis card: the model's JSON checked, or a local reading
    statistics  pandas aggregates for the sentiment page's charts
    batch       reading, scoring and writing analysts' CSV files

Importing this package imports `scoring` only, which needs nothing beyond the standard library
(VADER itself loads on the first score): the chat core scores every finished message, and
pandas alone would triple the terminal client's start-up. The other modules are imported by
name where they are needed.
"""

from assistant.sentiment import scoring
from assistant.sentiment.scoring import *  # noqa: F403 (the names in `scoring.__all__`)

__all__ = scoring.__all__
