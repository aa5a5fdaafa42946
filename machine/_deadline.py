"""A resettable deadline on the running loop: the watchdog behind ``response_timeout``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Deadline"]


class Deadline:
    """Calls ``on_expired`` once, ``seconds`` after the last :meth:`arm`, unless disarmed.

    ``seconds=None`` never arms. Arming outside a running loop (a chart walked
    synchronously, without I/O) does nothing: there is nothing to wait for there.
    """

    def __init__(self, seconds: float | None, on_expired: Callable[[], None]) -> None:
        self.seconds = seconds
        self._on_expired = on_expired
        self._handle: asyncio.TimerHandle | None = None

    @property
    def armed(self) -> bool:
        return self._handle is not None

    def arm(self) -> None:
        self.disarm()
        if self.seconds is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._handle = loop.call_later(self.seconds, self._expire)

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _expire(self) -> None:
        self._handle = None
        self._on_expired()
