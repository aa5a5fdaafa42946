"""Pause and resume: the listener hears every sample once, in order, across a pause."""

from __future__ import annotations

import numpy as np
import pytest

from turnstile.adapters.local import LocalSpeaker
from turnstile.machine._playout import Player, PlayoutHandle

from ._util import wait_until
from .test_player import FRAME, RATE, RecordingOutput


class PlayedOutput(RecordingOutput):
    """Also keeps what the listener heard: the queued bytes, in order, as they play."""

    def __init__(self, queue_ms: int = 200) -> None:
        super().__init__(queue_ms)
        self.held = bytearray()
        self.heard = bytearray()

    async def write(self, pcm: bytes) -> None:
        self.held += pcm
        await super().write(pcm)

    def play(self, samples: int) -> None:
        n = min(samples, self.queued_samples) * 2
        self.heard += self.held[:n]
        del self.held[:n]
        super().play(samples)

    def clear(self) -> None:
        self.held.clear()
        super().clear()


def ramp(samples: int) -> bytes:
    # Every sample distinct (mod 2^15): a repeat or a gap shows in the comparison.
    return (np.arange(samples, dtype=np.int64) % 30000 + 1).astype("<i2").tobytes()


def _player(output: PlayedOutput) -> tuple[Player, list[PlayoutHandle]]:
    finished: list[PlayoutHandle] = []
    started: list[PlayoutHandle] = []
    player = Player(output, on_started=started.append, on_finished=finished.append)
    player.started = started  # type: ignore[attr-defined]
    return player, finished


@pytest.mark.parametrize("heard_ms", [0, 35, 120, 290])
async def test_a_paused_item_resumes_where_it_was_heard_with_nothing_lost_or_twice(heard_ms: int) -> None:
    output = PlayedOutput(queue_ms=200)
    player, finished = _player(output)
    audio = ramp(RATE * 600 // 1000 + FRAME // 3)  # 600 ms and a third of a frame
    handle = player.play("item", 0, "resp")
    player.push(handle, audio[: len(audio) // 2])
    await wait_until(lambda: output.queued_samples > RATE * 200 // 1000)  # a write waits for room
    output.play(RATE * heard_ms // 1000)
    assert player.pause() is handle and player.paused
    assert player.heard_samples(handle) == RATE * heard_ms // 1000  # frozen while paused
    assert output.queued_samples == 0  # silent at once
    player.push(handle, audio[len(audio) // 2 :])  # the model streams on during the hold
    player.end_input(handle)
    assert output.held == b""  # nothing written while paused
    player.resume()
    while not finished:
        await wait_until(lambda: output.queued_samples > 0 or bool(finished))
        output.play(output.queued_samples)
    assert bytes(output.heard[: len(audio)]) == audio  # every sample once, in order
    assert set(output.heard[len(audio) :]) <= {0}  # then only the last frame's padding
    assert handle.heard_at_stop == len(audio) // 2
    assert len(player.started) == 1  # type: ignore[attr-defined]  # resumed, not restarted


async def test_interrupting_a_paused_item_reports_the_position_heard_before_the_pause() -> None:
    output = PlayedOutput(queue_ms=200)
    player, _ = _player(output)
    handle = player.play("item", 0, "resp")
    player.push(handle, ramp(RATE))
    await wait_until(lambda: output.queued_samples > RATE * 200 // 1000)
    output.play(RATE * 80 // 1000)
    player.pause()
    assert player.interrupt() is handle
    assert handle.heard_at_stop == RATE * 80 // 1000 and handle.interrupted
    assert not player.paused


async def test_a_new_item_waits_while_paused() -> None:
    output = PlayedOutput(queue_ms=200)
    player, finished = _player(output)
    first = player.play("a", 0, "resp")
    player.push(first, ramp(FRAME * 5))
    player.end_input(first)
    await wait_until(lambda: output.queued_samples > 0)
    player.pause()
    second = player.play("b", 0, "resp")
    player.push(second, ramp(FRAME * 5))
    player.end_input(second)
    assert output.held == b""
    player.resume()
    while len(finished) < 2:
        await wait_until(lambda: output.queued_samples > 0 or len(finished) == 2)
        output.play(output.queued_samples)
    assert finished == [first, second]
    assert bytes(output.heard) == ramp(FRAME * 5) * 2


async def test_a_listener_a_whole_queue_behind_hears_all_of_it_after_a_clear() -> None:
    """On a busy loop the room's listener can be a whole queue behind the native source:
    everything cleared was already sent on, and is heard after the clear. A resume counts
    it as heard (else it is played twice), so the speaker must recognise all of it."""
    speaker = LocalSpeaker(RATE, queue_ms=100)
    speaker._listener.cancel()  # this test is the listener: frames arrive when it says
    pcm = ramp(RATE // 10)  # 100 ms: the whole queue, ten 10 ms frames
    try:
        await speaker.write(pcm)
        speaker.clear()
        step = RATE // 100 * 2
        for i in range(0, len(pcm), step):
            speaker._hear(pcm[i : i + step])
        assert speaker.heard_after_clear_samples == RATE // 10
    finally:
        await speaker.aclose()
