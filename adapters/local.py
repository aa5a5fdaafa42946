"""LocalRoom: an in-process room built from real ``livekit.rtc`` audio objects.

The caller's microphone and the agent's speaker are real ``AudioSource`` ->
``LocalAudioTrack`` -> ``AudioStream`` pipelines, which run without a LiveKit server. The
speaker's listener matches every frame it receives against the frames the agent wrote, so
the room knows exactly how much agent audio was heard (the native source fills gaps with
silence, which must not count).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator

from livekit import rtc

from turnstile.machine import TranscriptSegment

from ._capture import CaptureSource

__all__ = ["LocalCaller", "LocalLink", "LocalRoom", "LocalSpeaker"]

logger = logging.getLogger("turnstile.local")

_IN_FLIGHT_FRAMES = 2
"""Beyond the source's queue, frames a clear cannot reach: one being captured, one in transit."""


class LocalSpeaker:
    """The agent's voice: an AudioOutput whose listener counts exactly what it heard."""

    def __init__(self, sample_rate: int, *, queue_ms: int = 100, record: bool = False) -> None:
        self._rate = sample_rate
        self._capture = CaptureSource(sample_rate, queue_ms=queue_ms)
        self.track = rtc.LocalAudioTrack.create_audio_track("agent-voice", self._capture.source)
        self._stream = rtc.AudioStream.from_track(
            track=self.track, sample_rate=sample_rate, num_channels=1
        )
        self._pending: deque[bytes] = deque()
        # Frames cleared from the queue that the native source had already sent on, and the
        # listener may still hear: as many as its queue holds (a listener behind by a whole
        # queue, on a busy loop, hears all of it after the clear), and those in flight.
        self._limbo: deque[bytes] = deque(maxlen=queue_ms // 10 + _IN_FLIGHT_FRAMES)
        self._queued = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self.written_samples = 0
        self.heard_samples = 0
        """Agent samples the listener received (including any heard after a clear)."""
        self.heard_after_clear_samples = 0
        self.clears = 0
        self.recording: bytearray | None = bytearray() if record else None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._listener = asyncio.get_running_loop().create_task(self._listen(), name="speaker")

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def queued_samples(self) -> int:
        return self._queued

    async def write(self, pcm: bytes) -> None:
        n = len(pcm) // 2
        # The stream hands the listener 10 ms frames whatever size was captured: the
        # listener matches those, so the pending list holds the write's 10 ms slices.
        step = self._rate // 100 * 2
        slices = [pcm[i : i + step] for i in range(0, len(pcm), step)]
        self._pending.extend(slices)
        self._queued += n
        self.written_samples += n
        self._drained.clear()
        await self._flowing.wait()
        try:
            await self._capture.capture(pcm)
        except Exception:
            # Never captured: the listener will not hear these, so they are not waited for.
            for piece in slices:
                with contextlib.suppress(ValueError):
                    self._pending.remove(piece)
            self._queued = max(0, self._queued - n)
            self.written_samples -= n
            if not self._pending:
                self._drained.set()
            raise

    def stall(self) -> None:
        """A fault: the room stops taking audio (writes wait, nothing drains) until
        :meth:`resume`. What a frozen media pipeline looks like to the agent."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def clear(self) -> None:
        self._capture.clear()
        self.clears += 1
        # The oldest cleared frames are the ones already on their way out (heard anyway).
        self._limbo.extend(itertools.islice(self._pending, self._limbo.maxlen))
        self._pending.clear()
        self._queued = 0
        self._drained.set()

    async def wait_for_playout(self) -> None:
        await self._drained.wait()

    async def _listen(self) -> None:
        async for ev in self._stream:
            self._hear(bytes(ev.frame.data))

    def _hear(self, data: bytes) -> None:
        """One 10 ms frame the listener received."""
        if self._pending and data == self._pending[0]:
            self._pending.popleft()
            n = len(data) // 2
            self._queued -= n
            self.heard_samples += n
            if self.recording is not None:
                self.recording += data
            if not self._pending:
                self._drained.set()
        elif self._limbo and data in self._limbo:
            # Already on its way out when the queue was cleared: the listener heard it.
            while self._limbo and self._limbo.popleft() != data:
                pass
            self.heard_samples += len(data) // 2
            self.heard_after_clear_samples += len(data) // 2
            if self.recording is not None:
                self.recording += data
        elif self.recording is not None:
            self.recording += data

    async def aclose(self) -> None:
        self._listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._listener
        await self._stream.aclose()
        await self._capture.aclose()  # after the captures still in flight (a barge-in's)


class LocalCaller:
    """The simulated user: speaks PCM into a real microphone track."""

    def __init__(self, identity: str, sample_rate: int) -> None:
        self.identity = identity
        self.sample_rate = sample_rate
        self._capture = CaptureSource(sample_rate, queue_ms=100)
        self.track = rtc.LocalAudioTrack.create_audio_track("caller-mic", self._capture.source)

    async def say(self, pcm: bytes, *, frame_ms: int = 10) -> None:
        """Speak ``pcm`` (PCM16 mono at ``sample_rate``) in real time."""
        step = self.sample_rate * frame_ms // 1000 * 2
        for i in range(0, len(pcm) - len(pcm) % step, step):
            await self._capture.capture(pcm[i : i + step])

    async def aclose(self) -> None:
        await self._capture.aclose()


class LocalLink:
    """The agent's link to the caller: a RoomLink for the runtime."""

    def __init__(self, room: LocalRoom, caller: LocalCaller, speaker: LocalSpeaker) -> None:
        self._room = room
        self._caller = caller
        self.speaker = speaker
        self._streams: list[rtc.AudioStream] = []
        self.closed = False

    @property
    def participant(self) -> str:
        return self._caller.identity

    @property
    def output(self) -> LocalSpeaker:
        return self.speaker

    async def audio_frames(
        self, sample_rate: int | None = None, frame_ms: int | None = None
    ) -> AsyncIterator[rtc.AudioFrame]:
        # The rate hint is ignored on purpose: frames come at the caller's own rate, so
        # the agent's own resampling is what LocalRoom exercises. Frames are as long as
        # asked, as a LiveKit room delivers them.
        stream = rtc.AudioStream.from_track(
            track=self._caller.track,
            sample_rate=self._caller.sample_rate,
            num_channels=1,
            frame_size_ms=frame_ms,
        )
        self._streams.append(stream)
        try:
            async for ev in stream:
                yield ev.frame
        finally:
            await stream.aclose()

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        if self.closed:
            raise RuntimeError("the room link is closed")
        if self._room.attribute_delay:
            await asyncio.sleep(self._room.attribute_delay)
        self._room.attributes.update(attributes)
        self._room.attribute_history.append(dict(attributes))

    async def publish_transcription(self, segment: TranscriptSegment) -> None:
        self._room.transcriptions.append(segment)

    async def aclose(self) -> None:
        self.closed = True
        for stream in self._streams:
            await stream.aclose()
        await self.speaker.aclose()


class LocalRoom:
    """A room with one caller and one agent, in this process."""

    def __init__(
        self,
        *,
        caller: str = "caller",
        caller_sample_rate: int = 48000,
        speaker_queue_ms: int = 100,
        record: bool = False,
        attribute_delay: float = 0.0,
    ) -> None:
        self.caller = LocalCaller(caller, caller_sample_rate)
        self.speaker_queue_ms = speaker_queue_ms
        self.record = record
        self.attribute_delay = attribute_delay
        """Seconds each attribute update takes, to exercise coalescing."""
        self.attributes: dict[str, str] = {}
        self.attribute_history: list[dict[str, str]] = []
        self.transcriptions: list[TranscriptSegment] = []
        self.link_: LocalLink | None = None

    @property
    def speaker(self) -> LocalSpeaker:
        if self.link_ is None:
            raise RuntimeError("no agent has linked to this room yet")
        return self.link_.speaker

    async def link(self, participant: str | None, *, output_sample_rate: int) -> LocalLink:
        if participant is not None and participant != self.caller.identity:
            raise LookupError(f"no participant {participant!r} in this room")
        speaker = LocalSpeaker(output_sample_rate, queue_ms=self.speaker_queue_ms, record=self.record)
        self.link_ = LocalLink(self, self.caller, speaker)
        return self.link_

    @property
    def state_history(self) -> list[str]:
        return [a["lk.agent.state"] for a in self.attribute_history if "lk.agent.state" in a]

    async def aclose(self) -> None:
        if self.link_ is not None and not self.link_.closed:
            await self.link_.aclose()
        await self.caller.aclose()
