"""Batch scoring for analysts: read a table someone uploaded or pasted, score one column,
hand back a CSV.

Choices worth knowing:

- Input bytes come from the browser unchecked (the upload widget's type filter runs in the
  browser only), so everything is checked here: size, binary content, encoding, rows.
- Encoding: a BOM decides (UTF-8, UTF-16, UTF-32); otherwise strict UTF-8, then cp1252 (what
  Excel on Windows writes), then latin-1, which decodes any byte. The frame's
  `attrs["encoding"]` says which one was used, so the page can show it.
- Format: `.csv`/`.tsv` files are tables, `.txt` files are lines; pasted text (no file name) is
  a table only when every sampled line splits into the same number (>= 2) of fields on one
  delimiter and the first line looks like a header, because pasted sentences are full of
  commas. The delimiter is chosen among comma, semicolon and tab by that same consistency test.
- Scoring caches identical texts (feedback exports repeat "Thanks!" thousands of times) and
  walks the column once in Python: each VADER call costs tens of microseconds, far more than
  the loop, and `DataFrame.apply` would only add overhead.
- Output CSV is UTF-8 with a BOM, because Excel opens BOM-less UTF-8 as cp1252 and mangles
  accents, while pandas, LibreOffice and Python's csv module all read the BOM fine. Cells that
  begin with = + - @ (or tab/CR) get a leading single quote so a spreadsheet does not run them
  as formulas (CSV injection); plain numbers such as -0.5 are left alone.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

from assistant.errors import InputError
from assistant.sentiment.scoring import score_text
from assistant.sentiment.statistics import label_array

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
#: Rows between two progress callbacks.
PROGRESS_EVERY = 1_000
SCORE_COLUMNS = ("compound", "pos", "neu", "neg", "label")

_DELIMITERS = ("\t", ";", ",")
#: A delimiter that never occurs in text: reads a one-column CSV with quoting intact.
_NO_DELIMITER = "\x1f"
_SAMPLE_LINES = 50
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16: its BOM starts with UTF-16's
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ARCHIVES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # zip (xlsx, docx), OLE2 (xls, doc)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_LETTER = r"[^\W\d_]"
_NUMBER = r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?"
_FORMULA_START = r"[=+\-@\t\r]"

_BINARY = "This file looks binary, not text. Upload a CSV or a plain text file."


def decode_text(raw: bytes) -> tuple[str, str]:
    """The text of `raw` and the name of the encoding used (see the module docstring)."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding), encoding.removesuffix("-sig")
            except UnicodeDecodeError:
                raise InputError(_BINARY) from None
    if b"\x00" in raw:
        raise InputError(_BINARY)
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"


def _size(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB" if n >= 1_048_576 else f"{n:,} bytes"


def _check_bytes(raw: bytes, max_bytes: int) -> None:
    if len(raw) > max_bytes:
        raise InputError(
            f"The file is too large ({_size(len(raw))}); the limit is {_size(max_bytes)}."
        )
    if not raw.strip():
        raise InputError("The file is empty.")
    if raw.startswith(_ARCHIVES):
        raise InputError(
            "This looks like an Excel or Office file. Save it as CSV (UTF-8) and upload that."
        )


def _field_counts(lines: list[str], delimiter: str) -> list[int]:
    return [len(row) for row in csv.reader(lines, delimiter=delimiter)]


def _sniff(lines: list[str]) -> tuple[str, bool]:
    """The delimiter, and whether every sampled line has the same number (>= 2) of fields."""
    best, best_fields = _NO_DELIMITER, 1
    for delimiter in _DELIMITERS:
        counts = _field_counts(lines, delimiter)
        if counts and counts[0] >= 2 and len(set(counts)) == 1 and counts[0] > best_fields:
            best, best_fields = delimiter, counts[0]
    if best != _NO_DELIMITER:
        return best, True
    # No consistent delimiter: take the one that splits the header most and let the parser
    # report the ragged row; a header with one field is a one-column table.
    for delimiter in _DELIMITERS:
        header = _field_counts(lines[:1], delimiter)
        if header and header[0] > best_fields:
            best, best_fields = delimiter, header[0]
    return best, False


def _looks_like_header(line: str, delimiter: str) -> bool:
    fields = next(csv.reader([line], delimiter=delimiter))
    return all(
        field.strip()
        and len(field) <= 40
        and len(field.split()) <= 4
        and not field.rstrip().endswith((".", "!", "?"))
        for field in fields
    )


def _sample_lines(text: str) -> list[str]:
    lines = []
    for line in io.StringIO(text):
        if line.strip():
            lines.append(line.rstrip("\r\n"))
            if len(lines) == _SAMPLE_LINES + 1:
                break
    # The last sampled line may be cut inside a quoted field that spans lines: drop it.
    return lines[:_SAMPLE_LINES] if len(lines) > _SAMPLE_LINES else lines


def _read_lines(text: str, max_rows: int) -> pd.DataFrame:
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    _check_rows(len(lines), max_rows)
    return pd.DataFrame({"text": pd.Series(lines, dtype=object)})


def _read_csv(text: str, delimiter: str, max_rows: int) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            nrows=max_rows + 1,
            keep_default_na=False,  # "NA" and "None" in a comment are words, not missing values
            na_values=[""],
            index_col=False,
        )
    except pd.errors.EmptyDataError:
        raise InputError("The file is empty.") from None
    except (pd.errors.ParserError, csv.Error, ValueError) as error:
        raise InputError(f"The CSV file could not be read: {error}".rstrip(".") + ".") from None
    if frame.empty:
        raise InputError("The file has column names but no rows.")
    _check_rows(len(frame), max_rows)
    return frame


