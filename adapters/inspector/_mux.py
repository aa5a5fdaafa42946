"""One connection per process and inspector URL, shared by every session published there.

Sessions (publishers) join the :class:`Mux` of their URL and mark themselves when they
have something new. One writer task sends what every marked session has, at most once per
``interval_s``, as one websocket frame ``{"frames": [{"session", "dropped", "messages"},
...]}`` (split only past ``_FRAME_CHARS``): a hundred sessions cost one socket, one
heartbeat and a few frames a second, not a hundred of each. On every (re)connection each
session begins again with a ``hello``. Failures are logged once per outage (without the
URL's token), then retried quietly with backoff; sessions that close while the inspector
is gone are let go at once, their messages counted as dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Protocol

import aiohttp

from ._protocol import redact

__all__ = ["Member", "Mux", "mux_for"]

logger = logging.getLogger("turnstile.inspector")

_FRAME_CHARS = 1024 * 1024  # the server reads frames of up to 4 MiB
_COMPACT = (",", ":")


class Member(Protocol):
    """What the mux asks of a session (``InspectorPublisher``)."""

    session_id: str
    dropped: int
    dirty: bool
    """In the mux's list of sessions with something to send (set by :meth:`Mux.mark`)."""

    @property
    def closing(self) -> bool: ...
    def greet(self) -> None: ...
    def take(self) -> list[dict[str, Any]]: ...
    def delivered(self, count: int) -> None: ...
    def undelivered(self, count: int) -> None: ...
    def abandon(self) -> None: ...


_MUXES: dict[tuple[int, str], Mux] = {}


def mux_for(url: str, *, interval_s: float, backoff_s: tuple[float, float]) -> Mux:
    """The running loop's mux for ``url`` (the first session's settings make it)."""
    loop = asyncio.get_running_loop()
    key = (id(loop), url)
    mux = _MUXES.get(key)
    if mux is None or mux.loop is not loop or mux.retired:
        mux = _MUXES[key] = Mux(url, loop, interval_s=interval_s, backoff_s=backoff_s)
    return mux


class Mux:
    def __init__(
        self, url: str, loop: asyncio.AbstractEventLoop, *, interval_s: float, backoff_s: tuple[float, float]
    ) -> None:
        self.url = url
        self.loop = loop
        self.connected = False
        self.retired = False
        self.members: dict[str, Member] = {}
        self._interval = interval_s
        self._backoff = backoff_s
        self._dirty: list[Member] = []
        self._wake = asyncio.Event()  # something to send, or the connection closed
        self._attention = asyncio.Event()  # a session closes: not worth waiting for, while offline
        self._warned = False
        self._task: asyncio.Task[None] | None = None

    # The sessions' side: never waits ------------------------------------------------------
    def join(self, member: Member) -> None:
        self.members[member.session_id] = member
        member.greet()
        self.mark(member)
        if self._task is None:
            self._task = self.loop.create_task(self._run(), name=f"inspector-publisher {redact(self.url)}")

    def leave(self, member: Member) -> None:
        if self.members.get(member.session_id) is member:
            del self.members[member.session_id]
        self._wake.set()  # the last one gone: the writer ends
        self._attention.set()

    def mark(self, member: Member) -> None:
        member.dirty = True
        self._dirty.append(member)
        self._wake.set()

    def attend(self) -> None:
        self._attention.set()

    async def closed(self) -> None:
        """Once no session is left: until the connection is closed (at once otherwise)."""
        task = self._task
        if self.members or task is None:
            return
        await asyncio.wait({task})  # neither cancels it nor raises what ended it

    # The writer ----------------------------------------------------------------------------
    def _retire_if_empty(self) -> bool:
        # Decided without awaiting: a session joining now finds a new mux, not this one.
        if self.members:
            return False
        self.retired = True
        key = (id(self.loop), self.url)
        if _MUXES.get(key) is self:
            del _MUXES[key]
        return True

    async def _run(self) -> None:
        delay = self._backoff[0]
        # No overall deadline (sessions last as long as their calls); a connect that hangs does not.
        timeout = aiohttp.ClientTimeout(total=None, connect=3.0)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                while not self._retire_if_empty():
                    try:
                        async with http.ws_connect(self.url, heartbeat=10.0) as ws:
                            self.connected, self._warned = True, False
                            delay = self._backoff[0]
                            for member in list(self.members.values()):
                                member.greet()
                                if not member.dirty:
                                    self.mark(member)
                            if await self._pump(ws):
                                return
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - refused, reset, a proxy's HTML: all mean "not now"
                        self._lost(exc)
                    finally:
                        self.connected = False
                    await self._pause(delay)
                    delay = min(delay * 2, self._backoff[1])
        finally:
            self.retired = True
            for member in list(self.members.values()):  # the loop is going away with them
                self.leave(member)
                member.abandon()
            self._retire_if_empty()

    def _lost(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            reason = " ".join(str(exc).split()) or type(exc).__name__
            # The reason may quote the URL: the token is redacted from it too.
            reason = reason.replace(self.url, redact(self.url))
            logger.info("inspector at %s unreachable (%s); retrying quietly", redact(self.url), reason)

    async def _pause(self, seconds: float) -> None:
        """Wait before reconnecting; sessions that close meanwhile are let go at once."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    self._attention.clear()
                    for member in [m for m in self.members.values() if m.closing]:
                        self.leave(member)
                        member.abandon()
                    if not self.members:
                        return
                    await self._attention.wait()

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        """Send until no session is left (True) or the connection ends (False)."""
        # Something must read: the heartbeat's pongs and the server's close arrive that way.
        reader = asyncio.ensure_future(self._read(ws))
        last = -self._interval
        try:
            while not ws.closed:
                if not self._dirty:
                    if self._retire_if_empty():
                        return True
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                wait = last + self._interval - self.loop.time()
                if wait > 0:  # what comes meanwhile joins this frame
                    await asyncio.sleep(wait)
                last = self.loop.time()
                await self._flush(ws)
            return False
        finally:
            reader.cancel()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for _ in ws:
            pass
        self._wake.set()  # closed: the writer notices at once

    async def _flush(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        dirty, self._dirty = self._dirty, []
        parts: list[tuple[Member, int, str]] = []
        for member in dirty:
            member.dirty = False
            if self.members.get(member.session_id) is not member:
                continue  # left since it was marked
            try:
                messages = member.take()
            except Exception:  # noqa: BLE001 - one session's bug must not stop the others' view
                logger.debug("inspector: could not collect session %s", member.session_id, exc_info=True)
                continue
            if messages:
                entry = {"session": member.session_id, "dropped": member.dropped, "messages": messages}
                parts.append((member, len(messages), json.dumps(entry, separators=_COMPACT)))
        while parts:
            size, cut = 0, 0
            while cut < len(parts) and (cut == 0 or size + len(parts[cut][2]) < _FRAME_CHARS):
                size += len(parts[cut][2]) + 1
                cut += 1
            chunk, parts = parts[:cut], parts[cut:]
            try:
                await ws.send_str('{"frames":[' + ",".join(text for _, _, text in chunk) + "]}")
            except BaseException:
                for member, count, _ in (*chunk, *parts):  # lost with the connection: counted, not retried
                    member.undelivered(count)
                raise
            for member, count, _ in chunk:
                member.delivered(count)
