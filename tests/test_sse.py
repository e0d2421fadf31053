"""The SSE parser against the spec's rules, fed whole and split at every possible byte."""

from __future__ import annotations

import itertools
import random

import pytest

from assistant.sse import SSEComment, SSEItem, SSEMessage, SSEParser

# A stream with every awkward thing at once: a BOM, comments, all three line endings, multi-line
# data, multi-byte characters (2, 3 and 4 bytes), an event name, ids, and a final event that is
# only ended by the end of the stream.
AWKWARD = (
    "\ufeff: OPENROUTER PROCESSING\r\n\r\n"
    'data: {"content": "héllo"}\n\n'
    "event: update\rid: 7\rdata: first line\rdata:second line\r\r"
    ": keep-alive\n"
    "data:  two spaces, one kept\r\ndata: crlf\r\n\r\n"
    "data: 日本語 and 🎉\n"
    "data\n\n"
    "retry: 3000\n"
    "data: [DONE]\n"
).encode()


def parse_whole(data: bytes) -> list[SSEItem]:
    parser = SSEParser()
    return parser.feed(data) + parser.flush()


def parse_pieces(pieces: list[bytes]) -> list[SSEItem]:
    parser = SSEParser()
    items: list[SSEItem] = []
    for piece in pieces:
        items += parser.feed(piece)
    return items + parser.flush()


def test_awkward_stream_parses_as_the_spec_says() -> None:
    assert parse_whole(AWKWARD) == [
        SSEComment("OPENROUTER PROCESSING"),
        SSEMessage('{"content": "héllo"}'),
        SSEMessage("first line\nsecond line", event="update", id="7"),
        SSEComment("keep-alive"),
        SSEMessage(" two spaces, one kept\ncrlf", id="7"),
        SSEMessage("日本語 and 🎉\n", id="7"),
        SSEMessage("[DONE]", id="7", retry=3000),
    ]


def test_split_at_every_byte_position_gives_the_same_items() -> None:
    expected = parse_whole(AWKWARD)
    for cut in range(len(AWKWARD) + 1):
        assert parse_pieces([AWKWARD[:cut], AWKWARD[cut:]]) == expected, f"cut at {cut}"


def test_one_byte_at_a_time_gives_the_same_items() -> None:
    pieces = [AWKWARD[i : i + 1] for i in range(len(AWKWARD))]
    assert parse_pieces(pieces) == parse_whole(AWKWARD)


def test_random_splits_give_the_same_items() -> None:
    rng = random.Random(2026)
    expected = parse_whole(AWKWARD)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(AWKWARD)), rng.randint(1, 12)))
        bounds = [0, *cuts, len(AWKWARD)]
        pieces = [AWKWARD[a:b] for a, b in itertools.pairwise(bounds)]
        assert parse_pieces(pieces) == expected, cuts


def test_crlf_split_between_cr_and_lf_is_one_line_break() -> None:
    parser = SSEParser()
    # If the lone CR and the LF counted as two breaks, "a" would be dispatched on its own.
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\ndata: b\r\n\r\n") == [SSEMessage("a\nb")]


def test_comments_are_reported_but_never_dispatched_as_data() -> None:
    parser = SSEParser()
    assert parser.feed(b": OPENROUTER PROCESSING\n\n:\n\n") == [
        SSEComment("OPENROUTER PROCESSING"),
        SSEComment(""),
    ]


def test_only_one_space_after_the_colon_is_stripped() -> None:
    assert parse_whole(b"data:x\n\ndata: x\n\ndata:  x\n\n") == [
        SSEMessage("x"),
        SSEMessage("x"),
        SSEMessage(" x"),
    ]


def test_field_without_colon_and_empty_data_line() -> None:
    assert parse_whole(b"data\n\ndata:\n\n") == [SSEMessage(""), SSEMessage("")]


def test_event_without_data_is_not_dispatched() -> None:
    assert parse_whole(b"event: ping\n\ndata: x\n\n") == [SSEMessage("x")]


def test_unknown_fields_are_ignored() -> None:
    assert parse_whole(b"foo: bar\ndata: x\nbaz\n\n") == [SSEMessage("x")]


def test_id_persists_and_an_id_with_nul_is_ignored() -> None:
    items = parse_whole(b"id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\nid\ndata: c\n\n")
    assert [m.id for m in items if isinstance(m, SSEMessage)] == ["1", "1", ""]


def test_retry_must_be_digits() -> None:
    items = parse_whole(b"retry: soon\ndata: a\n\nretry: 250\ndata: b\n\n")
    assert [m.retry for m in items if isinstance(m, SSEMessage)] == [None, 250]


def test_a_bom_is_skipped_only_at_the_start() -> None:
    assert parse_whole("\ufeffdata: a\n\ndata: \ufeffb\n\n".encode()) == [
        SSEMessage("a"),
        SSEMessage("\ufeffb"),
    ]


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_multibyte_character_split_inside_survives(cut: int) -> None:
    encoded = "data: 🎉\n\n".encode()
    start = encoded.index("🎉".encode())
    parser = SSEParser()
    assert parser.feed(encoded[: start + cut]) == []
    assert parser.feed(encoded[start + cut :]) == [SSEMessage("🎉")]


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert parse_whole(b"data: a\xffb\n\n") == [SSEMessage("a\ufffdb")]


def test_flush_dispatches_an_event_whose_lines_were_complete() -> None:
    parser = SSEParser()
    assert parser.feed(b'data: {"a": 1}\n') == []
    assert parser.flush() == [SSEMessage('{"a": 1}')]


def test_flush_discards_a_line_cut_short() -> None:
    parser = SSEParser()
    assert parser.feed(b'data: {"a": 1}\n\ndata: {"b"') == [SSEMessage('{"a": 1}')]
    assert parser.flush() == []


def test_flush_resets_the_parser_for_a_new_stream() -> None:
    parser = SSEParser()
    parser.feed(b"id: 9\ndata: a")
    parser.flush()
    assert parser.feed(b"data: b\n\n") == [SSEMessage("b")]
