"""Coalesced publication of the agent state attribute (``lk.agent.state``).

One send at a time, newest value wins: a state that was superseded before it could be
sent is skipped, and because sends are sequential a stale state can never land after a
newer one. Nothing is sent after close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

__all__ = ["AGENT_STATE_ATTRIBUTE", "StatePublisher"]

logger = logging.getLogger("turnstile.publish")

AGENT_STATE_ATTRIBUTE = "lk.agent.state"


class StatePublisher:
    def __init__(self, send: Callable[[dict[str, str]], Awaitable[None]]) -> None:
        self._send = send
        self._wanted: str | None = None
        self._sent: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.sends = 0
        """How many attribute updates went out (coalescing makes it <= state changes)."""

    @property
    def published(self) -> str | None:
        return self._sent

    def publish(self, state: str) -> None:
        if self._closed:
            return
        self._wanted = state
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="publish-state")

    async def settled(self) -> None:
        """Wait until the newest wanted state has been sent (or sending gave up)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        while not self._closed and self._wanted != self._sent:
            state = self._wanted
            assert state is not None
            try:
                await self._send({AGENT_STATE_ATTRIBUTE: state})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a room that went away must not kill the agent
                logger.warning("could not publish agent state %r: %s", state, exc)
                return
            self._sent = state
            self.sends += 1

    async def aclose(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
