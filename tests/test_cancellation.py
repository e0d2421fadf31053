"""Stopping a reply from another thread, in every state, against the fake OpenRouter server.

Each test starts a reply on a worker thread (as the app's reply task does), stops it from the
test's thread while the worker is blocked, and checks that the server saw the hang-up and that
the stream ended with no `Finished`/`Failed`. The bounds are generous (2 s) against scenarios
that would otherwise go on for a minute; speed figures are in bench/bench_client.py.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from assistant.cancellation import Cancellation
from assistant.chat import Assistant
from assistant.client import ChatClient
from assistant.context import ChatTurn
from assistant.events import Event, Failed, Finished, TextDelta
from assistant.roles import builtin_roles
from assistant.settings import Settings
from tests.fake_openrouter import (
    FALLBACK_MODEL,
    TEXT_MODEL,
    FakeOpenRouter,
    echo,
    http_error,
    long_reply,
    never_connecting_url,
    slow_headers,
    stall,
)

HELLO = [{"role": "user", "content": "Hello"}]
BOUND = 2.0  # seconds; every scenario below would otherwise last 30 to 60 s


@pytest.fixture
def settings(fake: FakeOpenRouter) -> Settings:
    # Long bounds: only the stop may end these replies within the test.
    return Settings(
        api_key="sk-or-v1-test",
        base_url=fake.url,
        connect_timeout=30.0,
        first_token_timeout=120.0,
        stall_timeout=120.0,
        max_retries=2,
        retry_budget=120.0,
        fallback_models=(),
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[ChatClient]:
    with ChatClient(settings) as chat_client:  # real sleeps: a stop must cut them short
        yield chat_client


class Reader:
    """Iterates a reply on its own thread, like the app's reply task."""

    def __init__(self, events: Iterator[Event]) -> None:
        self.events: list[Event] = []
        self.text_arrived = threading.Event()
        self._source = events
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for event in self._source:
            self.events.append(event)
            if isinstance(event, TextDelta):
                self.text_arrived.set()

    def ended_within(self, seconds: float) -> bool:
        self._thread.join(seconds)
        return not self._thread.is_alive()

    @property
    def final_events(self) -> list[Event]:
        return [e for e in self.events if isinstance(e, (Finished, Failed))]


def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the scenario never reached the state to stop in"
        time.sleep(0.01)


def stop_and_check(fake: FakeOpenRouter, reader: Reader, cancel: Cancellation) -> None:
    cancel.cancel()
    assert fake.wait_for_disconnect(timeout=BOUND), "the server never saw the hang-up"
    assert reader.ended_within(BOUND), "the stream did not end after the stop"
    assert reader.final_events == []  # a stopped reply has no Finished/Failed


# -- the Cancellation itself -----------------------------------------------------------------


def test_cancel_runs_each_callback_once_and_is_idempotent() -> None:
    cancel = Cancellation()
    calls: list[str] = []
    cancel.add_callback(lambda: calls.append("a"))
    remove_b = cancel.add_callback(lambda: calls.append("b"))
    remove_b()
    assert not cancel.cancelled
    cancel.cancel()
    cancel.cancel()
    assert calls == ["a"]
    assert cancel.cancelled


def test_a_callback_added_after_cancel_runs_at_once() -> None:
    cancel = Cancellation()
    cancel.cancel()
    calls: list[int] = []
    remove = cancel.add_callback(lambda: calls.append(1))
    assert calls == [1]
    remove()  # harmless


def test_a_failing_callback_does_not_keep_the_others_from_running() -> None:
    cancel = Cancellation()
    calls: list[int] = []

    def broken() -> None:
        raise RuntimeError("boom")

    cancel.add_callback(broken)
    cancel.add_callback(lambda: calls.append(1))
    cancel.cancel()
    assert calls == [1]


def test_wait_wakes_at_once_on_cancel_from_another_thread() -> None:
    cancel = Cancellation()
    threading.Timer(0.05, cancel.cancel).start()
    started = time.monotonic()
    assert cancel.wait(30.0) is True
    assert time.monotonic() - started < BOUND


# -- stopping the client in each state -------------------------------------------------------


@pytest.mark.parametrize("connection", ["new", "pooled"])
def test_stop_while_waiting_for_response_headers_hangs_up(
    client: ChatClient, fake: FakeOpenRouter, connection: str
) -> None:
    if connection == "pooled":  # the socket of a reused connection is the hard one to know
        assert list(client.stream_chat(HELLO, TEXT_MODEL))[-1] == Finished("stop")
    fake.queue(slow_headers(60.0))
    cancel = Cancellation()
    reader = Reader(client.stream_chat(HELLO, TEXT_MODEL, cancel=cancel))
    wait_until(lambda: len(fake.streams) == 1 + (connection == "pooled"))
    if connection == "pooled":
        first, second = fake.chat_requests
        assert first.client_port == second.client_port  # the same connection, reused
    stop_and_check(fake, reader, cancel)
    assert reader.events == []


def test_stop_while_waiting_for_the_first_token_behind_keepalives_hangs_up(
    client: ChatClient, fake: FakeOpenRouter
) -> None:
    fake.queue(echo(first_token_delay=60.0, keepalive_interval=0.05))
    cancel = Cancellation()
    reader = Reader(client.stream_chat(HELLO, TEXT_MODEL, cancel=cancel))
    wait_until(lambda: len(fake.streams) == 1)
    time.sleep(0.2)  # keep-alives are flowing; the reader waits for content
    stop_and_check(fake, reader, cancel)
    assert reader.events == []


