"""A resettable deadline on the running loop: the watchdogs behind the chart's ways out
(``response_timeout``, ``response_stalled``, ``playout_stalled``, ``session_timeout``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Deadline"]


class Deadline:
    """Calls ``on_expired`` once, ``seconds`` after the last :meth:`arm` or :meth:`touch`,
    unless disarmed.

    ``touch`` is for progress that happens tens of times a second (an audio delta, a frame
    written): it moves the due time without replacing the timer, which is only looked at
    when it fires. ``seconds=None`` never arms. Arming outside a running loop (a chart
    walked synchronously, without I/O) does nothing: there is nothing to wait for there.
    """

    __slots__ = ("_due", "_handle", "_loop", "_on_expired", "seconds")

    def __init__(self, seconds: float | None, on_expired: Callable[[], None]) -> None:
        self.seconds = seconds
        self._on_expired = on_expired
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def armed(self) -> bool:
        return self._handle is not None

    def arm(self) -> None:
        self.disarm()
        if self.seconds is None:
            return
        try:
            loop = self._loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._due = loop.time() + self.seconds
        self._handle = loop.call_at(self._due, self._expire)

    def touch(self) -> None:
        """Progress: push the due time ``seconds`` from now (arming it if it was not)."""
        if self._handle is None or self._loop is None:
            self.arm()
        elif self.seconds is not None:
            self._due = self._loop.time() + self.seconds

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _expire(self) -> None:
        assert self._loop is not None
        if self._loop.time() < self._due:  # touched since: wait for the rest
            self._handle = self._loop.call_at(self._due, self._expire)
            return
        self._handle = None
        self._on_expired()
