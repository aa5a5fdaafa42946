"""The agent-side publisher: a bounded queue and a websocket that never makes the agent wait.

Messages are queued by the agent's event handlers (a deque append) and sent in batches by
one task. When the inspector is slow or gone the queue keeps the newest ``max_queue``
messages and counts the ones it let go; every (re)connection begins with a fresh ``hello``
carrying the state and configuration of the moment, so a page catches up whatever was
dropped. Connection failures are logged once (without the URL's token), then retried
quietly with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from typing import Any

import aiohttp

from ._protocol import publish_url, redact
from ._tap import Message, Tap

__all__ = ["InspectorPublisher", "attach_inspector"]

logger = logging.getLogger("turnstile.inspector")

_CHARTS: dict[type, tuple[str, str]] = {}  # chart class -> (name, DOT): drawn once per process


def _chart_dot(chart: type) -> tuple[str, str]:
    if chart not in _CHARTS:
        try:
            from turnstile.diagrams import chart_dot

            dot = chart_dot(chart).source
        except Exception as exc:  # noqa: BLE001 - a chart the drawing code cannot read: no chart, still a timeline
            logger.warning("inspector: cannot draw %s: %s", chart.__name__, exc)
            dot = ""
        _CHARTS[chart] = (chart.__name__, dot)
    return _CHARTS[chart]


class InspectorPublisher:
    """Publishes one agent's session to an inspector (see :func:`attach_inspector`)."""

    def __init__(
        self,
        agent: Any,
        url: str,
        *,
        transcripts: bool = True,
        room: str | None = None,
        max_queue: int = 2000,
        poll_s: float = 5.0,
        backoff_s: tuple[float, float] = (0.2, 5.0),
        flush_s: float = 1.0,
    ) -> None:
        self.url = publish_url(url)  # refuses a malformed URL at once, token redacted
        self.session_id = uuid.uuid4().hex[:12]
        self.dropped = 0
        """Messages let go because the queue was full (the inspector slow or gone)."""
        self.sent = 0
        self.connections = 0
        self._queue: deque[Message] = deque()
        self._max_queue = max_queue
        self._poll_s = poll_s
        self._backoff = backoff_s
        self._flush_s = flush_s
        self._wake = asyncio.Event()
        self._closing = False
        self._connected = False
        self._warned = False
        self._task: asyncio.Task[None] | None = None
        self._tap = Tap(agent, self._put, transcripts=transcripts, room=room)
        self._chart = _chart_dot(type(agent.chart))
        self._tap.attach()
        # Every transition wakes the sender (other regions' announce no agent event), so it
        # sleeps while nothing happens: no idle polling per session.
        agent.chart.add_listener(_Wake(self._wake))
        self._tap.drain()  # what happened before attaching (a late attach still shows it)
        self._start()

    @property
    def connected(self) -> bool:
        return self._connected

    # The agent's side: never waits -------------------------------------------------------
    def _put(self, message: Message) -> None:
        if self._closing and message.get("type") != "bye":
            return
        if len(self._queue) >= self._max_queue:
            self._queue.popleft()  # the newest facts matter most to a live view
            self.dropped += 1
        self._queue.append(message)
        if message.get("type") == "bye":
            self._closing = True
        self._start()
        self._wake.set()

    def _start(self) -> None:
        if self._task is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # attached before the loop runs: the first event starts it
            return
        self._task = loop.create_task(self._run(), name=f"inspector-publisher-{self.session_id}")

    async def aclose(self) -> None:
        """Send what is queued (for up to ``flush_s``), then stop."""
        self._tap.drain()
        self._closing = True
        self._tap.detach()
        self._wake.set()
        task = self._task
        if task is None:
            return
        try:
            async with asyncio.timeout(self._flush_s):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # The sender -------------------------------------------------------------------------
    async def _run(self) -> None:
        delay = self._backoff[0]
        # No overall deadline (a session lasts as long as the call); a connect that hangs does not.
        timeout = aiohttp.ClientTimeout(total=None, connect=3.0)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                try:
                    async with http.ws_connect(self.url, heartbeat=10.0) as ws:
                        self._connected, self._warned = True, False
                        self.connections += 1
                        delay = self._backoff[0]
                        if await self._pump(ws):
                            return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - refused, reset, a proxy's HTML: all mean "not now"
                    self._lost(exc)
                finally:
                    self._connected = False
                if self._closing:  # the agent is gone and so is the inspector: nothing to wait for
                    self.dropped += len(self._queue)
                    self._queue.clear()
                    return
                await self._pause(delay)
                delay = min(delay * 2, self._backoff[1])

    def _lost(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            reason = " ".join(str(exc).split()) or type(exc).__name__
            # The reason may quote the URL: the token is redacted from it too.
            reason = reason.replace(self.url, redact(self.url))
            logger.info("inspector at %s unreachable (%s); retrying quietly", redact(self.url), reason)

    async def _pause(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while not self._closing:  # an agent that closes stops the wait
                    await self._wake.wait()
                    self._wake.clear()

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        """Send until the session ends (True) or the connection does (False)."""
        # Something must read: the heartbeat's pongs and the server's close arrive that way.
        reader = asyncio.ensure_future(self._read(ws))
        try:
            return await self._send_all(ws)
        finally:
            reader.cancel()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for _ in ws:
            pass
        self._wake.set()  # closed: the sender notices at once

    async def _send_all(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        name, dot = self._chart
        await self._send(ws, [self._tap.hello(name, dot)])
        while True:
            if ws.closed:
                return False
            if self._queue:
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), 500))]
                await self._send(ws, batch)
                if batch[-1].get("type") == "bye" and not self._queue:
                    return True
                continue
            if self._closing:
                return True
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()
            self._tap.drain()  # transitions no event announced (other regions)

    async def _send(self, ws: aiohttp.ClientWebSocketResponse, batch: list[Message]) -> None:
        frame = {"session": self.session_id, "dropped": self.dropped, "messages": batch}
        try:
            await ws.send_str(json.dumps(frame, separators=(",", ":")))
        except BaseException:
            self.dropped += len(batch)  # lost with the connection: counted, not retried
            raise
        self.sent += len(batch)


class _Wake:
    """A chart listener: any transition wakes the publisher's sender."""

    def __init__(self, wake: asyncio.Event) -> None:
        self._wake = wake

    def after_transition(self) -> None:
        self._wake.set()


def attach_inspector(
    agent: Any, url: str, *, transcripts: bool = True, room: str | None = None
) -> InspectorPublisher:
    """Publish ``agent``'s session to the inspector at ``url`` (``ws://127.0.0.1:PORT``).

    The agent never waits for the inspector: events are queued (bounded), dropped and
    counted when it is slow or gone, and the connection comes back by itself. Call it
    before or after ``agent.start``; ``transcripts=False`` leaves out what was said
    (transcripts and tool arguments). ``room`` names the session where the agent's room
    link has no name. ``await publisher.aclose()`` flushes and stops (the agent closing
    also does, by itself).
    """
    return InspectorPublisher(agent, url, transcripts=transcripts, room=room)
