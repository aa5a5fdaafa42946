"""The replay server: a real websocket on 127.0.0.1 that speaks a recording's server side.

It accepts the agent's connections on any path (OpenAI's, Azure's, Gemini's), keeps every
frame the agent sends with its arrival time, counted by kind, and sends what it is told
to when it is told to: the conductor (``_conductor``) decides when, from the script. The
server knows nothing of the agent; the agent knows nothing of the replay.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from .._loopback import LoopbackServer
from ._format import restore_audio
from ._script import frame_key

__all__ = ["ReceivedFrame", "ReplayConnection", "ReplayServer", "silence_b64"]

logger = logging.getLogger("turnstile.replay")

_TONE = bytes([1, 0, 255, 255]) * 1024  # +1, -1: audible as nothing, never mistaken for a gap's zeros


def silence_b64(n: int) -> str:
    """Base64 of ``n`` bytes of near-silence: what stripped audio is replayed as. Not zeros:
    a room fills gaps with zeros, and the heard position must count only the agent's."""
    whole, rest = divmod(n, len(_TONE))
    return base64.b64encode(_TONE * whole + _TONE[:rest]).decode("ascii")


@dataclass(frozen=True)
class ReceivedFrame:
    at: float  # loop time
    key: str | None  # None: audio
    text: str


class ReplayConnection:
    """One accepted connection: what the agent sent on it, and a way to answer."""

    def __init__(self, number: int, ws: web.WebSocketResponse) -> None:
        self.number = number
        self.ws = ws
        self.received: list[ReceivedFrame] = []
        self.counts: Counter[str] = Counter()
        self.arrivals: dict[str, list[float]] = {}
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()

    def take(self, text: str) -> None:
        at = asyncio.get_running_loop().time()
        key = frame_key(text)
        self.received.append(ReceivedFrame(at, key, text))
        if key is not None:
            self.counts[key] += 1
            self.arrivals.setdefault(key, []).append(at)
            self._changed.set()

    def missing(self, needed: Counter[str]) -> Counter[str]:
        return Counter({k: n - self.counts[k] for k, n in needed.items() if self.counts[k] < n})

    async def wait_for(self, needed: Counter[str], timeout: float) -> Counter[str]:
        """Wait until the frames ``needed`` have arrived; what is still missing at the timeout."""
        try:
            async with asyncio.timeout(timeout):
                while missing := self.missing(needed):
                    if self.closed.is_set():
                        return missing
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            pass
        return self.missing(needed)

    def arrival(self, key: str, count: int) -> float | None:
        times = self.arrivals.get(key, [])
        return times[count - 1] if len(times) >= count else None

    async def send(self, text: str, *, binary: bool = False) -> bool:
        """Send one recorded frame (stripped audio put back as near-silence); False when
        the connection is gone."""
        if self.ws.closed:
            return False
        text = restore_audio(text, silence_b64)
        try:
            if binary:
                await self.ws.send_bytes(text.encode("utf-8"))
            else:
                await self.ws.send_str(text)
        except ConnectionError:
            return False
        return True

    async def close(self, code: int | None, reason: str) -> None:
        await self.ws.close(code=code or 1000, message=reason.encode("utf-8")[:123])


class ReplayServer(LoopbackServer):
    """Accepts connections; the conductor plays the script on them."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.connections: list[ReplayConnection] = []
        self._accepted = asyncio.Event()

    @property
    def url(self) -> str:
        return f"ws://{self._authority}/v1/realtime"

    def routes(self) -> dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]:
        return {"/{tail:.*}": self._handle}

    async def connection(self, number: int, timeout: float) -> ReplayConnection | None:
        """The agent's ``number``-th connection (from 1), once it is made; None at the timeout."""
        try:
            async with asyncio.timeout(timeout):
                while len(self.connections) < number:
                    self._accepted.clear()
                    await self._accepted.wait()
        except TimeoutError:
            return None
        return self.connections[number - 1]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = ReplayConnection(len(self.connections) + 1, ws)
        self.connections.append(conn)
        self._accepted.set()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    conn.take(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    conn.take(msg.data.decode("utf-8", "replace"))
        finally:
            conn.closed.set()
            conn._changed.set()
        return ws

    async def close_connections(self) -> None:
        for conn in self.connections:
            if not conn.ws.closed:
                await conn.ws.close()
