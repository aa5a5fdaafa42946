"""QuietRoom: a RoomPort with no audio pump, so an agent's own cost can be measured alone.

LocalRoom is built from real livekit audio objects, and livekit's native side delivers a
10 ms frame (silence when nobody speaks) on every stream, 100 times a second, to every
AudioStream in the process (its FFI queue filters by event type, not by stream). An idle
LocalRoom agent therefore costs CPU and queue memory that grow with the number of
streams, and while a benchmark's timed loop holds the GIL the frames pile up and the FFI
thread interrupts it. QuietRoom keeps the agent's code paths (link, output, attributes,
microphone task) but delivers no frames and plays into nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from livekit import rtc

__all__ = ["QuietRoom"]


class _QuietOutput:
    """An AudioOutput that plays instantly: everything written is 'heard' at once."""

    def __init__(self, sample_rate: int) -> None:
        self._rate = sample_rate
        self.written_samples = 0
        self.clears = 0

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def queued_samples(self) -> int:
        return 0

    async def write(self, pcm: bytes) -> None:
        self.written_samples += len(pcm) // 2

    def clear(self) -> None:
        self.clears += 1

    async def wait_for_playout(self) -> None:
        return None


class _QuietLink:
    def __init__(self, participant: str, output: _QuietOutput) -> None:
        self._participant = participant
        self._output = output
        self._closed = asyncio.Event()
        self.attributes: dict[str, str] = {}

    @property
    def participant(self) -> str:
        return self._participant

    @property
    def output(self) -> _QuietOutput:
        return self._output

    async def audio_frames(
        self, sample_rate: int | None = None, frame_ms: int | None = None
    ) -> AsyncIterator[rtc.AudioFrame]:
        # A microphone that never speaks: the agent's forwarding task waits here, as it
        # would on a real track between frames, until the link closes.
        await self._closed.wait()
        return
        yield  # unreachable; makes this an async generator

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self.attributes.update(attributes)

    async def publish_transcription(self, segment: object) -> None:
        # ``object``, wider than the port's TranscriptSegment (still a valid RoomLink):
        # turnstile.machine imports TranscriptSegment but does not list it in __all__.
        return None

    async def aclose(self) -> None:
        self._closed.set()


class QuietRoom:
    """One caller, one agent, no audio: a RoomPort for measuring the agent alone."""

    def __init__(self, caller: str = "caller") -> None:
        self.caller = caller
        self.link_: _QuietLink | None = None

    async def link(self, participant: str | None, *, output_sample_rate: int) -> _QuietLink:
        if participant is not None and participant != self.caller:
            raise LookupError(f"no participant {participant!r} in this room")
        self.link_ = _QuietLink(self.caller, _QuietOutput(output_sample_rate))
        return self.link_

    async def aclose(self) -> None:
        if self.link_ is not None:
            await self.link_.aclose()
