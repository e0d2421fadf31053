"""The transport's sockets and the deadlines that may hang them up (assistant/transport.py)."""

from __future__ import annotations

import socket

from assistant.deadlines import Deadline
from assistant.transport import _bind, _HangupStream


def test_an_earlier_requests_late_hang_up_spares_the_request_that_reuses_its_connection() -> None:
    """After [DONE] a reply drains the body's end under a short deadline; httpx hands the
    connection back to the pool the moment that end is read, so the deadline can expire after
    another request took the connection. That request's stream must go on."""
    ours, server = socket.socketpair()
    stream = _HangupStream(ours)
    earlier, later = Deadline(at=0.0), Deadline(at=1e12)
    stream.bind(earlier)
    with _bind(later):
        stream.write(b"GET / HTTP/1.1\r\n\r\n")  # the next request takes the pooled connection
    earlier.expire()  # the first request's drain deadline, late

    assert server.recv(64) == b"GET / HTTP/1.1\r\n\r\n"
    server.sendall(b"still streaming")
    assert stream.read(64, timeout=1) == b"still streaming"
    later.expire()  # the request's own deadline still hangs up its socket
    assert server.recv(64) == b""
    stream.close()
    server.close()
