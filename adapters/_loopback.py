"""What the loopback servers share: an aiohttp app on a port of their own choosing, and
the pacing and faults of a scripted reply.

A provider's server says which paths it serves and how to close its open connections;
LoopbackServer binds the socket (port 0 resolves to a free port that can be read back),
runs the app, and is an async context manager. Each server's reply stream says what its
protocol sends; PacedReply says when, and applies the scenario's stall and drop faults.

What a server records for assertions is bounded (``BoundedLog``, ``BoundedDict``: the
newest entries are kept) and audio payloads are not kept in it, so a server run for hours
in a user's CI stays flat; a client that opens a connection and sends no complete request
is closed after ``header_timeout_s``.
"""

from __future__ import annotations

import asyncio
import math
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Protocol, Self, TypeVar

from aiohttp import web

from .scenario import ModelReply

__all__ = [
    "KEEP_CONNECTIONS", "KEEP_EVENTS", "KEEP_KEYS", "BoundedDict", "BoundedLog", "LoopbackServer", "PacedReply",
    "ReplyDropped", "ReplyStopped",
]  # fmt: skip

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

KEEP_CONNECTIONS = 100  # connection records a server keeps (the newest)
KEEP_EVENTS = 2000  # events of each kind a connection record keeps (the newest)
KEEP_KEYS = 2000  # entries of a server-wide table (audio sent per item, resumption handles)


class BoundedLog(list[T]):
    """A list that keeps only its newest ``maxlen`` items; ``dropped`` counts the others.

    A list (not a deque) so what tests already do with a record (index, slice, compare
    with a list) still works.
    """

    def __init__(self, maxlen: int = KEEP_EVENTS) -> None:
        super().__init__()
        self.maxlen = maxlen
        self.dropped = 0

    def append(self, item: T) -> None:
        super().append(item)
        self._trim()

    def extend(self, items: Iterable[T]) -> None:
        super().extend(items)
        self._trim()

    def _trim(self) -> None:
        excess = len(self) - self.maxlen
        if excess > 0:
            del self[:excess]
            self.dropped += excess


class BoundedDict(dict[K, V]):
    """A dict that forgets its oldest keys beyond ``maxlen`` (insertion order)."""

    def __init__(self, maxlen: int = KEEP_KEYS) -> None:
        super().__init__()
        self.maxlen = maxlen

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        while len(self) > self.maxlen:
            del self[next(iter(self))]


class LoopbackServer:
    host: str
    port: int
    ssl_context: ssl.SSLContext | None = None
    header_timeout_s: float = 10.0
    """A connection that has not sent a whole HTTP request by then is closed."""
    _runner: web.AppRunner | None = None

    def routes(self) -> dict[str, Handler]:
        """Path -> websocket handler."""
        raise NotImplementedError

    async def close_connections(self) -> None:
        """Close every open connection the way the provider's server does on shutdown."""
        raise NotImplementedError

    @property
    def _authority(self) -> str:
        if self._runner is None:
            raise RuntimeError("the server is not started")
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        for path, handler in self.routes().items():
            app.router.add_get(path, handler)
        # aiohttp's keepalive_timeout is armed when a connection is made and disarmed by a
        # complete request: before the upgrade it is the header timeout (a websocket, once
        # upgraded, is never idle-closed by it).
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, keepalive_timeout=self.header_timeout_s
        )
        await self._runner.setup()
        # Bound here, not by TCPSite, so port 0 resolves to a port we can read back.
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, ssl_context=self.ssl_context).start()

    async def close(self) -> None:
        await self.close_connections()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class ReplyStopped(Exception):
    """The reply was stopped (cancelled, interrupted) while it waited to stream more."""


class ReplyDropped(Exception):
    """The scenario's fault closed the socket mid-reply: nothing more is sent."""


class _PacedConnection(Protocol):
    pace: float
    """Model output per wall-clock second; ``inf`` streams without waiting."""

    def drop(self) -> None: ...


class PacedReply:
    """A scripted reply streamed in model time, which the connection's ``pace`` turns
    into wall time (the real services run ahead of real time), with the scenario's
    ``slow_ms_per_chunk``, ``stall`` and ``drop_socket_after_ms`` faults."""

    def __init__(self, conn: _PacedConnection, reply: ModelReply) -> None:
        self.conn = conn
        self.reply = reply
        self.audio_ms = 0.0  # audio streamed so far: drop_socket_after_ms counts it
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._t0 = 0.0
        self._model_ms = 0.0  # model time produced so far
        self._slow_s = 0.0

    def abort(self) -> None:
        """The connection is gone: stop without sending anything."""
        if self._task is not None:
            self._task.cancel()

    async def _until(self, due: float) -> None:
        """Wait for loop time ``due``; raise ReplyStopped if stopped before or meanwhile."""
        if self._stop.is_set():
            raise ReplyStopped
        delay = due - asyncio.get_running_loop().time()
        if delay <= 0:
            await asyncio.sleep(0)  # let the connection read client messages between chunks
        else:
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
            except TimeoutError:
                pass
        if self._stop.is_set():
            raise ReplyStopped

    async def _advance(self, model_ms: float) -> None:
        """Wait until ``model_ms`` more output is due at ``pace`` (plus the slow fault's delay)."""
        self._model_ms += model_ms
        self._slow_s += self.reply.faults.slow_ms_per_chunk / 1000
        pace = self.conn.pace
        await self._until(self._t0 + self._slow_s + (0.0 if math.isinf(pace) else self._model_ms / 1000 / pace))

    async def _stall(self) -> None:
        await self._stop.wait()
        raise ReplyStopped

    def _check_drop(self, *, ending: bool = False) -> None:
        after = self.reply.faults.drop_socket_after_ms
        if after is not None and (ending or self.audio_ms >= after):
            self.conn.drop()
            raise ReplyDropped
