"""The chaos run's room: the benchmarks' PacedLink and PacedOutput, played faster than real time.

A conversation of the campaign must take a second or two, not the minute its audio lasts.
One clock per process plays every linked output ``speed`` times faster than real time (it
calls PacedOutput.tick ``speed`` times per 10 ms), so heard positions, barge-ins and the
output's back-pressure all work as in real time, only sooner. The caller's turns go into
the microphone at once, as 100 ms frames: the servers' VADs count samples, not seconds.
"""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
from livekit import rtc

from ._pacedroom import FRAME_MS, PacedLink, PacedOutput

__all__ = ["ChaosClock", "ChaosRoom"]

RATE = 24000
_MIC_FRAME = RATE // 10  # samples: the agent sends 100 ms chunks, so the microphone frames them so


class ChaosClock:
    """Ticks every 10 ms; each tick plays ``speed`` x 10 ms of every linked output."""

    def __init__(self, speed: int) -> None:
        if speed < 1:
            raise ValueError("speed must be >= 1")
        self.speed = speed
        self.outputs: set[PacedOutput] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="chaos-clock")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        period = FRAME_MS / 1000
        due = loop.time() + period
        while True:
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            # A late tick does not catch up: the outputs just play later, as a slow device would.
            due = max(due + period, loop.time())
            for output in list(self.outputs):
                for _ in range(self.speed):
                    output.tick(0.0)


class ChaosRoom:
    """A RoomPort for one conversation: its output plays on ``clock``; ``say`` speaks a turn."""

    def __init__(self, clock: ChaosClock, *, queue_ms: int = 200) -> None:
        self._clock = clock
        self._queue_ms = queue_ms
        self.link_: PacedLink | None = None

    async def link(self, participant: str | None, *, output_sample_rate: int) -> PacedLink:
        output = PacedOutput(output_sample_rate, queue_ms=self._queue_ms)
        self.link_ = PacedLink(participant or "caller", output)
        self._clock.outputs.add(output)
        return self.link_

    def say(self, pcm: bytes, *, silence_ms: int = 1000) -> None:
        """Speak ``pcm`` (24 kHz PCM16), then ``silence_ms`` of silence so the server's VAD
        hears the turn end; all of it at once."""
        link = self.link_
        if link is None or link.closed:
            return
        samples = np.concatenate([np.frombuffer(pcm, np.int16), np.zeros(RATE * silence_ms // 1000, np.int16)])
        samples = np.pad(samples, (0, -len(samples) % _MIC_FRAME))
        for i in range(0, len(samples), _MIC_FRAME):
            link.hear(rtc.AudioFrame(samples[i : i + _MIC_FRAME].tobytes(), RATE, 1, _MIC_FRAME))

    async def aclose(self) -> None:
        if self.link_ is not None:
            self._clock.outputs.discard(self.link_.output)
            if not self.link_.closed:
                await self.link_.aclose()
