"""A small Streamlit client that speaks the browser's WebSocket protocol, for benchmarks.

A browser tab talks to `streamlit run` over one WebSocket (`/_stcore/stream`): it sends
`BackMsg` protobufs and receives `ForwardMsg` protobufs (both ship with Streamlit, in
`streamlit.proto`). This client does what the bundled frontend does, and nothing more:

- it connects with the subprotocols `["streamlit", <xsrf token or "PLACEHOLDER_AUTH_TOKEN">]`
  and a same-origin `Origin` header, sending the page's cookies (so the app's
  `st.context.cookies` sees, say, its session cookie);
- it asks for a run with `BackMsg.rerun_script` carrying a `ClientState` (query string, page
  script hash, widget states, the hashes of cached messages, and the browser's context info);
- it keeps what the frontend keeps between runs: the page script hash (from `new_session` and
  `navigation`), the query string (the app changes it through `page_info_changed`), and the
  cacheable messages (the server may send a `ref_hash` for a message the client says it has);
- a chat submission is a rerun whose widget states hold the chat input's `chat_input_value`
  (the element id comes from the `chat_input` element of the last run), as the frontend and
  `AppTest` send it.

Everything runs on asyncio with the `websockets` package (a Streamlit dependency), so hundreds
of sessions can be simulated from one process. Each request starts an `Interaction` that counts
the ForwardMsg bytes that arrive until the run's `script_finished`, and records when watched
patterns first appear in a markdown element (to time tokens on the wire).

Like a browser, the client offers WebSocket compression (permessage-deflate); the server
decides (`server.enableWebsocketCompression`). `bytes` counts ForwardMsg payloads as the app
produced them; `wire_bytes` counts what arrived on the TCP connection (WebSocket frames, after
any compression), which is what a network and a phone's data plan carry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection

STREAM_PATH = "/_stcore/stream"
NO_AUTH_TOKEN = "PLACEHOLDER_AUTH_TOKEN"  # what the frontend sends when it has no XSRF cookie
# A run ends with script_finished; this status means another run follows at once.
_RERUN_FOLLOWS = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN


class ProtocolError(RuntimeError):
    """The app answered something a browser could not use (an exception, a closed socket)."""


class _CountingConnection(ClientConnection):
    """A client connection that counts the bytes the socket delivers (frames, compressed)."""

    wire_bytes = 0

    def data_received(self, data: bytes) -> None:
        self.wire_bytes += len(data)
        super().data_received(data)


@dataclass
class Interaction:
    """One request to the server and everything it caused, until the run finished."""

    watch: dict[str, re.Pattern[str]]
    started_at: float = field(default_factory=time.time)  # wall clock, to compare processes
    started_perf: float = field(default_factory=time.perf_counter)
    bytes: int = 0  # ForwardMsg payload bytes received
    wire_bytes: int = 0  # bytes on the TCP connection until the run finished (see module doc)
    wire_at_start: int = 0
    messages: int = 0
    finished_at: float | None = None
    finished_perf: float | None = None
    seen: dict[str, float] = field(default_factory=dict)  # watch name -> time.time() first seen
    last_text_at: float | None = None  # time.time() of the last markdown element received
    last_text: str = ""  # the body of that element (to say what a page showed instead)
    alerts: list[str] = field(default_factory=list)  # st.error/warning/info bodies shown
    recent: list[str] = field(default_factory=list)  # the last few markdown bodies received
    errors: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def server_seconds(self) -> float:
        """From sending the request to receiving `script_finished`."""
        if self.finished_perf is None:
            raise ProtocolError("the run has not finished")
        return self.finished_perf - self.started_perf


@dataclass
class SessionInfo:
    """What the frontend keeps between runs."""

    page_script_hash: str = ""
    main_script_hash: str = ""
    query_string: str = ""
    chat_input_id: str = ""
    script_running: bool = False


class Session:
    """One simulated browser tab. Use `async with Session(url, ...) as tab:`."""

    def __init__(
        self,
        base_url: str,
        *,
        cookies: dict[str, str] | None = None,
        query_string: str = "",
        timezone: str = "UTC",
        locale: str = "en-US",
        keepalive: float | None = None,
        compression: bool = True,
        client_address: str | None = None,
    ) -> None:
        """`keepalive`: seconds between the client's own pings (None: only answer the
        server's); a server that cannot answer one within as long drops the session, as a
        browser behind a proxy with that idle timeout would see. `compression`: offer
        permessage-deflate, as browsers do. `client_address`: sent as X-Forwarded-For, for
        an app that trusts this machine as its proxy (many browsers from one process)."""
        parsed = urlparse(base_url)
        self._http_url = f"{parsed.scheme}://{parsed.netloc}"
        self._ws_url = f"ws://{parsed.netloc}{STREAM_PATH}"
        self._cookies = dict(cookies or {})
        self._timezone = timezone
        self._locale = locale
        self._keepalive = keepalive
        self._compression = compression
        self._client_address = client_address
        self.info = SessionInfo(query_string=query_string.lstrip("?"))
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._current: Interaction | None = None
        self._cache: dict[str, bytes] = {}  # hash -> serialized cacheable ForwardMsg
        self._components: dict[str, str] = {}  # v2 component name -> its JSON data
        self.total_bytes = 0
        self.closed_reason: str | None = None

    # -- connection ------------------------------------------------------------------------

    async def connect(self) -> None:
        headers = {}
        if self._client_address:
            headers["X-Forwarded-For"] = self._client_address
        if self._cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self._cookies.items())
        token = self._cookies.get("_streamlit_xsrf") or NO_AUTH_TOKEN
        self._ws = await websockets.connect(
            self._ws_url,
            subprotocols=["streamlit", token],  # type: ignore[list-item]
            origin=self._http_url,  # type: ignore[arg-type]
            additional_headers=headers,
            max_size=None,
            compression="deflate" if self._compression else None,  # the server decides
            open_timeout=60,
            ping_interval=self._keepalive,  # None: the server pings, websockets answers
            ping_timeout=self._keepalive,
            create_connection=_CountingConnection,
        )
        self._reader = asyncio.create_task(self._read(), name="st-client-reader")

    @property
    def wire_bytes(self) -> int:
        """Bytes received on the TCP connection so far (after any compression)."""
        return self._ws.wire_bytes if isinstance(self._ws, _CountingConnection) else 0

    @property
    def compressed(self) -> bool:
        """Whether the server accepted permessage-deflate."""
        return bool(self._ws is not None and self._ws.protocol.extensions)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def __aenter__(self) -> Session:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- requests --------------------------------------------------------------------------

    async def rerun(
        self, widgets: Iterable[WidgetState] = (), *, watch: dict[str, str] | None = None
    ) -> Interaction:
        """Ask for a run (a page load when it is the first); returns at once, see `finish`."""
        if self._current is not None and not self._current.done.is_set():
            raise ProtocolError("a run is still in progress")
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.info.query_string
        state.page_script_hash = self.info.page_script_hash
        state.page_name = ""
        state.widget_states.widgets.extend(widgets)
        state.cached_message_hashes.extend(self._cache)
        ctx = state.context_info
        ctx.timezone = self._timezone
        ctx.timezone_offset = 0
        ctx.locale = self._locale
        query = f"?{self.info.query_string}" if self.info.query_string else ""
        ctx.url = f"{self._http_url}/{query}"
        ctx.is_embedded = False
        ctx.color_scheme = "light"
        interaction = Interaction({name: re.compile(p) for name, p in (watch or {}).items()})
        interaction.wire_at_start = self.wire_bytes
        self._current = interaction
        await self._ws.send(msg.SerializeToString())
        return interaction

    async def submit_chat(self, text: str, *, watch: dict[str, str] | None = None) -> Interaction:
        """Type `text` into the chat input and press Enter."""
        if not self.info.chat_input_id:
            raise ProtocolError("no chat input on the page")
        widget = WidgetState(id=self.info.chat_input_id)
        widget.chat_input_value.data = text
        return await self.rerun([widget], watch=watch)

    async def finish(self, interaction: Interaction, timeout: float = 120.0) -> Interaction:
        """Wait for the run to end; raises if the app showed an exception or hung up."""
        await asyncio.wait_for(interaction.done.wait(), timeout)
        if interaction.errors:
            raise ProtocolError("; ".join(interaction.errors))
        return interaction

    async def load(self, timeout: float = 120.0) -> Interaction:
        """Open the page: the first run, as a browser does after connecting."""
        return await self.finish(await self.rerun(), timeout)

    async def chat(
        self, text: str, *, watch: dict[str, str] | None = None, timeout: float = 120.0
    ) -> Interaction:
        return await self.finish(await self.submit_chat(text, watch=watch), timeout)

    def component_data(self, name: str) -> dict[str, Any]:
        """The JSON data the page last gave the v2 component whose name ends with `name`."""
        for full_name, data in self._components.items():
            if full_name.endswith(name):
                loaded = json.loads(data) if data else {}
                return loaded if isinstance(loaded, dict) else {}
        raise ProtocolError(f"no component {name!r} on the page")

    # -- receiving -------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                self._receive(raw)
        except websockets.ConnectionClosed as exc:
            self.closed_reason = f"connection closed: {exc}"
        finally:
            if self.closed_reason is None:
                self.closed_reason = "connection closed"
            current = self._current
            if current is not None and not current.done.is_set():
                current.errors.append(self.closed_reason)
                current.done.set()

    def _receive(self, raw: bytes | str) -> None:
        now = time.time()
        data = raw.encode() if isinstance(raw, str) else raw
        self.total_bytes += len(data)
        msg = ForwardMsg()
        msg.ParseFromString(data)
        current = self._current
        if current is not None and not current.done.is_set():
            current.bytes += len(data)
            current.messages += 1
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            cached = self._cache.get(msg.ref_hash)
            if cached is None:
                self._fail(f"unknown ref_hash {msg.ref_hash}")
                return
            msg = ForwardMsg()
            msg.ParseFromString(cached)
            kind = msg.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            self._cache[msg.hash] = data
        if kind == "delta":
            self._on_delta(msg, now)
        elif kind == "new_session":
            self.info.page_script_hash = msg.new_session.page_script_hash
            self.info.main_script_hash = msg.new_session.main_script_hash
        elif kind == "navigation":
            self.info.page_script_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.info.query_string = msg.page_info_changed.query_string
        elif kind == "session_status_changed":
            self.info.script_running = msg.session_status_changed.script_is_running
        elif kind == "script_finished" and msg.script_finished != _RERUN_FOLLOWS and current:
            current.finished_at = now
            current.finished_perf = time.perf_counter()
            current.wire_bytes = self.wire_bytes - current.wire_at_start
            current.done.set()

    def _on_delta(self, msg: ForwardMsg, now: float) -> None:
        delta = msg.delta
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        which = element.WhichOneof("type")
        if which == "chat_input":
            self.info.chat_input_id = element.chat_input.id
        elif which == "bidi_component":
            component = element.bidi_component
            self._components[component.component_name] = component.json
        elif which == "exception":
            self._fail(f"the app raised: {element.exception.message or element.exception.type}")
        elif which == "alert" and self._current is not None:
            self._current.alerts.append(element.alert.body)
        elif which == "markdown":
            current = self._current
            if current is None:
                return
            current.last_text_at = now
            body = current.last_text = element.markdown.body
            current.recent = [*current.recent[-4:], body[-80:]]
            for name, pattern in current.watch.items():
                if name not in current.seen and pattern.search(body):
                    current.seen[name] = now

    def _fail(self, reason: str) -> None:
        if self._current is not None:
            self._current.errors.append(reason)


__all__ = ["Interaction", "ProtocolError", "Session", "SessionInfo"]