@pytest.mark.parametrize(
    "scenario",
    [long_reply(token_count=5000, tokens_per_second=50), stall("Partial", keepalive_interval=None)],
    ids=["streaming", "silent-after-text"],
)
def test_stop_mid_stream_hangs_up_and_keeps_what_arrived(
    client: ChatClient, fake: FakeOpenRouter, scenario: Any
) -> None:
    fake.queue(scenario)
    cancel = Cancellation()
    reader = Reader(client.stream_chat(HELLO, TEXT_MODEL, cancel=cancel))
    assert reader.text_arrived.wait(5.0)
    time.sleep(0.1)
    stop_and_check(fake, reader, cancel)
    assert isinstance(reader.events[-1], TextDelta)
    assert fake.disconnects[0].tokens_sent < 5000


def test_stop_during_a_retry_backoff_starts_no_retry_and_no_fallback(
    client: ChatClient, fake: FakeOpenRouter, caplog: pytest.LogCaptureFixture
) -> None:
    fake.queue(http_error(503, retry_after=30))
    cancel = Cancellation()
    with caplog.at_level(logging.WARNING, logger="assistant.client"):
        reader = Reader(
            client.stream_chat(HELLO, TEXT_MODEL, fallback_models=[FALLBACK_MODEL], cancel=cancel)
        )
        wait_until(lambda: any("retrying" in r.getMessage() for r in caplog.records))
    cancel.cancel()
    assert reader.ended_within(BOUND)
    assert reader.events == []
    assert [r.model for r in fake.chat_requests] == [TEXT_MODEL]


def test_stop_while_connecting_ends_the_stream(settings: Settings) -> None:
    with never_connecting_url() as base, ChatClient(replace(settings, base_url=base)) as client:
        cancel = Cancellation()
        reader = Reader(client.stream_chat(HELLO, TEXT_MODEL, cancel=cancel))
        time.sleep(0.3)
        assert not reader.ended_within(0)  # still connecting
        cancel.cancel()
        assert reader.ended_within(BOUND)
    assert reader.events == []


def test_a_reply_stopped_before_it_starts_sends_nothing(
    client: ChatClient, fake: FakeOpenRouter
) -> None:
    cancel = Cancellation()
    cancel.cancel()
    assert list(client.stream_chat(HELLO, TEXT_MODEL, cancel=cancel)) == []
    assert fake.chat_requests == []


def test_the_client_answers_normally_after_stops(client: ChatClient, fake: FakeOpenRouter) -> None:
    for scenario in (long_reply(token_count=5000, tokens_per_second=200), slow_headers(60.0)):
        fake.queue(scenario)
        cancel = Cancellation()
        events = client.stream_chat(HELLO, TEXT_MODEL, cancel=cancel)
        if scenario.headers_delay:
            threading.Timer(0.2, cancel.cancel).start()
        for event in events:
            if isinstance(event, TextDelta):
                cancel.cancel()  # from the reading thread itself, between two reads
    assert fake.wait_for_disconnect(count=2)
    events = list(client.stream_chat(HELLO, TEXT_MODEL))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Echo: Hello"
    assert events[-1] == Finished("stop")


def test_closing_from_the_reading_thread_still_hangs_up(
    client: ChatClient, fake: FakeOpenRouter
) -> None:
    fake.queue(long_reply(token_count=500, tokens_per_second=50))
    events = client.stream_chat(HELLO, TEXT_MODEL, cancel=Cancellation())
    for event in events:
        if isinstance(event, TextDelta):
            break
    events.close()  # type: ignore[attr-defined]
    assert fake.wait_for_disconnect()


# -- through the assistant -------------------------------------------------------------------


def test_stop_through_the_assistant_hangs_up_before_the_first_token(
    settings: Settings, fake: FakeOpenRouter
) -> None:
    fake.queue(echo(first_token_delay=60.0, keepalive_interval=0.05))
    assistant = Assistant(settings)
    role = builtin_roles()["tech_support"]
    cancel = Cancellation()
    reader = Reader(assistant.stream_reply(role, [ChatTurn("user", "Hello")], cancel=cancel))
    wait_until(lambda: len(fake.streams) == 1)
    stop_and_check(fake, reader, cancel)
    assert reader.events == []


# -- over TLS (OpenRouter is HTTPS: the transport's own sockets must speak it) ------------------


@pytest.fixture
def tls_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenRouter]:
    certificate, key = _self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certificate, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))  # the client trusts it (httpx reads it)
    with FakeOpenRouter(ssl_context=server_context) as server:
        yield server


def test_replies_and_stops_work_over_tls(tls_fake: FakeOpenRouter, settings: Settings) -> None:
    with ChatClient(replace(settings, base_url=tls_fake.url)) as client:
        events = list(client.stream_chat(HELLO, TEXT_MODEL))
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Echo: Hello"
        tls_fake.queue(slow_headers(60.0))
        cancel = Cancellation()
        reader = Reader(client.stream_chat(HELLO, TEXT_MODEL, cancel=cancel))
        wait_until(lambda: len(tls_fake.streams) == 2)
        stop_and_check(tls_fake, reader, cancel)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
