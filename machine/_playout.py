"""Playout: the agent's audio into the room's output, one item at a time.

The player knows the heard position of the item playing: samples written to the output
minus samples the output still holds. That is what truncation sends, so it is computed
before the output is cleared, and it never exceeds what the provider sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from ._ports import AudioOutput

__all__ = ["Player", "PlayoutHandle"]

logger = logging.getLogger("turnstile.playout")

FRAME_MS = 10
"""Writes are whole multiples of this: outputs re-frame odd sizes, misaligning what follows."""
WRITE_MS = 100
"""The most written in one call. Each write is a wake-up and, on a LiveKit AudioSource, a
round trip to native code, so audio that arrived together goes out together; a barge-in
still stops at once, because ``clear`` drops whatever the output holds, however written."""


class PlayoutHandle:
    """One content part of a response (an audio item) on its way to the listener."""

    __slots__ = (
        "_chunks",
        "_pad",
        "_pending",
        "_tail",
        "_tail_bytes",
        "_text",
        "content_index",
        "finished",
        "heard_at_stop",
        "input_done",
        "interrupted",
        "item_id",
        "pushed_samples",
        "received_samples",
        "response_id",
        "started",
    )

    def __init__(self, item_id: str, content_index: int, response_id: str) -> None:
        self.item_id = item_id
        self.content_index = content_index
        self.response_id = response_id
        self.received_samples = 0
        self.pushed_samples = 0
        self.heard_at_stop: int | None = None
        self.input_done = False
        self.interrupted = False
        self.finished = False
        self._chunks: deque[bytes] = deque()
        self._pending = bytearray()
        """Taken from the chunks, not yet written (less than a frame, or the next write)."""
        self._tail: deque[bytes] = deque()
        self._tail_bytes = 0
        self._pad = 0
        """The last writes, kept while the room may still hold them: a pause puts back
        what was written and not heard, so the resume repeats nothing and loses nothing."""
        self.started = False
        self._text: list[str] = []

    def add_text(self, delta: str) -> None:
        self._text.append(delta)

    @property
    def transcript(self) -> str:
        return "".join(self._text)

    def __repr__(self) -> str:
        return (
            f"PlayoutHandle({self.item_id!r}, received={self.received_samples}, "
            f"pushed={self.pushed_samples}, interrupted={self.interrupted})"
        )


class Player:
    """Plays handles in order through an :class:`AudioOutput`; at most one at a time."""

    def __init__(
        self,
        output: AudioOutput,
        on_started: Callable[[PlayoutHandle], None],
        on_finished: Callable[[PlayoutHandle], None],
        on_progress: Callable[[PlayoutHandle], None] | None = None,
    ) -> None:
        self._output = output
        self._on_started = on_started
        self._on_finished = on_finished
        self._on_progress = on_progress
        self._frame_bytes = output.sample_rate * FRAME_MS // 1000 * 2
        self._write_bytes = self._frame_bytes * (WRITE_MS // FRAME_MS)
        self._queue: deque[PlayoutHandle] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.paused = False
        self._clear_mark: int | None = None
        """Where the output's count of audio heard after a clear stood when we paused."""
        self.write_errors = 0
        """Writes the room refused (each logged): their audio was skipped."""

    @property
    def sample_rate(self) -> int:
        return self._output.sample_rate

    @property
    def current(self) -> PlayoutHandle | None:
        return self._queue[0] if self._queue else None

    @property
    def playing(self) -> bool:
        return bool(self._queue)

    @property
    def awaiting_input(self) -> bool:
        """Some queued item is still to receive audio from the model."""
        return any(not h.input_done for h in self._queue)

    @property
    def starved(self) -> bool:
        """Playing, but waiting for the model: nothing left to write, nothing in the room."""
        current = self.current
        return (
            current is not None
            and not current._chunks
            and not current.input_done
            and self._output.queued_samples == 0
        )

    def play(self, item_id: str, content_index: int, response_id: str) -> PlayoutHandle:
        handle = PlayoutHandle(item_id, content_index, response_id)
        if self._closed:
            handle.finished = True
            return handle
        self._queue.append(handle)
        if not self.paused and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run(), name="playout")
        self._wake.set()
        return handle

    def push(self, handle: PlayoutHandle, pcm: bytes) -> None:
        if handle.finished or handle.input_done:
            return
        handle.received_samples += len(pcm) // 2
        handle._chunks.append(pcm)
        self._wake.set()

    def end_input(self, handle: PlayoutHandle) -> None:
        handle.input_done = True
        self._wake.set()

    def heard_samples(self, handle: PlayoutHandle) -> int:
        """What the listener heard of ``handle``, clamped to what the provider sent."""
        if handle.heard_at_stop is not None:
            return handle.heard_at_stop
        heard = handle.pushed_samples
        if self._queue and self._queue[0] is handle:
            heard -= self._output.queued_samples
        return max(0, min(heard, handle.received_samples))

    def interrupt(self) -> PlayoutHandle | None:
        """Stop now. Returns the handle that was playing, its heard position frozen."""
        current = self.current
        if current is None:
            return None
        # Read the heard position before the clear: after it the output reports nothing
        # queued, and everything written would look heard.
        current.heard_at_stop = self.heard_samples(current) + self._heard_since_pause(current)
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._output.clear()
        self.paused = False
        self._clear_mark = None
        while self._queue:
            handle = self._queue.popleft()
            if handle.heard_at_stop is None:
                handle.heard_at_stop = 0
            handle.interrupted = True
            handle.finished = True
            handle._chunks.clear()
        return current

    def pause(self) -> PlayoutHandle | None:
        """Stop the sound now, keeping the item: what was written and not heard goes back in
        front of what is left, so :meth:`resume` plays on from the heard position."""
        current = self.current
        if current is None or self.paused:
            return current
        heard = self.heard_samples(current)
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._output.clear()
        self.paused = True
        self._clear_mark = getattr(self._output, "heard_after_clear_samples", None)
        # The tail's silence pad (a last partial frame, padded) is not audio to put back.
        unheard = max(0, (current.pushed_samples - heard) * 2 - current._pad)
        written = b"".join(current._tail)
        back = written[len(written) - min(unheard, len(written)):] + bytes(current._pending)
        if back:
            current._chunks.appendleft(back)
        current._pending.clear()
        current._tail.clear()
        current._tail_bytes = 0
        current._pad = 0
        current.pushed_samples = heard
        return current

    def resume(self) -> None:
        """Play on from where :meth:`pause` stopped."""
        if not self.paused:
            return
        current = self.current
        if current is not None:
            # Audio already on its way out when the pause cleared the output was heard: it
            # is not played again (where the output can tell; a LiveKit room cannot).
            skip = self._heard_since_pause(current) * 2
            current.pushed_samples += skip // 2
            while skip and current._chunks:
                head = current._chunks.popleft()
                if len(head) > skip:
                    current._chunks.appendleft(head[skip:])
                    skip = 0
                else:
                    skip -= len(head)
        self.paused = False
        self._clear_mark = None
        if self._queue and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run(), name="playout")

    def _heard_since_pause(self, current: PlayoutHandle) -> int:
        """Samples of ``current`` the listener heard after the pause's clear."""
        mark = self._clear_mark
        if not self.paused or mark is None:
            return 0
        now = int(getattr(self._output, "heard_after_clear_samples", mark))
        return max(0, min(now - mark, current.received_samples - current.pushed_samples))

    async def aclose(self) -> None:
        self._closed = True
        self.interrupt()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    async def _write(self, pcm: bytes) -> bool:
        """One write to the room; False (logged, counted) if the room refused it.

        LiveKit's ``capture_frame`` can raise ("InvalidState - failed to capture frame")
        after a clear under a pending capture: that audio is skipped, not fatal."""
        try:
            await self._output.write(pcm)
        except Exception as exc:
            self.write_errors += 1
            logger.warning("the room refused %d ms of the agent's audio (%s); skipped",
                           len(pcm) * 1000 // 2 // self._output.sample_rate, exc)
            return False
        return True

    async def _run(self) -> None:
        output, frame_bytes, write_bytes = self._output, self._frame_bytes, self._write_bytes
        keep = write_bytes * 20  # more than any output holds (2 s)
        while self._queue:
            handle = self._queue[0]
            if not handle.started:  # a resumed item has started already
                handle.started = True
                self._on_started(handle)
            pending = handle._pending
            tail = handle._tail
            while True:
                if handle._chunks:
                    while handle._chunks and len(pending) < write_bytes:
                        pending += handle._chunks.popleft()
                    while len(pending) >= frame_bytes:
                        n = min(len(pending), write_bytes) // frame_bytes * frame_bytes
                        chunk = bytes(pending[:n])
                        del pending[:n]
                        # Counted before the await: audio waiting for room in the output's
                        # queue is already counted there as queued, so heard = pushed - queued.
                        handle.pushed_samples += n // 2
                        tail.append(chunk)
                        handle._tail_bytes += n
                        while handle._tail_bytes - len(tail[0]) >= keep:
                            handle._tail_bytes -= len(tail.popleft())
                        if not await self._write(chunk):
                            handle.pushed_samples -= n // 2  # never reached the listener
                            tail.pop()
                            handle._tail_bytes -= n
                        if self._on_progress is not None:
                            self._on_progress(handle)
                elif handle.input_done:
                    if pending:
                        # Pad the tail to a whole frame: outputs re-frame odd sizes, which
                        # would misalign every later frame. Heard positions are clamped to
                        # the samples received, so the padding is never reported as heard.
                        padded = bytes(pending) + bytes(frame_bytes - len(pending))
                        handle.pushed_samples += frame_bytes // 2
                        tail.append(bytes(pending))  # a pause puts back the audio, not the pad
                        handle._tail_bytes += len(pending)
                        handle._pad = frame_bytes - len(pending)
                        pending.clear()
                        if not await self._write(padded):
                            handle.pushed_samples -= frame_bytes // 2
                    break
                else:
                    self._wake.clear()
                    await self._wake.wait()
            try:
                await output.wait_for_playout()
            except Exception as exc:  # a room that fails here has played what it could
                self.write_errors += 1
                logger.warning("the room failed waiting for playout (%s); the item ends here", exc)
            handle.heard_at_stop = min(handle.pushed_samples, handle.received_samples)
            handle.finished = True
            self._queue.popleft()
            self._on_finished(handle)