def _check_rows(rows: int, max_rows: int) -> None:
    if rows > max_rows:
        raise InputError(f"The file has more than {max_rows:,} rows; split it and try again.")
    if rows == 0:
        raise InputError("The file is empty.")


def read_table(
    raw: bytes,
    filename: str | None,
    *,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
) -> pd.DataFrame:
    """A table from uploaded or pasted bytes, or `InputError` saying what is wrong.

    `attrs` of the result: `encoding`, `format` ("csv" or "lines") and `delimiter` (None
    for lines and one-column tables).
    """
    _check_bytes(raw, max_bytes)
    text, encoding = decode_text(raw)
    if not text.strip():
        raise InputError("The file is empty.")
    sample = text[:65_536]
    if len(_CONTROL.findall(sample)) > max(1, len(sample) // 100):
        raise InputError(_BINARY)

    suffix = PurePath(filename).suffix.lower() if filename else ""
    lines = _sample_lines(text)
    delimiter, consistent = _sniff(lines)
    if suffix == ".tsv" and not consistent:
        delimiter = "\t"
    if suffix == ".txt":
        as_table = False
    elif suffix in (".csv", ".tsv"):
        as_table = True
    else:  # pasted text, or a name that says nothing
        as_table = consistent and len(lines) >= 2 and _looks_like_header(lines[0], delimiter)

    frame = _read_csv(text, delimiter, max_rows) if as_table else _read_lines(text, max_rows)
    if not text_columns(frame):
        raise InputError(
            "No column in this file contains text to score (every column is numbers or empty)."
        )
    frame.attrs = {
        "encoding": encoding,
        "format": "csv" if as_table else "lines",
        "delimiter": delimiter if as_table and delimiter != _NO_DELIMITER else None,
    }
    return frame


def text_columns(frame: pd.DataFrame, *, sample: int = 1_000) -> list[str]:
    """Columns holding text, the most text-like first (most words per cell, then longest)."""
    ranked: list[tuple[float, float, str]] = []
    for name in frame.columns:
        column = frame[name]
        if not (column.dtype == object or pd.api.types.is_string_dtype(column.dtype)):
            continue
        values = column.dropna().head(sample)
        values = values[values.map(lambda v: isinstance(v, str))].astype(str)
        if values.empty or not values.str.contains(_LETTER).any():
            continue
        words = float(values.str.split().str.len().mean())
        length = float(values.str.len().mean())
        ranked.append((words, length, name))
    ranked.sort(key=lambda item: (-item[0], -item[1]))
    return [name for _, _, name in ranked]


def score_frame(
    frame: pd.DataFrame,
    column: str,
    progress: Callable[[int, int], None] | None = None,
    *,
    every: int = PROGRESS_EVERY,
) -> pd.DataFrame:
    """A copy of `frame` with `SCORE_COLUMNS` added (replacing columns of those names).

    Empty and missing cells score neutral. `progress(done, total)` is called every `every`
    rows and once at the end.
    """
    cells = frame[column].astype(object).tolist()
    total = len(cells)
    cache: dict[str, tuple[float, float, float, float]] = {}
    rows: list[tuple[float, float, float, float]] = []
    for index, cell in enumerate(cells, start=1):
        text = _cell_text(cell)
        scores = cache.get(text)
        if scores is None:
            s = score_text(text)
            scores = cache[text] = (s.compound, s.pos, s.neu, s.neg)
        rows.append(scores)
        if progress is not None and index % every == 0 and index != total:
            progress(index, total)
    values = np.array(rows, dtype=float).reshape(total, 4)
    result = frame.copy()
    for position, name in enumerate(SCORE_COLUMNS[:4]):
        result[name] = values[:, position]
    result["label"] = label_array(values[:, 0])
    if progress is not None:
        progress(total, total)
    return result


def _cell_text(cell: Any) -> str:
    if isinstance(cell, str):
        return cell
    if cell is None or cell is pd.NA or (isinstance(cell, float) and math.isnan(cell)):
        return ""
    return str(cell)


def _defuse(column: pd.Series) -> pd.Series:
    as_text = column.astype(object)
    is_text = as_text.map(lambda v: isinstance(v, str)).astype(bool)
    text = as_text.where(is_text, "").astype(str)
    risky = is_text & text.str.match(_FORMULA_START) & ~text.str.fullmatch(_NUMBER)
    if not risky.any():
        return column
    return as_text.mask(risky, "'" + text)


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """`frame` as CSV bytes for download: UTF-8 with BOM, formula-like cells defused."""
    safe = frame.copy()
    for name in safe.columns:
        if safe[name].dtype == object or pd.api.types.is_string_dtype(safe[name].dtype):
            safe[name] = _defuse(safe[name])
    safe.columns = _defuse(pd.Series([str(c) for c in safe.columns], dtype=object)).tolist()
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


__all__ = [
    "MAX_BYTES",
    "MAX_ROWS",
    "PROGRESS_EVERY",
    "SCORE_COLUMNS",
    "decode_text",
    "read_table",
    "score_frame",
    "text_columns",
    "to_csv_bytes",
]
