"""Batch scoring: reading what analysts upload or paste, scoring a column, writing CSV back."""

from __future__ import annotations

import codecs
import io

import pandas as pd
import pytest

from assistant.errors import InputError
from assistant.sentiment import score_text
from assistant.sentiment.batch import (
    SCORE_COLUMNS,
    read_table,
    score_frame,
    text_columns,
    to_csv_bytes,
)

# --- reading --------------------------------------------------------------------------------


def test_csv_with_an_id_and_a_text_column_offers_the_text_column() -> None:
    raw = b'id,comment\n1,I love it\n2,"Terrible, awful service"\n3,ok\n'
    frame = read_table(raw, "feedback.csv")
    assert list(frame.columns) == ["id", "comment"]
    assert frame["comment"].tolist() == ["I love it", "Terrible, awful service", "ok"]
    assert text_columns(frame) == ["comment"]
    assert frame.attrs == {"encoding": "utf-8", "format": "csv", "delimiter": ","}


def test_most_text_like_column_comes_first() -> None:
    raw = (
        b"code,review,city\n"
        b"A1,The room was clean and the staff friendly,Paris\n"
        b"B2,Noisy at night,Lyon\n"
    )
    assert text_columns(read_table(raw, "r.csv")) == ["review", "city", "code"]


def test_semicolon_csv_is_split_on_semicolons() -> None:
    raw = "id;commentaire;note\n1;Très bien, merci;4,5\n2;Nul, vraiment nul;1,0\n".encode()
    frame = read_table(raw, "avis.csv")
    assert list(frame.columns) == ["id", "commentaire", "note"]
    assert frame["commentaire"].iloc[0] == "Très bien, merci"
    assert frame.attrs["delimiter"] == ";"


def test_tab_separated_text_is_split_on_tabs() -> None:
    frame = read_table(b"id\ttext\n1\tgreat, thanks\n2\tbad\n", "export.tsv")
    assert frame["text"].tolist() == ["great, thanks", "bad"]


def test_utf16_file_with_bom_is_decoded() -> None:
    raw = "id\ttext\n1\tÇa marche très bien 👍\n".encode("utf-16")
    assert raw.startswith(codecs.BOM_UTF16_LE)
    frame = read_table(raw, "excel-unicode.csv")
    assert frame["text"].tolist() == ["Ça marche très bien 👍"]
    assert frame.attrs["encoding"] == "utf-16"


def test_utf8_bom_is_not_part_of_the_first_column_name() -> None:
    frame = read_table(codecs.BOM_UTF8 + b"text,id\nnice,1\n", "bom.csv")
    assert list(frame.columns) == ["text", "id"]
    assert frame.attrs["encoding"] == "utf-8"


def test_cp1252_file_keeps_its_accents_and_says_so() -> None:
    raw = "id,comment\n1,Café très agréable – merci\n2,Déçu\n".encode("cp1252")
    frame = read_table(raw, "windows.csv")
    assert frame["comment"].tolist() == ["Café très agréable – merci", "Déçu"]
    assert frame.attrs["encoding"] == "cp1252"


def test_bytes_cp1252_cannot_decode_fall_back_to_latin1() -> None:
    frame = read_table(b"text\nna\x81ve\n", "odd.csv")  # 0x81 is undefined in cp1252
    assert frame.attrs["encoding"] == "latin-1"
    assert frame["text"].tolist() == ["na\x81ve"]


def test_pasted_lines_become_one_text_column() -> None:
    raw = b"Great, thanks.\n\nThe app crashes, again, every time.\nOk\n"
    frame = read_table(raw, None)
    assert list(frame.columns) == ["text"]
    assert frame["text"].tolist() == ["Great, thanks.", "The app crashes, again, every time.", "Ok"]
    assert frame.attrs["format"] == "lines"


def test_pasted_sentences_with_equal_commas_stay_lines() -> None:
    frame = read_table(b"Great, thanks.\nBad, awful.\n", None)
    assert frame["text"].tolist() == ["Great, thanks.", "Bad, awful."]


