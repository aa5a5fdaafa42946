"""The user's audio on its way to the provider: resampled, chunked, held while not ready.

Audio never passes through the chart. Frames from the room are resampled to the
provider's input rate and sent in 100 ms chunks. While the session is not ready (first
connect, or a reconnect) chunks wait in a bounded buffer: the oldest are dropped and
counted, so a long outage never bursts seconds of stale speech into the next session.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Imported where used: a frame comes from a room that has loaded livekit already, and
    # importing the core must not load LiveKit's native library or numpy (a Gemini or
    # OpenAI user without a LiveKit room never needs either).
    from livekit import rtc

__all__ = ["AudioForwarder"]

logger = logging.getLogger("turnstile.audio_in")


class AudioForwarder:
    def __init__(
        self,
        push: Callable[[bytes], None],
        *,
        sample_rate: int,
        chunk_ms: int = 100,
        buffer_ms: int = 2000,
    ) -> None:
        self._push = push
        self.sample_rate = sample_rate
        self.chunk_ms = chunk_ms
        self.chunk_bytes = sample_rate * chunk_ms // 1000 * 2
        self._pending = bytearray()
        self._held: deque[bytes] = deque(maxlen=max(1, buffer_ms // chunk_ms))
        self._resampler: rtc.AudioResampler | None = None
        self._resampler_rate = 0
        self.ready = False
        self.sent_chunks = 0
        self.dropped_chunks = 0

    def set_ready(self, ready: bool) -> None:
        self.ready = ready
        if ready:
            while self._held:
                self._send(self._held.popleft())

    def feed(self, frame: rtc.AudioFrame) -> int:
        """Take one room frame; returns how many chunks it completed."""
        data = _mono(frame)
        if frame.sample_rate != self.sample_rate:
            data = self._resample(data, frame.sample_rate)
        if not self._pending and len(data) == self.chunk_bytes:
            self._take(data)  # the room framed it as a chunk already (it was asked to): no copies
            return 1
        self._pending += data
        n = 0
        while len(self._pending) >= self.chunk_bytes:
            chunk = bytes(self._pending[: self.chunk_bytes])
            del self._pending[: self.chunk_bytes]
            self._take(chunk)
            n += 1
        return n

    def _take(self, chunk: bytes) -> None:
        if self.ready:
            self._send(chunk)
        else:
            if len(self._held) == self._held.maxlen:
                self.dropped_chunks += 1
            self._held.append(chunk)

    def flush(self) -> bool:
        """Send the partial chunk now: a turn's last words (up to ``chunk_ms``) must reach
        the provider before a push-to-talk commit. True if anything was sent."""
        if not self._pending or not self.ready:
            return False
        chunk = bytes(self._pending)
        self._pending.clear()
        self._send(chunk)
        return True

    def discard_pending(self) -> None:
        """Forget the partial chunk: audio from before a turn began, or of a cleared turn."""
        self._pending.clear()

    @property
    def held_chunks(self) -> int:
        return len(self._held)

    def _send(self, chunk: bytes) -> None:
        self.sent_chunks += 1
        self._push(chunk)

    def _resample(self, data: bytes, rate: int) -> bytes:
        if self._resampler is None or self._resampler_rate != rate:
            from livekit import rtc

            self._resampler = rtc.AudioResampler(rate, self.sample_rate, num_channels=1)
            self._resampler_rate = rate
        out = self._resampler.push(bytearray(data))
        return b"".join(bytes(f.data) for f in out)


def _mono(frame: rtc.AudioFrame) -> bytes:
    if frame.num_channels == 1:
        return bytes(frame.data)
    import numpy as np  # stereo rooms only

    samples = np.frombuffer(frame.data, dtype=np.int16).reshape(-1, frame.num_channels)
    mono: bytes = samples.mean(axis=1).astype(np.int16).tobytes()
    return mono
