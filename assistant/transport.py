"""The HTTP transport that tells each request's `Deadline` its socket as soon as one exists.

Stopping a reply from another thread means shutting down the socket its thread is blocked on
(assistant/deadlines.py). After the response headers, httpx reports the socket
(`response.extensions["network_stream"]`); the hard part is before them, while
`httpx.Client.send` is still connecting, writing the request or waiting for the status line.

Why not httpcore's `trace` request extension: it reports the network stream only when a
request opens a new connection (`connection.connect_tcp.complete`). A request that reuses a
pooled keep-alive connection, which is nearly every request of a busy process, is traced with
`http11.send_request_headers` and friends, whose only argument is the request: its socket stays
unknown until the headers arrive, which is exactly the case to cover. Nor would it help while
`connect()` itself is blocked (an unreachable host), since the stream exists only afterwards.

So the pool gets a network backend of its own. Its sockets are created here, and a request
carries its `Deadline` in the `HANGUP` request extension; `HangupTransport.handle_request` binds
that deadline to the calling thread for the duration of the pool's work, and the socket hands
itself to the bound deadline on `connect` (before the connect, so a stop wakes it) and on every
write (the first I/O of a request on a reused connection is writing its headers). This relies on
one documented property of httpcore's synchronous API: all of a request's I/O up to the response
headers runs in the thread that called it. A socket being closed first lets go of its deadline,
under the deadline's lock, so a late hang-up never touches a closed (or reused) descriptor.

httpx's `HTTPTransport` exposes no way to choose the network backend, so `HangupTransport`
replaces its connection pool (`_pool`, the one private name used here) with an identical
`httpcore.ConnectionPool` built from the same settings plus this backend; everything else
(exception mapping, response streams) is httpx's own code. Requests that httpx sends through a
proxy (HTTPS_PROXY in the environment) use httpx's own proxy transport instead, as does a
transport passed to `ChatClient`: those stop at once only from the response headers on.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from assistant.deadlines import Deadline

__all__ = ["HANGUP", "HangupTransport"]

#: The request extension that carries an attempt's `Deadline` to the transport.
HANGUP = "assistant.hangup"

_bound = threading.local()  # .deadline: the Deadline of the request this thread is sending


def _current() -> Deadline | None:
    return getattr(_bound, "deadline", None)


@contextmanager
def _bind(deadline: Deadline | None) -> Iterator[None]:
    previous = _current()
    _bound.deadline = deadline
    try:
        yield
    finally:
        _bound.deadline = previous


class HangupTransport(httpx.HTTPTransport):
    """httpx's transport, with sockets that a request's `Deadline` can shut down at any time."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_HangupBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = request.extensions.get(HANGUP)
        if not isinstance(deadline, Deadline):
            return super().handle_request(request)
        with _bind(deadline):
            return super().handle_request(request)


class _HangupBackend(httpcore.NetworkBackend):
    """httpcore's synchronous TCP backend, with the socket handed to the bound deadline."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        deadline = _current()
        with _mapped({TimeoutError: httpcore.ConnectTimeout, OSError: httpcore.ConnectError}):
            # Name resolution cannot be woken; a hang-up during it applies right after.
            addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            last: OSError = OSError(f"no address for {host}")
            for family, kind, proto, _, address in addresses:
                sock = socket.socket(family, kind, proto)
                stream = _HangupStream(sock)
                try:
                    if deadline is not None:
                        stream.bind(deadline)  # shut down at once if the hang-up came first
                    for option in socket_options or ():
                        sock.setsockopt(*option)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    sock.settimeout(timeout)
                    if local_address:
                        sock.bind((local_address, 0))
                    sock.connect(address)
                    return stream
                except OSError as exc:
                    stream.close()
                    last = exc
                    if deadline is not None and deadline.expired:
                        break
                except BaseException:
                    stream.close()
                    raise
            raise last

    def sleep(self, seconds: float) -> None:
        threading.Event().wait(seconds)  # httpcore's connect retries; we configure none


class _HangupStream(httpcore.NetworkStream):
    """A blocking socket as httpcore's network stream (what httpcore's own SyncStream does)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._deadline: Deadline | None = None

    def bind(self, deadline: Deadline) -> None:
        previous = self._deadline
        if previous is not None and previous is not deadline:
            # The request that used this pooled connection before may still hang up: its
            # drain after [DONE] is bounded by the watchdog, and the connection went back to
            # the pool when that drain read the body's end. It must not reach this request.
            previous.detach(self._sock)
        self._deadline = deadline
        deadline.attach(self._sock)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _mapped({TimeoutError: httpcore.ReadTimeout, OSError: httpcore.ReadError}):
            self._sock.settimeout(timeout)
            return self._sock.recv(max_bytes)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        deadline = _current()
        if deadline is not None and deadline is not self._deadline:
            self.bind(deadline)  # a pooled connection taken by a new request
        with _mapped({TimeoutError: httpcore.WriteTimeout, OSError: httpcore.WriteError}):
            while buffer:
                self._sock.settimeout(timeout)
                sent = self._sock.send(buffer)
                buffer = buffer[sent:]

    def close(self) -> None:
        if self._deadline is not None:
            self._deadline.detach(self._sock)
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        with _mapped({TimeoutError: httpcore.ConnectTimeout, OSError: httpcore.ConnectError}):
            self._sock.settimeout(timeout)
            try:
                # The handshake is done after the deadline holds the TLS socket: wrapping
                # detaches the plain socket object, which then no longer reaches the descriptor.
                wrapped = ssl_context.wrap_socket(
                    self._sock, server_hostname=server_hostname, do_handshake_on_connect=False
                )
            except BaseException:
                self.close()
                raise
            stream = _HangupStream(wrapped)
            try:
                if self._deadline is not None:
                    self._deadline.detach(self._sock)
                    stream.bind(self._deadline)
                wrapped.do_handshake()
            except BaseException:
                stream.close()
                raise
        return stream

    def get_extra_info(self, info: str) -> Any:
        sock = self._sock
        if info == "ssl_object":  # httpcore asks it for the negotiated ALPN protocol
            return sock if isinstance(sock, ssl.SSLSocket) else None
        if info == "client_addr":
            return sock.getsockname()
        if info == "server_addr":
            return sock.getpeername()
        if info == "socket":
            return sock
        if info == "is_readable":
            return _readable(sock)
        return None


def _readable(sock: socket.socket) -> bool:
    """Whether a read would not block: an idle pooled connection that is readable was closed
    by the server (or hung up by us), so the pool drops it instead of reusing it."""
    if sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


@contextmanager
def _mapped(errors: Mapping[type[Exception], type[Exception]]) -> Iterator[None]:
    """Raise httpcore's exception types, which httpx maps to its own (as httpcore does)."""
    try:
        yield
    except Exception as exc:
        for source, target in errors.items():
            if isinstance(exc, source):
                raise target(exc) from exc
        raise
