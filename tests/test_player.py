"""The player's writes: whole 10 ms frames, audio that arrived together written together."""

from __future__ import annotations

import asyncio

import pytest

from turnstile.machine._playout import FRAME_MS, WRITE_MS, Player, PlayoutHandle

from ._util import wait_until

RATE = 24000
FRAME = RATE * FRAME_MS // 1000  # samples


class RecordingOutput:
    """An AudioOutput that holds what is written until ``play`` is called, like a device."""

    def __init__(self, queue_ms: int = 200) -> None:
        self.writes: list[bytes] = []
        self._limit = RATE * queue_ms // 1000
        self._queued = 0
        self._room = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()

    @property
    def sample_rate(self) -> int:
        return RATE

    @property
    def queued_samples(self) -> int:
        return self._queued

    async def write(self, pcm: bytes) -> None:
        # Counted as queued before waiting for room, as rtc.AudioSource does.
        self.writes.append(pcm)
        self._queued += len(pcm) // 2
        self._drained.clear()
        while self._queued > self._limit:
            self._room.clear()
            await self._room.wait()

    def play(self, samples: int) -> None:
        self._queued = max(0, self._queued - samples)
        self._room.set()
        if not self._queued:
            self._drained.set()

    def clear(self) -> None:
        self._queued = 0
        self._room.set()
        self._drained.set()

    async def wait_for_playout(self) -> None:
        await self._drained.wait()


def _player(output: RecordingOutput) -> tuple[Player, list[PlayoutHandle]]:
    finished: list[PlayoutHandle] = []
    return Player(output, on_started=lambda h: None, on_finished=finished.append), finished


async def test_audio_that_arrives_together_is_written_in_chunks_of_at_most_100_ms() -> None:
    output = RecordingOutput(queue_ms=1000)
    player, finished = _player(output)
    handle = player.play("item", 0, "resp")
    player.push(handle, bytes(2 * RATE * 250 // 1000))  # one 250 ms delta
    player.end_input(handle)
    await wait_until(lambda: len(output.writes) == 3)
    assert [len(w) // 2 for w in output.writes] == [RATE * WRITE_MS // 1000] * 2 + [RATE * 50 // 1000]
    output.play(output.queued_samples)
    await wait_until(lambda: finished == [handle])
    assert handle.heard_at_stop == RATE * 250 // 1000


async def test_a_partial_frame_waits_for_the_next_delta_and_the_tail_is_padded() -> None:
    output = RecordingOutput(queue_ms=1000)
    player, finished = _player(output)
    handle = player.play("item", 0, "resp")
    player.push(handle, b"\x01\x00" * (FRAME + FRAME // 2))  # 15 ms
    await wait_until(lambda: len(output.writes) == 1)
    player.push(handle, b"\x02\x00" * (FRAME // 4))  # 2.5 ms more, still short of a frame
    player.end_input(handle)
    await wait_until(lambda: len(output.writes) == 2)
    assert [len(w) // 2 for w in output.writes] == [FRAME, FRAME]  # every write whole frames
    tail = output.writes[1]
    assert tail[: FRAME // 2 * 2] == b"\x01\x00" * (FRAME // 2)
    assert tail[FRAME // 2 * 2 : (FRAME // 2 + FRAME // 4) * 2] == b"\x02\x00" * (FRAME // 4)
    assert set(tail[(FRAME // 2 + FRAME // 4) * 2 :]) == {0}  # padding
    output.play(output.queued_samples)
    await wait_until(lambda: finished == [handle])
    # The padding was never received, so it is never reported as heard.
    assert handle.heard_at_stop == FRAME + FRAME // 2 + FRAME // 4


@pytest.mark.parametrize("played_ms", [0, 30, 120])
async def test_heard_position_is_exact_while_a_chunk_waits_for_room(played_ms: int) -> None:
    output = RecordingOutput(queue_ms=200)
    player, _ = _player(output)
    handle = player.play("item", 0, "resp")
    player.push(handle, bytes(2 * RATE))  # a second of audio: the output fills up
    await wait_until(lambda: output.queued_samples > RATE * 200 // 1000)  # a write is waiting
    output.play(RATE * played_ms // 1000)
    stopped = player.interrupt()
    assert stopped is handle
    assert handle.heard_at_stop == RATE * played_ms // 1000