def test_pasted_table_with_a_header_is_read_as_a_table() -> None:
    frame = read_table(b"id,comment\n1,love it\n2,hate it\n", None)
    assert list(frame.columns) == ["id", "comment"]
    assert frame.attrs["format"] == "csv"


def test_txt_file_is_lines_even_with_commas() -> None:
    frame = read_table(b"a,b\nc,d\n", "notes.txt")
    assert frame["text"].tolist() == ["a,b", "c,d"]


def test_one_column_csv_keeps_commas_inside_cells() -> None:
    frame = read_table(b'text\nHello, world\n"Quoted, with ""quotes"""\n', "one.csv")
    assert frame["text"].tolist() == ["Hello, world", 'Quoted, with "quotes"']


def test_words_like_na_are_text_not_missing() -> None:
    frame = read_table(b"id,text\n1,NA\n2,None\n3,\n", "na.csv")
    assert frame["text"].iloc[:2].tolist() == ["NA", "None"]
    assert pd.isna(frame["text"].iloc[2])


@pytest.mark.parametrize(
    ("raw", "sentence"),
    [
        (b"", "The file is empty."),
        (b" \n\r\n\t", "The file is empty."),
        (codecs.BOM_UTF8, "The file is empty."),
        (b"id,comment\n", "The file has column names but no rows."),
    ],
)
def test_empty_files_are_refused(raw: bytes, sentence: str) -> None:
    with pytest.raises(InputError) as caught:
        read_table(raw, "empty.csv")
    assert str(caught.value) == sentence


@pytest.mark.parametrize(
    "raw",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
        bytes(range(256)) * 4,
        b"text\n" + b"\x01\x02\x03\x04\x05\x06\x07\x08" * 20,
    ],
    ids=["png", "all-bytes", "control-characters"],
)
def test_binary_files_are_refused(raw: bytes) -> None:
    with pytest.raises(InputError, match="looks binary"):
        read_table(raw, "upload.csv")


def test_excel_workbook_is_refused_with_advice() -> None:
    with pytest.raises(InputError, match="Save it as CSV"):
        read_table(b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "data.xlsx")


def test_file_without_a_text_column_is_refused() -> None:
    with pytest.raises(InputError, match="No column in this file contains text"):
        read_table(b"id,score,date_ordinal\n1,0.5,738000\n2,0.7,738001\n", "numbers.csv")


def test_file_over_the_byte_limit_is_refused() -> None:
    raw = b"text\n" + b"fine\n" * 300
    assert read_table(raw, "ok.csv", max_bytes=len(raw)).shape == (300, 1)
    with pytest.raises(InputError, match=r"too large \(1,505 bytes\); the limit is 1,000 bytes"):
        read_table(raw, "big.csv", max_bytes=1_000)


def test_file_over_the_row_limit_is_refused() -> None:
    raw = b"text\n" + b"fine\n" * 11
    with pytest.raises(InputError, match="more than 10 rows"):
        read_table(raw, "rows.csv", max_rows=10)
    with pytest.raises(InputError, match="more than 10 rows"):
        read_table(b"line\n" * 11, None, max_rows=10)
    assert len(read_table(b"text\n" + b"fine\n" * 10, "rows.csv", max_rows=10)) == 10


def test_ragged_csv_is_refused_with_the_parsers_reason() -> None:
    with pytest.raises(InputError, match=r"could not be read.*Expected 2 fields in line 3, saw 3"):
        read_table(b"id,text\n1,good\n2,bad,extra\n", "ragged.csv")


# --- scoring ----------------------------------------------------------------------------------


