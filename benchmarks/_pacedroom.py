"""PacedRoom: rooms whose audio really runs in real time, but without livekit's audio pump.

LocalRoom's livekit ``AudioStream``s each receive every frame of every stream in the
process (livekit python-sdks issue 812): with two streams per session, the cost of N
LocalRoom sessions grows as N squared, and the room, not the agent, sets the limit. A
PacedRoom keeps what matters for a realtime session and drops that fan-out:

* one 10 ms clock per process (as one sound device or one media thread would be) ticks on
  an absolute schedule; a tick that runs late does not move the schedule, so lag shows;
* each tick hands every session's microphone one 10 ms ``rtc.AudioFrame`` of its caller
  timeline, and plays (drops) 10 ms of every output that has audio queued, recording that
  frame's lateness: the time it was played minus the time it was due;
* an output's ``write`` waits while its queue is full, like ``rtc.AudioSource.capture_frame``.

Nothing here imports turnstile: the livekit-agents half runs this module from another venv.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from array import array
from collections import deque
from collections.abc import AsyncIterator, Callable

from livekit import rtc

__all__ = ["FRAME_MS", "PacedClock", "PacedLink", "PacedOutput", "PacedRoom"]

FRAME_MS = 10
GAP_S = 0.5


class PacedOutput:
    """An AudioOutput played by the clock, 10 ms per tick; ``queue_ms`` bounds what it holds."""

    def __init__(self, sample_rate: int, *, queue_ms: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._now = clock
        self._rate = sample_rate
        self._frame = sample_rate * FRAME_MS // 1000  # samples per tick
        self._limit = sample_rate * queue_ms // 1000
        self._chunks: deque[memoryview] = deque()
        self._queued = 0
        self._space = asyncio.Event()
        self._waiting = 0  # samples of the write waiting for room
        self._drained = asyncio.Event()
        self._drained.set()
        self.recording = False
        """Only frames played while this is set are counted (the measurement window)."""
        self.on_played: Callable[[int], None] | None = None
        """Told the samples each tick played: for a framework that tracks playout itself."""
        self.lateness_ms = array("d")
        self.played_samples = 0
        self.written_samples = 0
        self.clears = 0
        self.window_clears = 0
        self.bursts = 0
        """Times playout started from an empty queue in the window: once per reply, or a gap."""
        self.gaps = 0
        self._speech_at: float | None = None
        self._speech_at_for_wire: float | None = None
        self.barge_in_ms = array("d")
        """From the framework's speech-started event to this output being cleared."""
        self.barge_in_cpu_ms = array("d")
        """The same span in the thread's CPU time: what the framework spent on it, without what
        the machine imposed (another process on the core). GC pauses count: they are CPU."""
        self._speech_cpu_at: tuple[int, float] | None = None  # (thread, thread_time)
        self.truncate_ms = array("d")
        """From the same event to the truncate sent (the framework's half says how it times it)."""
        self.truncations = 0
        """Truncates the framework sent in the window (``mark_truncate_sent``)."""
        self.truncation_error_ms = array("d")
        """The truncate's ``audio_end_ms`` minus what this output played of the reply before it
        was cleared: what the model will believe was heard, against what was."""
        self._last_played: float | None = None
        self._burst_played = 0  # this reply's samples played: since playout started from empty, not after a gap
        self._cut_heard_ms: float | None = None  # of the reply cleared at the last barge-in
        self._cut_end_ms: float | None = None  # the truncate sent for it

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def queued_samples(self) -> int:
        # A write waiting for room counts as queued, as in AudioSource.queued_duration.
        return self._queued + self._waiting

    async def write(self, pcm: bytes | memoryview) -> None:
        n = len(pcm) // 2
        # Wait for room, as AudioSource.capture_frame does; a write larger than the whole
        # queue is taken once the queue is empty, or it would never fit. A frame whose
        # write was waiting when the output was cleared belongs to the cut speech: dropped.
        clears = self.clears
        while self._queued and self._queued + n > self._limit:
            # Woken once there is room for all of it, as the native source answers a
            # capture once the whole frame is queued: not on every tick in between.
            self._waiting = n
            self._space.clear()
            await self._space.wait()
            if self.clears != clears:
                return
        self._waiting = 0
        if not self._queued:
            # Playout resuming soon after it ran dry is a gap inside speech, not a new reply:
            # replies here are at least a caller turn (~1 s) apart. What was heard before the
            # gap is still of this reply (a truncate after it counts from the reply's start).
            gap = self._last_played is not None and self._now() - self._last_played < GAP_S
            if not gap:
                self._burst_played = 0
            if self.recording:
                self.bursts += 1
                self.gaps += gap
        self._chunks.append(memoryview(pcm))
        self._queued += n
        self.written_samples += n
        self._drained.clear()

    def mark_speech_started(self) -> None:
        """The framework got the provider's speech-started event; a barge-in is timed from here."""
        self._speech_at = self._speech_at_for_wire = time.perf_counter() if self._queued else None
        self._speech_cpu_at = (threading.get_ident(), time.thread_time()) if self._queued else None
        self._cut_heard_ms = self._cut_end_ms = None

    def mark_truncate_sent(self, audio_end_ms: float | None = None) -> None:
        """The framework sent a truncate (at ``audio_end_ms``, when the half can read it)."""
        if self.recording:
            self.truncations += 1
        if self._speech_at_for_wire is not None and self.recording:
            self.truncate_ms.append((time.perf_counter() - self._speech_at_for_wire) * 1000)
        if self._speech_at_for_wire is not None and audio_end_ms is not None:
            self._cut_end_ms = audio_end_ms
            self._pair_truncation()
        self._speech_at_for_wire = None

    def _pair_truncation(self) -> None:
        # The truncate and the clear come in either order (a framework may truncate first).
        if self._cut_heard_ms is not None and self._cut_end_ms is not None:
            if self.recording:
                self.truncation_error_ms.append(self._cut_end_ms - self._cut_heard_ms)
            self._cut_heard_ms = self._cut_end_ms = None

    def clear(self) -> None:
        if self._speech_at is not None and self.recording:
            self.barge_in_ms.append((time.perf_counter() - self._speech_at) * 1000)
            cpu = self._speech_cpu_at
            if cpu is not None and cpu[0] == threading.get_ident():  # a thread's clock is its own
                self.barge_in_cpu_ms.append((time.thread_time() - cpu[1]) * 1000)
        if self._speech_at is not None:
            self._cut_heard_ms = self._burst_played * 1000 / self._rate
            self._pair_truncation()
        self._speech_at = None
        self._chunks.clear()
        self._queued = 0
        self._waiting = 0
        self.clears += 1
        if self.recording:
            self.window_clears += 1
        self._space.set()
        self._drained.set()

    async def wait_for_playout(self) -> None:
        await self._drained.wait()

    def tick(self, lateness_ms: float) -> None:
        """The clock: play the next 10 ms, if any, ``lateness_ms`` after it was due."""
        if not self._queued:
            return
        need = self._frame * 2  # bytes
        while need and self._chunks:
            head = self._chunks[0]
            if len(head) <= need:
                self._chunks.popleft()
                need -= len(head)
            else:
                self._chunks[0] = head[need:]
                need = 0
        played = min(self._frame, self._queued)
        self._queued -= played
        self._burst_played += played
        self._last_played = self._now()
        if self.on_played is not None:
            self.on_played(played)
        if self.recording:
            self.played_samples += played
            self.lateness_ms.append(lateness_ms)
        if not self._queued or self._queued + max(self._waiting, self._frame) <= self._limit:
            self._space.set()
        if not self._queued:
            self._drained.set()


