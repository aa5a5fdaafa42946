"""The agent's voice as a published microphone track; attributes, and nothing after a
disconnect."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import cast

import pytest
import pytest_asyncio
from livekit import rtc

from turnstile.adapters.livekit import FakeRoom, LiveKitLink
from turnstile.machine import AGENT_STATE_ATTRIBUTE, AudioOutput, RoomLink, RoomPort

from . import dc, frame_at, livekit_room

RATE = 24000
FRAME = RATE // 100 * 2  # one 10 ms frame of PCM16


@pytest_asyncio.fixture
async def room() -> AsyncIterator[FakeRoom]:
    r = FakeRoom()
    r.join("alice").publish_microphone()
    yield r
    await r.close_audio()


@pytest_asyncio.fixture
async def link(room: FakeRoom) -> AsyncIterator[LiveKitLink]:
    lk = await asyncio.wait_for(livekit_room(room, output_queue_ms=200).link(None, output_sample_rate=RATE), 5)
    yield lk
    await lk.aclose()


async def test_the_adapter_implements_the_ports(room: FakeRoom, link: LiveKitLink) -> None:
    # Checked by a type checker (structural typing); at runtime, that these exist.
    port: RoomPort = livekit_room(room)
    room_link: RoomLink = link
    output: AudioOutput = link.output
    assert callable(port.link) and callable(room_link.audio_frames) and callable(output.write)


async def test_the_voice_is_published_as_a_microphone_track(room: FakeRoom, link: LiveKitLink) -> None:
    (publication,) = room.local_participant.track_publications.values()
    assert publication is cast(object, link.publication)
    assert publication.source == rtc.TrackSource.SOURCE_MICROPHONE
    assert isinstance(publication.track, rtc.LocalAudioTrack) and publication.track is link.speaker.track
    assert "local_track_published" in room.emitted
    # What the agent writes is what the published track carries.
    listener = rtc.AudioStream(publication.track, sample_rate=RATE, num_channels=1)
    frames = (ev.frame async for ev in listener)
    writer = asyncio.get_running_loop().create_task(_write(link, dc(1234, 300, RATE)))
    await frame_at(frames, 1234)
    await writer
    await listener.aclose()


async def _write(link: LiveKitLink, pcm: bytes) -> None:
    for i in range(0, len(pcm), FRAME):
        await link.output.write(pcm[i : i + FRAME])


async def test_the_output_counts_what_it_holds_and_clears(link: LiveKitLink) -> None:
    out = link.output
    assert out.sample_rate == RATE and out.queued_samples == 0
    await _write(link, dc(500, 150, RATE))  # fits the 200 ms queue: returns at once
    queued = out.queued_samples
    assert 0 < queued <= RATE * 150 // 1000
    out.clear()
    assert out.queued_samples == 0
    await asyncio.wait_for(out.wait_for_playout(), 1)  # nothing left to wait for


async def test_wait_for_playout_returns_when_the_audio_has_played(link: LiveKitLink) -> None:
    await _write(link, dc(500, 100, RATE))
    await asyncio.wait_for(link.output.wait_for_playout(), 2)
    assert link.output.queued_samples == 0


async def test_attributes_are_set_on_the_local_participant(room: FakeRoom, link: LiveKitLink) -> None:
    await link.set_attributes({AGENT_STATE_ATTRIBUTE: "listening"})
    await link.set_attributes({AGENT_STATE_ATTRIBUTE: "speaking"})
    assert room.local_participant.attribute_calls == [
        {AGENT_STATE_ATTRIBUTE: "listening"},
        {AGENT_STATE_ATTRIBUTE: "speaking"},
    ]
    assert room.local_participant.attributes[AGENT_STATE_ATTRIBUTE] == "speaking"


async def test_nothing_is_sent_after_the_room_disconnects(room: FakeRoom, link: LiveKitLink) -> None:
    await room.disconnect()
    await link.set_attributes({AGENT_STATE_ATTRIBUTE: "listening"})  # no raise
    assert room.local_participant.attribute_calls == []


async def test_a_failing_update_is_logged_not_raised(
    room: FakeRoom, link: LiveKitLink, caplog: pytest.LogCaptureFixture
) -> None:
    room.local_participant.fail["set_attributes"] = RuntimeError("permission denied")
    with caplog.at_level(logging.WARNING, logger="turnstile.livekit"):
        await link.set_attributes({AGENT_STATE_ATTRIBUTE: "thinking"})
    assert "permission denied" in caplog.text


async def test_closing_the_link_unpublishes_the_voice(room: FakeRoom) -> None:
    lk = await livekit_room(room).link(None, output_sample_rate=RATE)
    sid = lk.publication.sid
    await lk.aclose()
    assert room.local_participant.unpublished == [sid]
    assert room.local_participant.track_publications == {}