def test_score_frame_adds_score_columns_and_keeps_the_rest() -> None:
    frame = pd.DataFrame({"id": [1, 2, 3], "comment": ["I love it!", "I hate it.", "At 3pm."]})
    scored = score_frame(frame, "comment")
    assert list(scored.columns) == ["id", "comment", *SCORE_COLUMNS]
    assert scored["label"].tolist() == ["positive", "negative", "neutral"]
    assert scored["compound"].iloc[0] == score_text("I love it!").compound
    assert "compound" not in frame.columns  # the input is not modified


def test_missing_and_blank_cells_score_neutral() -> None:
    frame = pd.DataFrame({"text": ["", None, float("nan"), "   ", pd.NA]}, dtype=object)
    scored = score_frame(frame, "text")
    assert scored["compound"].tolist() == [0.0] * 5
    assert scored["neu"].tolist() == [1.0] * 5
    assert scored["label"].tolist() == ["neutral"] * 5


def test_non_text_cells_are_scored_as_their_text() -> None:
    scored = score_frame(pd.DataFrame({"text": [42, "good"]}, dtype=object), "text")
    assert scored["label"].tolist() == ["neutral", "positive"]


def test_progress_is_reported_every_n_rows_and_at_the_end() -> None:
    frame = pd.DataFrame({"text": ["good", "bad", "good"] * 8 + ["fine"]})  # 25 rows
    calls: list[tuple[int, int]] = []
    score_frame(frame, "text", lambda done, total: calls.append((done, total)), every=10)
    assert calls == [(10, 25), (20, 25), (25, 25)]


def test_repeated_texts_get_identical_scores() -> None:
    frame = pd.DataFrame({"text": ["So helpful, thanks!"] * 50 + ["Useless."] * 50})
    scored = score_frame(frame, "text")
    assert scored["compound"].nunique() == 2


def test_scoring_an_uploaded_file_end_to_end() -> None:
    raw = "id;avis\n1;I love it\n2;Terrible, I hate it\n".encode("cp1252")
    frame = read_table(raw, "avis.csv")
    scored = score_frame(frame, text_columns(frame)[0])
    assert scored["label"].tolist() == ["positive", "negative"]


# --- writing ----------------------------------------------------------------------------------


def test_csv_output_is_utf8_with_bom_and_reads_back() -> None:
    frame = pd.DataFrame({"text": ["Très bien", "ok"], "compound": [0.5, -0.25]})
    raw = to_csv_bytes(frame)
    assert raw.startswith(codecs.BOM_UTF8)
    back = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig")
    assert back["text"].tolist() == ["Très bien", "ok"]
    assert back["compound"].tolist() == [0.5, -0.25]  # negative numbers stay numbers


def test_formula_like_cells_are_defused_in_output() -> None:
    frame = pd.DataFrame(
        {
            "text": [
                '=HYPERLINK("http://x")',
                "+1+2",
                "-2+3+cmd|' /C calc'!A0",
                "@SUM(A1)",
                "\tx",
                "fine",
                "-5",
                "+3.5",
            ],
            "=bad header": ["a"] * 8,
        }
    )
    back = pd.read_csv(
        io.BytesIO(to_csv_bytes(frame)), encoding="utf-8-sig", dtype=str, keep_default_na=False
    )
    assert back["text"].tolist() == [
        '\'=HYPERLINK("http://x")',
        "'+1+2",
        "'-2+3+cmd|' /C calc'!A0",
        "'@SUM(A1)",
        "'\tx",
        "fine",
        "-5",
        "+3.5",
    ]
    assert list(back.columns) == ["text", "'=bad header"]
    assert frame["text"].iloc[0] == '=HYPERLINK("http://x")'  # the input is not modified


def test_defusing_leaves_mixed_object_columns_intact() -> None:
    frame = pd.DataFrame({"v": [1, None, "=1+1", "ok"]}, dtype=object)
    back = pd.read_csv(
        io.BytesIO(to_csv_bytes(frame)), encoding="utf-8-sig", dtype=str, keep_default_na=False
    )
    assert back["v"].tolist() == ["1", "", "'=1+1", "ok"]
