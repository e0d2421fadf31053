"""The relay: ticks while waiting for the first words, then the caller reads directly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from assistant.errors import UnexpectedError
from assistant.events import Event, Failed, Finished, TextDelta
from assistant.relay import Tick, relay


class Source:
    """A reply that records which thread produced each event and whether it was closed."""

    def __init__(self, first_delay: float = 0.0, words: int = 3) -> None:
        self.first_delay = first_delay
        self.words = words
        self.threads: list[str] = []
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[Event]:
        return self.events()

    def events(self) -> Iterator[Event]:
        try:
            time.sleep(self.first_delay)
            for index in range(self.words):
                self.threads.append(threading.current_thread().name)
                yield TextDelta(f"w{index} ")
            yield Finished()
        finally:
            self.closed.set()


def test_a_slow_first_token_gives_ticks_then_the_reply() -> None:
    source = Source(first_delay=0.3)
    items = list(relay(source.events(), tick=0.05))
    assert any(isinstance(item, Tick) for item in items)
    events = [item for item in items if not isinstance(item, Tick)]
    assert events == [TextDelta("w0 "), TextDelta("w1 "), TextDelta("w2 "), Finished()]


def test_after_the_first_words_the_caller_reads_the_source_itself() -> None:
    source = Source()
    list(relay(source.events(), tick=0.05))
    caller = threading.current_thread().name
    assert source.threads[0] == "reply-relay"
    assert source.threads[1:] == [caller, caller]


def test_closing_the_relay_closes_the_source_before_and_after_the_hand_over() -> None:
    waiting = Source(first_delay=0.2)
    stream = relay(waiting.events(), tick=0.05)
    assert isinstance(next(stream), Tick)
    stream.close()
    assert waiting.closed.wait(2)

    flowing = Source(words=100)
    stream = relay(flowing.events(), tick=0.05)
    assert next(stream) == TextDelta("w0 ")
    assert next(stream) == TextDelta("w1 ")
    stream.close()
    assert flowing.closed.is_set()


def test_a_broken_source_ends_in_the_generic_sentence() -> None:
    def broken() -> Iterator[Event]:
        yield TextDelta("partial ")
        raise RuntimeError("bug")

    items = [item for item in relay(broken(), tick=0.05) if not isinstance(item, Tick)]
    assert items[0] == TextDelta("partial ")
    assert isinstance(items[-1], Failed) and isinstance(items[-1].error, UnexpectedError)


def test_the_source_starts_when_the_relay_is_made_not_when_it_is_read() -> None:
    source = Source(words=1)
    stream = relay(source.events(), tick=0.05)
    deadline = time.monotonic() + 2
    while not source.threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert source.threads == ["reply-relay"]  # the first words came before any read
    assert [item for item in stream if not isinstance(item, Tick)] == [
        TextDelta("w0 "),
        Finished(),
    ]


def test_a_relay_closed_before_it_was_read_closes_its_source() -> None:
    waiting = Source(first_delay=0.2)
    relay(waiting.events(), tick=0.05).close()
    assert waiting.closed.wait(2)

    flowing = Source(words=100)
    stream = relay(flowing.events(), tick=0.05)
    time.sleep(0.1)  # the worker has handed over the open source by now
    stream.close()
    assert flowing.closed.wait(2)
