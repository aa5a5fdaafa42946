"""The live part of the server: publishers in, pages out.

Each page (a "watcher") has a bounded outbox drained by its own task, so a slow browser
never slows the publishers' reads; one that falls too far behind is closed and, as the
page reconnects by itself, starts again from a snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from ._sessions import Message, Session, Sessions

__all__ = ["Hub"]

logger = logging.getLogger("turnstile.inspector")

_MAX_FRAME = 4 * 1024 * 1024
_OUTBOX = 1000


class _Watcher:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.selected: str | None = None
        self.outbox: deque[str] = deque()
        self.wake = asyncio.Event()
        self.overflowed = False

    def push(self, payload: dict[str, Any]) -> None:
        if len(self.outbox) >= _OUTBOX:
            self.overflowed = True
        else:
            self.outbox.append(json.dumps(payload, separators=(",", ":")))
        self.wake.set()

    async def pump(self) -> None:
        while not self.ws.closed:
            await self.wake.wait()
            self.wake.clear()
            if self.overflowed:
                await self.ws.close(message=b"too far behind")
                return
            while self.outbox:
                await self.ws.send_str(self.outbox.popleft())


class Hub:
    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        self._watchers: set[_Watcher] = set()
        self._sockets: set[web.WebSocketResponse] = set()  # every open one, closed on shutdown
        self.watcher_joined = asyncio.Event()
        """Set when a page first connects (``turnstile demo --inspect`` waits for it)."""
        self.publishers = 0
        """Publisher connections open now (one per publishing process and URL)."""
        self.frames = 0
        """Frames read from publishers since the server started."""

    # Publishers ---------------------------------------------------------------------------
    async def publish(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=_MAX_FRAME, heartbeat=20.0)
        await ws.prepare(request)
        self._sockets.add(ws)
        self.publishers += 1
        try:
            await self._read_publisher(ws)
        finally:
            self.publishers -= 1
            self._sockets.discard(ws)
        return ws

    async def _read_publisher(self, ws: web.WebSocketResponse) -> None:
        seen: set[str] = set()
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            self.frames += 1
            try:
                frame = json.loads(msg.data)
                # A process's sessions share one connection: a frame carries each one's batch.
                entries = frame["frames"] if isinstance(frame, dict) and "frames" in frame else [frame]
                if not isinstance(entries, list):
                    raise TypeError("frames is not a list")
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("inspector: a publisher sent a frame it cannot read (%s); skipped", exc)
                continue
            for entry in entries:
                self._take(entry, seen)
        # The publisher went away: its sessions are over unless it comes back with a hello.
        for session_id in seen:
            gone = self.sessions.get(session_id)
            if gone is not None and gone.live:
                self.sessions.end(gone)
                self._broadcast(gone, [])

    def _take(self, entry: Any, seen: set[str]) -> None:
        """One session's batch: stored, and shown to the pages watching."""
        try:
            session_id = str(entry["session"])
            messages = [m for m in entry["messages"] if isinstance(m, dict)]
            session, stored = self.sessions.add(session_id, messages, int(entry.get("dropped", 0)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("inspector: a publisher sent a batch it cannot read (%s); skipped", exc)
            return
        seen.add(session_id)
        self._broadcast(session, stored)

    def _broadcast(self, session: Session, stored: list[Message]) -> None:
        summary = {"kind": "session", "summary": session.summary()}
        for watcher in self._watchers:
            watcher.push(summary)
            if stored and watcher.selected == session.id:
                watcher.push({"kind": "messages", "session": session.id, "messages": stored})

    # Pages --------------------------------------------------------------------------------
    async def watch(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        self._sockets.add(ws)
        watcher = _Watcher(ws)
        self._watchers.add(watcher)
        self.watcher_joined.set()
        watcher.push({"kind": "sessions", "sessions": [s.summary() for s in self.sessions]})
        pump = asyncio.ensure_future(watcher.pump())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._command(watcher, msg.data)
        finally:
            self._sockets.discard(ws)
            self._watchers.discard(watcher)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await pump
        return ws

    async def close(self) -> None:
        """Close every websocket (the server waits for open handlers when it stops)."""
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"inspector stopping")

    def _command(self, watcher: _Watcher, data: str) -> None:
        try:
            command = json.loads(data)
            selected = command.get("select")
        except (ValueError, AttributeError):
            return  # the page only ever sends {"select": id}
        session = self.sessions.get(str(selected)) if selected is not None else None
        watcher.selected = session.id if session is not None else None
        if session is not None:
            watcher.push({"kind": "snapshot", "session": session.id, **session.snapshot()})
