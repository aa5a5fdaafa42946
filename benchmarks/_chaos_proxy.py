"""A fault-injecting websocket proxy between a provider session and a loopback server.

Listens on 127.0.0.1 (a port of its own), forwards every upgrade to the same path and query
on the upstream server with the client's headers and subprotocols, and relays frames both
ways, keeping the framing (text or binary) and mirroring how a side ended: a close frame is
passed on as a close frame, a connection that just ended is aborted on the other side too.

Faults (see ``_chaos_faults``) act on the server->client stream at the frame they are due,
or on the next connection attempts (flapping, an upgrade never answered). While that stream
is stalled the proxy also stops answering the client's pings, as a dead server would. The
proxy also watches what the server says about tools: which calls it issued and which outputs
it accepted (OpenAI echoes each accepted ``function_call_output`` item), per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import WSMsgType, web

from ._chaos_faults import Dialect, Fault, malformed_frame

__all__ = ["ChaosProxy", "LinkRecord"]

_NOT_FORWARDED = frozenset({"host", "upgrade", "connection", "content-length", "transfer-encoding"})
_IDS = re.compile(r'"response_id":\s*"([^"]+)",\s*"item_id":\s*"([^"]+)"')


@dataclass
class LinkRecord:
    """One proxied connection."""

    index: int
    opened_at: float
    frames: int = 0
    ended: str = ""  # how: "server closed 1000", "client closed", "dropped", ...
    outputs_accepted: Counter[str] = field(default_factory=Counter)  # call id -> times the server took an output
    ids_replayed: set[str] = field(default_factory=set)  # issued call ids a Gemini clientContent carried


class _Link:
    def __init__(self, record: LinkRecord, ws: web.WebSocketResponse, up: aiohttp.ClientWebSocketResponse,
                 transport: asyncio.Transport | None) -> None:  # fmt: skip
        self.record, self.ws, self.up, self.transport = record, ws, up, transport
        self.gate = asyncio.Event()  # set: server->client frames flow
        self.gate.set()
        self.dead = False
        self.forever = False  # stalled for good: calm() leaves it stalled


class ChaosProxy:
    def __init__(self, upstream: str, faults: list[Fault], dialect: Dialect) -> None:
        self.upstream = upstream.rstrip("/")  # http://127.0.0.1:port of the loopback server
        self.dialect: Dialect = dialect
        self.pending = [f for f in faults if f.reply < 0]  # scenario faults live in the script
        self.injected: list[tuple[float, Fault]] = []
        self.attempts = 0  # upgrade requests, answered or not
        self.links: list[LinkRecord] = []
        self.issued_calls: list[str] = []  # call ids in the order the server asked for them
        self.cancelled_calls: set[str] = set()  # call ids the server withdrew (Gemini toolCallCancellation)
        self.frames = 0  # server->client frames forwarded, across connections
        self.calmed_at: float | None = None
        self.on_upstream: Callable[[int], None] = lambda index: None
        """Called once connection ``index`` reached the server (the run makes scenario faults transient)."""
        self._flaps = self._holes = 0  # connection attempts still to spoil (-1: all)
        self._tool_drop: Fault | None = None
        self._audio_ids: tuple[str, str] | None = None
        self._live: set[_Link] = set()
        self._closing = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------ lifecycle

    def url(self, server_url: str) -> str:
        """``server_url`` (on the upstream server) as reached through the proxy."""
        scheme, rest = server_url.split("://", 1)
        path = rest[rest.index("/") :] if "/" in rest else ""
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        # Bound here, so port 0 resolves to a port we can read back (as LoopbackServer does).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        self._closing.set()  # upgrades never answered end now
        for link in list(self._live):
            self._drop(link, "proxy closed")
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    def calm(self) -> None:
        """The faults stop: nothing more is injected, stalls and spoiled upgrades end, except
        the forever kinds, which stay as they are (a dead connection stays dead)."""
        self.calmed_at = time.monotonic()
        self.pending.clear()
        self._tool_drop = None
        self._flaps = min(self._flaps, 0)
        self._holes = min(self._holes, 0)
        for link in self._live:
            if not link.forever:
                link.gate.set()

    # ------------------------------------------------------------ connections

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.attempts += 1
        if self._holes:
            if self._holes > 0:
                self._holes -= 1
            await self._closing.wait()  # the upgrade is never answered
            return web.Response(status=503)
        if self._flaps:
            if self._flaps > 0:
                self._flaps -= 1
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            await ws.close(code=1011, message=b"chaos: flapping")
            return ws
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in _NOT_FORWARDED and not k.lower().startswith("sec-websocket")}  # fmt: skip
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        assert self._http is not None
        try:
            up = await self._http.ws_connect(
                self.upstream + request.path_qs, headers=headers, protocols=offered, max_msg_size=0,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0),
            )  # fmt: skip
        except aiohttp.WSServerHandshakeError as exc:
            return web.Response(status=exc.status, text=exc.message)
        except (aiohttp.ClientError, OSError):
            return web.Response(status=502)
        ws = web.WebSocketResponse(protocols=(up.protocol,) if up.protocol else (), max_msg_size=0, autoping=False)
        await ws.prepare(request)
        link = _Link(LinkRecord(len(self.links), time.monotonic()), ws, up, request.transport)
        self.links.append(link.record)
        self.on_upstream(link.record.index)
        self._live.add(link)
        tasks = [asyncio.create_task(self._client_to_server(link)), asyncio.create_task(self._server_to_client(link))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._live.discard(link)
            with contextlib.suppress(Exception):
                await up.close()
            if not ws.closed and not link.dead:
                with contextlib.suppress(Exception):
                    await ws.close()
        return ws

    async def _client_to_server(self, link: _Link) -> None:
        ws, up = link.ws, link.up
        async for msg in ws:
            if msg.type == WSMsgType.PING:
                if link.gate.is_set():  # a stalled server answers nothing
                    await ws.pong(msg.data)
            elif msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                self._observe_client(link, msg.data)
                if msg.type == WSMsgType.TEXT:
                    await up.send_str(msg.data)
                else:
                    await up.send_bytes(msg.data)
        if not link.record.ended:
            link.record.ended = "client closed" if ws.close_code else "client gone"
            with contextlib.suppress(Exception):
                await up.close()

    async def _server_to_client(self, link: _Link) -> None:
        up = link.up
        while True:
            msg = await up.receive()
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                await self._forward(link, msg.data)
                if link.dead:
                    return
            elif msg.type == WSMsgType.CLOSE:
                link.record.ended = link.record.ended or f"server closed {msg.data}"
                await link.gate.wait()  # a stalled stream holds the close frame too
                await link.ws.close(code=int(msg.data or 1000), message=(msg.extra or "").encode())
                return
            else:  # the server's connection just ended: so does the client's
                self._drop(link, link.record.ended or "server dropped")
                return

    def _drop(self, link: _Link, why: str) -> None:
        link.dead = True
        link.record.ended = link.record.ended or why
        link.gate.set()
        if link.transport is not None:
            link.transport.abort()  # no close frame: the client's read just ends

    # ------------------------------------------------------------ faults

    async def _forward(self, link: _Link, data: str | bytes) -> None:
        await link.gate.wait()
        if link.dead:
            return
        self.frames += 1
        link.record.frames += 1
        is_tool_call = self._observe_server(link, data)
        copies = 1
        while self.pending and self.pending[0].at_frame <= self.frames:
            fault = self.pending.pop(0)
            self._fired(fault)
            kind = fault.kind
            if kind in ("drop", "flap", "flap_forever", "no_upgrade", "no_upgrade_forever"):
                if kind.startswith("flap"):
                    self._flaps = -1 if kind.endswith("forever") else fault.count
                elif kind.startswith("no_upgrade"):
                    self._holes = -1 if kind.endswith("forever") else fault.count
                self._drop(link, f"chaos {kind}")
                return
            if kind in ("stall", "stall_forever"):
                link.gate.clear()
                if kind == "stall":
                    asyncio.get_running_loop().call_later(fault.seconds, link.gate.set)
                else:
                    link.forever = True
                await link.gate.wait()
                if link.dead:
                    return
            elif kind == "delay":
                await asyncio.sleep(fault.seconds)  # the fault itself: a latency spike on this frame
            elif kind == "duplicate":
                copies = 2
            elif kind == "malformed":
                await self._send(link, malformed_frame(fault.variant, self.dialect, current=data,
                                                       audio_ids=self._audio_ids))  # fmt: skip
            elif kind == "drop_in_tool":
                self._tool_drop = fault
        for _ in range(copies):
            await self._send(link, data)
        if is_tool_call and self._tool_drop is not None:
            fault, self._tool_drop = self._tool_drop, None
            # The agent runs its tools on this frame; drop while they run.
            asyncio.get_running_loop().call_later(fault.seconds, self._drop, link, "chaos drop_in_tool")

    def _fired(self, fault: Fault) -> None:
        fault.fired = True
        self.injected.append((time.monotonic(), fault))

    async def _send(self, link: _Link, data: str | bytes) -> None:
        if link.dead or link.ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            if isinstance(data, str):
                await link.ws.send_str(data)
            else:
                await link.ws.send_bytes(data)

    # ------------------------------------------------------------ what the server says about tools

    def _observe_server(self, link: _Link, data: str | bytes) -> bool:
        """Note tool calls issued and outputs accepted; True if the agent runs tools on this frame."""
        if isinstance(data, str):  # OpenAI
            head = data[:200]
            if "audio.delta" in head:
                found = _IDS.search(head)
                if found:
                    self._audio_ids = (found.group(1), found.group(2))
                return False
            if "function_call" not in data:
                return False
            ev = json.loads(data)
            kind = ev.get("type")
            item = ev.get("item") or {}
            created = kind in ("conversation.item.added", "conversation.item.created")
            if created and item.get("type") == "function_call_output":
                link.record.outputs_accepted[item.get("call_id", "")] += 1
            elif kind == "response.output_item.done" and item.get("type") == "function_call":
                self.issued_calls.append(item.get("call_id", ""))
            return kind == "response.done" and any(
                o.get("type") == "function_call" for o in (ev.get("response") or {}).get("output") or ()
            )
        key = data[:40]  # Gemini: the message's key leads
        if b'"toolCallCancellation"' in key:  # the caller took the floor: the server forgets these calls
            self.cancelled_calls.update(str(i) for i in (json.loads(data)["toolCallCancellation"].get("ids") or ()))
        if b'"toolCall"' not in key:
            return False
        calls = (json.loads(data).get("toolCall") or {}).get("functionCalls") or []
        self.issued_calls.extend(str(c.get("id", "")) for c in calls)
        return True

    def _observe_client(self, link: _Link, data: str | bytes) -> None:
        # Gemini: a call answered in a replayed conversation rather than by a toolResponse.
        if self.dialect != "gemini" or not self.issued_calls:
            return
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        if "clientContent" in text[:40]:
            link.record.ids_replayed.update(c for c in self.issued_calls if c and c in text)
