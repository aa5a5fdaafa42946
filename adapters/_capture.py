"""A native ``rtc.AudioSource`` whose captures are never abandoned mid-flight.

``AudioSource.capture_frame`` hands the frame to LiveKit's native layer and awaits its
callback. Cancelling the await (a barge-in cancels the playout task mid-write) does not
cancel the native capture: it completes later and sends its callback. If the source is
disposed, and the process exits, before that, the native layer logs
``[AUDIO_CAPTURE] Failed to send callback ... the server is not configured`` at ERROR on
the way out. So each capture runs as a task of its own that a cancelled writer stops
waiting for but does not abandon, and ``aclose`` clears the queue (which lets a capture
waiting for room complete at once), waits for the captures still in flight, and only then
disposes the source. The next capture waits for those in flight too: the native source
takes one at a time.
"""

from __future__ import annotations

import asyncio
import logging

from livekit import rtc

__all__ = ["CaptureSource"]

logger = logging.getLogger("turnstile.audio_out")

_DRAIN_S = 2.0
"""At most this long for in-flight captures at close; after a clear they take a few ms."""


class CaptureSource:
    def __init__(self, sample_rate: int, *, queue_ms: int) -> None:
        self.sample_rate = sample_rate
        self.source = rtc.AudioSource(sample_rate, 1, queue_size_ms=queue_ms)
        self._in_flight: set[asyncio.Task[None]] = set()

    async def capture(self, pcm: bytes) -> None:
        """Capture ``pcm`` (PCM16 mono); returns once the native queue took it."""
        # One capture at a time: the native source refuses a second while one is pending
        # ("InvalidState - failed to capture frame"), and the capture of a writer that a
        # barge-in cancelled is still pending. After the barge-in's clear it ends at once.
        while self._in_flight:
            await asyncio.wait(set(self._in_flight))
        frame = rtc.AudioFrame(pcm, self.sample_rate, 1, len(pcm) // 2)
        task = asyncio.get_running_loop().create_task(self.source.capture_frame(frame))
        self._in_flight.add(task)
        task.add_done_callback(self._done)
        # A cancelled writer stops waiting here; the capture itself goes on to its callback.
        await asyncio.shield(task)

    def clear(self) -> None:
        self.source.clear_queue()

    async def aclose(self) -> None:
        if self._in_flight:
            self.source.clear_queue()  # a capture waiting for room in the queue gets it now
            _, late = await asyncio.wait(set(self._in_flight), timeout=_DRAIN_S)
            if late:
                logger.warning("%d audio captures still in flight at close", len(late))
        await self.source.aclose()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        # Retrieved here: a capture whose writer was cancelled has nobody else to read it.
        if not task.cancelled() and task.exception() is not None:
            logger.debug("an audio capture failed: %s", task.exception())
