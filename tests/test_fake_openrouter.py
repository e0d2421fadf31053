"""The fake provider itself, where benchmarks lean on it: many connections at once."""

from __future__ import annotations

import socket
import threading

from tests.fake_openrouter import FakeOpenRouter


def test_a_burst_of_connections_is_answered_not_reset() -> None:
    answers: list[bytes] = []
    with FakeOpenRouter() as fake:
        host, port = fake.root_url.removeprefix("http://").split(":")
        start = threading.Barrier(300)

        def ask() -> None:
            start.wait()
            try:
                with socket.create_connection((host, int(port)), timeout=10) as sock:
                    sock.sendall(
                        b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    )
                    answers.append(sock.recv(12))
            except OSError as exc:
                answers.append(repr(exc).encode())

        threads = [threading.Thread(target=ask) for _ in range(300)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert answers.count(b"HTTP/1.1 200") == 300, set(answers)
