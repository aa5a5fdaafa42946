"""Tests of the LiveKit adapter on the stand-in room, with real livekit.rtc audio.

Participants speak constant levels (a DC signal), so a frame tells whose microphone it
came from; the native pipelines fill gaps with silence, so a level of 0 is "no one".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import numpy as np
from livekit import rtc

from turnstile.adapters.livekit import FakeRoom, FakeTrackPublication, LiveKitRoom

__all__ = ["dc", "frame_at", "frames_without", "level", "livekit_room", "speaking"]


def livekit_room(room: FakeRoom, **options: Any) -> LiveKitRoom:
    """The adapter on the stand-in, typed as the ``rtc.Room`` it stands in for."""
    return LiveKitRoom(cast(rtc.Room, room), **options)


def dc(value: int, ms: int, rate: int) -> bytes:
    return np.full(rate * ms // 1000, value, np.int16).tobytes()


def level(frame: rtc.AudioFrame) -> int:
    """The frame's typical sample: a speaker's constant level, or 0 for silence."""
    return int(np.median(np.frombuffer(frame.data, np.int16)))


@contextlib.asynccontextmanager
async def speaking(publication: FakeTrackPublication, value: int) -> AsyncIterator[None]:
    """The participant keeps speaking ``value`` into the publication's current audio
    source until the block ends (a later ``replace_audio`` does not redirect it)."""
    rate = publication.sample_rate
    chunk, source = dc(value, 50, rate), publication.audio

    async def talk() -> None:
        while True:
            await _say(source, chunk, rate)

    task = asyncio.get_running_loop().create_task(talk())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _say(source: rtc.AudioSource, pcm: bytes, rate: int) -> None:
    step = rate // 100 * 2
    for i in range(0, len(pcm), step):
        await source.capture_frame(rtc.AudioFrame(pcm[i : i + step], rate, 1, step // 2))


async def frame_at(frames: AsyncIterator[rtc.AudioFrame], value: int, *, timeout: float = 5.0) -> rtc.AudioFrame:
    """The next frame at ``value``'s level (frames come in real time: 100 a second)."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await anext(frames)
            if abs(level(frame) - value) <= value // 20:
                return frame


async def frames_without(frames: AsyncIterator[rtc.AudioFrame], value: int, *, count: int = 30) -> list[int]:
    """Read ``count`` frames and return their levels, failing if one is at ``value``."""
    levels = []
    async with asyncio.timeout(count / 100 + 5):
        for _ in range(count):
            levels.append(level(await anext(frames)))
    assert all(abs(v - value) > value // 20 for v in levels), f"heard {value} in {levels}"
    return levels
