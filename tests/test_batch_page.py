"""The analysts' batch page through AppTest: upload or paste, choose the column, score, download."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit.runtime.context
from streamlit.testing.v1 import AppTest

from assistant.sentiment.batch import MAX_BYTES
from tests.fake_openrouter import FakeOpenRouter
from tests.page_harness import BrowserConnection
from ui import state

ENTRY = "../app.py"
BATCH = "pages/batch.py"
RESULT = state.BATCH_RESULT

REVIEWS = (
    b"id,stars,comment\n"
    b"1,5,I love it. Works perfectly and the battery lasts forever!\n"
    b"2,1,This is awful. It broke after two days and support never answered.\n"
    b"3,3,It arrived on Tuesday in a brown box.\n"
)


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[AppTest]:
    connection = BrowserConnection()
    monkeypatch.setattr(streamlit.runtime.context, "_get_client_context", lambda: connection)
    with FakeOpenRouter() as fake:
        monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-test")
        monkeypatch.setenv("OPENROUTER_BASE_URL", fake.url)
        monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{(tmp_path / 'a.db').as_posix()}")
        app = run(AppTest.from_file(ENTRY, default_timeout=60))
        yield run(app.switch_page(BATCH))


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, name: str, data: bytes, mime: str = "text/csv") -> AppTest:
    at.file_uploader[0].upload(name, data, mime)
    return run(at)


def score(at: AppTest) -> AppTest:
    (button,) = [b for b in at.button if b.label.startswith("Score")]
    button.click()
    return run(at)


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def test_a_csv_is_read_scored_charted_and_offered_for_download(at: AppTest) -> None:
    assert "no text leaves the machine" in at.info[0].value
    upload(at, "reviews.csv", REVIEWS)
    assert any(
        "Read 3 rows × 3 columns as a table, comma-separated, encoding UTF-8" in c.value
        for c in at.caption
    )
    assert at.selectbox[0].value == "comment" and at.selectbox[0].options == ["comment"]
    assert not at.get("plotly_chart")  # nothing is scored before the button

    score(at)
    assert "Scored 3 rows in" in at.success[0].value
    assert chart_titles(at) == ["Positive, neutral, negative", "Compound scores"]
    negative, positive = (df.value for df in at.dataframe)
    assert negative["comment"].iloc[0].startswith("This is awful")
    assert positive["comment"].iloc[0].startswith("I love it")
    scored = at.session_state[RESULT]["frame"]
    assert scored["label"].tolist() == ["positive", "negative", "neutral"]
    assert list(scored.columns[:3]) == ["id", "stars", "comment"]  # the analyst's columns kept
    assert [b.label for b in at.get("download_button")] == ["Download the scored CSV"]


def test_reruns_keep_the_scores_without_scoring_again(at: AppTest) -> None:
    score(upload(at, "reviews.csv", REVIEWS))
    first = at.session_state[RESULT]["frame"]
    run(at)
    assert at.session_state[RESULT]["frame"] is first
    assert len(at.get("plotly_chart")) == 2


def test_the_text_column_can_be_chosen(at: AppTest) -> None:
    data = b"customer,review\nAda Lovelace,Great service and a lovely shop\nBob,Rude staff\n"
    upload(at, "two.csv", data)
    assert at.selectbox[0].value == "review"  # the most text-like column first
    at.selectbox[0].set_value("customer")
    score(run(at))
    assert at.session_state[RESULT]["column"] == "customer"
    assert "Scored 2 rows" in at.success[0].value


def test_choosing_another_column_hides_the_old_scores(at: AppTest) -> None:
    data = b"customer,review\nAda Lovelace,Great service and a lovely shop\nBob,Rude staff\n"
    score(upload(at, "two.csv", data))
    at.selectbox[0].set_value("customer")
    run(at)
    assert not at.success and not at.get("plotly_chart")


def test_pasted_lines_are_scored_one_per_line(at: AppTest) -> None:
    at.radio[0].set_value("Paste lines")
    run(at)
    at.text_area[0].set_value("Great service, thank you!\nTerrible wait, never again.\n\n")
    run(at)
    assert any("Read 2 rows × 1 columns as one text per line" in c.value for c in at.caption)
    score(at)
    assert at.session_state[RESULT]["frame"]["label"].tolist() == ["positive", "negative"]


def test_a_windows_encoded_file_is_read_and_says_so(at: AppTest) -> None:
    upload(at, "cafe.csv", "note\nLe café était délicieux\nService lent\n".encode("cp1252"))
    assert any("encoding CP1252" in c.value for c in at.caption)
    score(at)
    assert at.session_state[RESULT]["frame"]["note"][0] == "Le café était délicieux"


@pytest.mark.parametrize(
    ("name", "data", "sentence"),
    [
        ("empty.csv", b"", "The file is empty."),
        ("blank.csv", b" \n\n", "The file is empty."),
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        ("numbers.csv", b"a,b\n1,2\n3,4\n", "No column in this file contains text"),
        ("sheet.csv", b"PK\x03\x04" + b"\x00" * 64, "Excel"),
        ("only-header.csv", b"comment,id\n", "column names but no rows"),
        ("huge.csv", b"text\n" + b"words and more words\n" * (MAX_BYTES // 21 + 1), "too large"),
    ],
)
def test_bad_input_gets_a_clear_sentence(
    at: AppTest, name: str, data: bytes, sentence: str
) -> None:
    upload(at, name, data)
    assert sentence in at.error[0].value
    assert not [b for b in at.button if b.label.startswith("Score")]
