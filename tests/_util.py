"""Helpers for waiting on things the code under test exposes no event for."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``predicate()`` holds (room-side counters, native audio pipelines)."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 (nothing to wait on: see the docstring)
            await asyncio.sleep(0.005)


class Errors:
    """An agent's ``error`` events as they come, and ways to wait on them."""

    def __init__(self, agent: Any) -> None:
        self.seen: list[Any] = []
        self._changed = asyncio.Event()
        agent.on("error", self._on_error)

    def _on_error(self, error: Any) -> None:
        self.seen.append(error)
        self._changed.set()

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.seen]

    async def wait_for(self, code: str, count: int = 1, timeout: float = 5.0) -> None:
        """Until ``count`` errors with ``code`` have come."""
        async with asyncio.timeout(timeout):
            while self.codes.count(code) < count:
                self._changed.clear()
                await self._changed.wait()

    async def none_within(self, seconds: float) -> bool:
        """True if no error came within ``seconds`` (several deadlines' worth)."""
        if self.seen:
            return False
        try:
            await asyncio.wait_for(self._changed.wait(), seconds)
        except TimeoutError:
            return True
        return False