class PacedLink:
    """One session's link: a microphone fed by the clock, and a PacedOutput."""

    def __init__(self, participant: str, output: PacedOutput) -> None:
        self._participant = participant
        self._output = output
        self._mic: asyncio.Queue[rtc.AudioFrame | None] = asyncio.Queue()
        self.attributes: dict[str, str] = {}
        self.transcriptions = 0
        self.closed = False
        self.frame_ms = FRAME_MS
        """The microphone's frame length, as the framework asked (``frame_size_ms``)."""

    @property
    def participant(self) -> str:
        return self._participant

    @property
    def output(self) -> PacedOutput:
        return self._output

    def hear(self, frame: rtc.AudioFrame) -> None:
        self._mic.put_nowait(frame)

    async def audio_frames(
        self, sample_rate: int | None = None, frame_ms: int | None = None
    ) -> AsyncIterator[rtc.AudioFrame]:
        # Frames as long as asked, whole ticks, as rtc.AudioStream(frame_size_ms=...) frames
        # natively: a framework reading 50 ms frames gets one every fifth tick.
        self.frame_ms = max(1, round((frame_ms or FRAME_MS) / FRAME_MS)) * FRAME_MS
        while (frame := await self._mic.get()) is not None:
            yield frame

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self.attributes.update(attributes)

    async def publish_transcription(self, segment: object) -> None:
        # ``object``: wider than the port's TranscriptSegment, and no turnstile import here.
        self.transcriptions += 1

    async def aclose(self) -> None:
        self.closed = True
        self._mic.put_nowait(None)


