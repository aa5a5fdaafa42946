"""The agent-side publisher: a bounded queue that never makes the agent wait.

An event costs the agent one small dict appended to its session's queue (the trace is read
when the session is sent, not on every event). Every session of a process publishing to
one inspector URL shares one connection (:mod:`._mux`), which sends at most a few frames
a second, each carrying every session that had something new. When the inspector is slow
or gone the queue keeps the newest ``max_queue`` messages and counts the ones it let go;
every (re)connection begins with a fresh ``hello`` per session, carrying the state and
configuration of the moment, so a page catches up whatever was dropped.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from typing import Any

from ._mux import Mux, mux_for
from ._protocol import publish_url
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
    """Publishes one agent's session to an inspector (see :func:`attach_inspector`).

    ``interval_s`` and ``backoff_s`` are the shared connection's: the first session of a
    process to publish to a URL sets them. ``flush_s`` bounds how long :meth:`aclose`
    waits for what is queued to be sent.
    """

    def __init__(
        self,
        agent: Any,
        url: str,
        *,
        transcripts: bool = True,
        room: str | None = None,
        max_queue: int = 2000,
        interval_s: float = 0.25,
        backoff_s: tuple[float, float] = (0.2, 5.0),
        flush_s: float = 1.0,
    ) -> None:
        self.url = publish_url(url)  # refuses a malformed URL at once, token redacted
        self.session_id = uuid.uuid4().hex[:12]
        self.dropped = 0
        """Messages let go because the queue was full (the inspector slow or gone)."""
        self.sent = 0
        self.connections = 0
        self.dirty = False
        self._queue: deque[Message] = deque()
        self._bye: Message | None = None
        self._bye_taken = False
        self._closing = False
        self._finished = False
        self._greet = False
        self._max_queue = max_queue
        self._interval = interval_s
        self._backoff = backoff_s
        self._flush_s = flush_s
        self._done = asyncio.Event()
        self._mux: Mux | None = None
        self._tap = Tap(agent, self._put, transcripts=transcripts, room=room, eager=False)
        self._chart = _chart_dot(type(agent.chart))
        self._tap.attach()
        # Transitions in other regions announce no agent event: each marks the session, so
        # the writer reads the trace then, and sleeps while nothing happens. (A follower of
        # the trace, not a chart listener: those cost the engine ~900 tracked objects each.)
        self._followed = agent.trace.followers
        self._followed.append(self._mark)
        self._touch()  # what happened before attaching is in the trace: the first send reads it

    @property
    def connected(self) -> bool:
        mux = self._mux
        return mux is not None and mux.connected and self.connections > 0 and not self._greet

    @property
    def closing(self) -> bool:
        return self._closing

    # The agent's side: never waits -------------------------------------------------------
    def _put(self, message: Message) -> None:
        if self._closing:
            return
        if message["type"] == "bye":
            self._bye, self._closing = message, True
            if self._mux is not None:
                self._mux.attend()
        else:
            queue = self._queue
            if len(queue) >= self._max_queue:
                queue.popleft()  # the newest facts matter most to a live view
                self.dropped += 1
            queue.append(message)
        if not self.dirty:
            self._touch()

    def _touch(self) -> None:
        if self._finished:
            return
        mux = self._mux
        if mux is None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # attached before the loop runs: the first event joins
                return
            mux = self._mux = mux_for(self.url, interval_s=self._interval, backoff_s=self._backoff)
            mux.join(self)  # marks it
        elif not self.dirty:
            mux.mark(self)

    async def aclose(self) -> None:
        """Send what is queued, and a goodbye (for up to ``flush_s``), then stop."""
        self._tap.detach()
        if not self._closing:  # closed before its agent: the session is over for the page too
            self._put({"type": "bye", "t": self._tap.now()})
        mux = self._mux
        if mux is None or self._finished:  # never joined one (no loop ran an event), or done
            self.abandon()
            return
        mux.attend()
        try:
            async with asyncio.timeout(self._flush_s):
                await self._done.wait()
                # The last session: its connection closes, and the closing handshake comes
                # back once the inspector has read everything before it.
                await mux.closed()
        except TimeoutError:
            mux.leave(self)
            self.abandon()

    # The mux's side ----------------------------------------------------------------------
    def greet(self) -> None:
        self._greet = True

    def take(self) -> list[Message]:
        """Everything new, in time order: the trace's records and the events' messages."""
        messages = self._tap.collect()
        if self._queue:
            queued = list(self._queue)
            self._queue.clear()
            if messages:  # records first where times tie: what led to an event comes before it
                messages += queued
                messages.sort(key=_time)
            else:
                messages = queued
        if len(messages) > self._max_queue:
            cut = len(messages) - self._max_queue
            del messages[:cut]
            self.dropped += cut
        if self._bye is not None:
            messages.append(self._bye)
            self._bye, self._bye_taken = None, True
        if self._greet:
            self._greet = False
            self.connections += 1
            messages.insert(0, self._tap.hello(*self._chart))
        return messages

    def delivered(self, count: int) -> None:
        self.sent += count
        if self._bye_taken:
            self._finish()

    def undelivered(self, count: int) -> None:
        self.dropped += count

    def abandon(self) -> None:
        """The mux let this session go (the inspector gone as it closed): its queue is dropped."""
        self.dropped += len(self._queue) + (self._bye is not None)
        self._queue.clear()
        self._bye = None
        self._finish()

    def _mark(self, record: object) -> None:
        """Any transition: the session has something to send."""
        if not self.dirty:
            self._touch()

    def _finish(self) -> None:
        self._finished = True
        if self._mark in self._followed:
            self._followed.remove(self._mark)
        if self._mux is not None:
            self._mux.leave(self)
        self._done.set()


def _time(message: Message) -> float:
    return float(message["t"])


def attach_inspector(agent: Any, url: str, *, transcripts: bool = True, room: str | None = None) -> InspectorPublisher:
    """Publish ``agent``'s session to the inspector at ``url`` (``ws://127.0.0.1:PORT``).

    The agent never waits for the inspector: events are queued (bounded), dropped and
    counted when it is slow or gone, and the connection comes back by itself. Call it
    before or after ``agent.start``; ``transcripts=False`` leaves out what was said
    (transcripts and tool arguments). ``room`` names the session where the agent's room
    link has no name. ``await publisher.aclose()`` flushes and stops (the agent closing
    also does, by itself).
    """
    return InspectorPublisher(agent, url, transcripts=transcripts, room=room)
