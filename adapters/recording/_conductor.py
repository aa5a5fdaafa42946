"""The conductor: walks the script, making each step happen on the replay server (a
server frame, a close) or on the agent (the application's calls) when its time comes.

What "its time" means is in ``_script``. Where the agent does not send what the recording
says it sent before a step, the conductor stops there and says so: everything after
would be a different conversation.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from ._replay_server import ReplayConnection, ReplayServer
from ._script import Step

__all__ = ["Conductor"]

_MAX_GAP_S = 30.0  # a recorded pause longer than this (a caller thinking) is played as this


class Conductor:
    def __init__(
        self,
        steps: list[Step],
        server: ReplayServer,
        *,
        speed: float,
        wait_s: float,
        app: Callable[[dict[str, Any]], None],
        heard_ms: Callable[[], int | None],
        state: Callable[[str, float], Awaitable[bool]],
        quiet: Callable[[float], Awaitable[None]],
    ) -> None:
        self.steps = steps
        self.server = server
        self.speed = speed
        self.wait_s = wait_s
        self._app = app
        self._heard_ms = heard_ms
        self._state = state
        self._quiet = quiet
        self.stopped: str | None = None
        """Why the script stopped before its end, if it did."""
        self.played = 0
        self.notes: list[str] = []
        self._conns: dict[int, ReplayConnection] = {}

    def _scaled(self, gap: float, playing: float = 0.0) -> float:
        """A recorded pause at the replay's speed (a long one capped: a caller thinking);
        the part of it the recorded agent spent playing audio stays in real time."""
        quiet = min(gap - playing, _MAX_GAP_S)
        return playing + (0.0 if math.isinf(self.speed) else quiet / self.speed)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        # When the previous step was due: each step is due its recorded gap after it, so
        # the loop's small lateness at each of hundreds of frames does not add up.
        last = loop.time()
        for step in self.steps:
            if step.kind == "open":
                conn = await self.server.connection(step.conn, self.wait_s + self._scaled(step.gap))
                if conn is None:
                    self.stopped = f"the agent did not open connection {step.conn} (recorded at {step.t:.3f} s)"
                    return
                self._conns[step.conn] = conn
                last = loop.time()
                continue
            conn = self._conns.get(step.conn)
            if conn is None:
                self.stopped = f"no connection {step.conn} for {_describe(step)}"
                return
            missing = await conn.wait_for(step.needed, self.wait_s + self._scaled(step.gap))
            if missing:
                self.stopped = (
                    f"before {_describe(step)} (recorded at {step.t:.3f} s) the agent had not sent "
                    f"{_counts(missing)} on connection {step.conn}"
                )
                return
            if step.heard_ms is not None:
                await self._until_heard(step.heard_ms, self._scaled(step.gap) + self.wait_s)
                last = loop.time()
            elif step.after_stop is not None:
                await self._quiet(self._scaled(step.gap) + self.wait_s)  # its audio ended, as recorded
                last = loop.time() + self._scaled(step.t - step.after_stop)
                await asyncio.sleep(last - loop.time())  # the recorded pause after the audio ended
            else:
                if step.anchor is not None:
                    arrived = self._conns[step.anchor.conn].arrival(step.anchor.key, step.anchor.count)
                    last = max(last, arrived or last)
                last += self._scaled(step.gap, step.playing)
                delay = last - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)  # the recorded pause, not a wait for something
            await self._do(step, conn)
            self.played += 1

    async def _do(self, step: Step, conn: ReplayConnection) -> None:
        if step.kind == "frame":
            await conn.send(step.data["text"], binary="binary" in step.data)
        elif step.kind == "close":
            await conn.close(step.data.get("code"), str(step.data.get("reason") or ""))
        else:
            # The application called when the agent was in this state: so must the replay.
            state = step.data.get("state")
            if isinstance(state, str) and not await self._state(state, self.wait_s):
                self.notes.append(f"the application's {step.data.get('call')}() at {step.t:.3f} s found the "
                                  f"agent in another state than {state}")
            self._app(step.data)

    async def _until_heard(self, heard_ms: int, timeout: float) -> None:
        """Wait until the agent's audio playing now has been heard ``heard_ms`` far. Its
        playout has no event to wait on: the time left is known from the position, so this
        sleeps that long (at most 50 ms: playout may not have started), then looks again."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (now := loop.time()) < deadline:
            heard = self._heard_ms()
            if heard is not None and heard >= heard_ms:
                return
            left = (heard_ms - (heard or 0)) / 1000
            await asyncio.sleep(min(max(left, 0.005), 0.05, deadline - now))


def _describe(step: Step) -> str:
    if step.kind == "frame":
        text = step.data.get("text", "")
        return f"server frame {_frame_name(text)}"
    if step.kind == "close":
        return f"the server's close ({step.data.get('code')})"
    return f"the application's {step.data.get('call')}()"


def _frame_name(text: str) -> str:
    import json

    try:
        obj = json.loads(text)
    except ValueError:
        return "(not JSON)"
    if isinstance(obj, dict):
        return str(obj.get("type") or next(iter(obj), "{}"))
    return "(not an object)"


def _counts(missing: Counter[str]) -> str:
    return ", ".join(f"{k}" if n == 1 else f"{n} x {k}" for k, n in sorted(missing.items()))