class PacedRoom:
    """A RoomPort for one session: its caller plays ``timeline`` (24 kHz PCM16) from ``offset``."""

    def __init__(self, clock: PacedClock, timeline: bytes, *, offset_samples: int, queue_ms: int) -> None:
        self._clock = clock
        self._timeline = timeline
        self._pos = offset_samples * 2 % len(timeline)  # bytes
        self._queue_ms = queue_ms
        # Each caller's frames start at its own phase, as independent streams do: N
        # sessions' 100 ms frames do not all land on the same tick.
        self._ticks = offset_samples // (clock.rate * FRAME_MS // 1000)
        self.link_: PacedLink | None = None

    async def link(self, participant: str | None, *, output_sample_rate: int) -> PacedLink:
        self.link_ = PacedLink(participant or "caller", PacedOutput(output_sample_rate, queue_ms=self._queue_ms))
        self._clock.rooms.append(self)
        return self.link_

    def tick(self, lateness_ms: float, mic_on: bool) -> None:
        link = self.link_
        if link is None or link.closed:
            return
        if mic_on:
            self._ticks += 1
            ticks = link.frame_ms // FRAME_MS
            if self._ticks % ticks == 0:
                # The frame holds the audio of the ticks since the last one: delivered complete.
                step = self._clock.rate * FRAME_MS // 1000 * 2 * ticks
                end = self._pos + step
                data = self._timeline[self._pos : end]
                if len(data) < step:  # the timeline loops
                    end -= len(self._timeline)
                    data += self._timeline[:end]
                self._pos = end
                link.hear(rtc.AudioFrame(data, self._clock.rate, 1, step // 2))
        link.output.tick(lateness_ms)

    async def aclose(self) -> None:
        if self.link_ is not None:
            await self.link_.aclose()


class PacedClock:
    """The process's 10 ms audio clock, on an absolute schedule (``loop.time()`` based)."""

    def __init__(self, rate: int = 24000) -> None:
        self.rate = rate
        self.rooms: list[PacedRoom] = []
        self.mic_on = False
        """Microphones stay silent (no frames) until the sessions are up."""
        self.ticks = 0
        self.late_ticks = 0
        """Ticks run more than one tick late: the loop could not keep up at that moment."""
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="paced-clock")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def record(self, on: bool) -> None:
        for room in self.rooms:
            if room.link_ is not None:
                room.link_.output.recording = on

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        period = FRAME_MS / 1000
        due = loop.time() + period
        while True:
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            now = loop.time()
            # Every tick that has come due runs now, each with its own lateness: a stall
            # of 50 ms shows as five late frames, as a real device would glitch.
            while due <= now:
                lateness_ms = (now - due) * 1000
                if lateness_ms > FRAME_MS:
                    self.late_ticks += 1
                for room in self.rooms:
                    room.tick(lateness_ms, self.mic_on)
                self.ticks += 1
                due += period
