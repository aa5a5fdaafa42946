"""Which participant the link hears, and following their microphone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from livekit import rtc

from turnstile.adapters.livekit import FakeRoom, LiveKitLink

from . import frame_at, frames_without, livekit_room, speaking

ALICE, BOB, CAROL = 1000, 2000, 3000


@pytest_asyncio.fixture
async def room() -> AsyncIterator[FakeRoom]:
    r = FakeRoom()
    yield r
    await r.close_audio()


async def link(room: FakeRoom, participant: str | None = None) -> LiveKitLink:
    return await asyncio.wait_for(livekit_room(room).link(participant, output_sample_rate=24000), 5)


async def still_waiting(task: asyncio.Task[LiveKitLink]) -> bool:
    done, _ = await asyncio.wait([task], timeout=0.05)
    return not done


async def test_links_the_named_participant(room: FakeRoom) -> None:
    alice = room.join("alice").publish_microphone()
    bob = room.join("bob").publish_microphone()
    lk = await link(room, "bob")
    assert lk.participant == "bob"
    frames = lk.audio_frames(48000)
    async with speaking(alice, ALICE), speaking(bob, BOB):
        await frame_at(frames, BOB)
        await frames_without(frames, ALICE)
    await lk.aclose()


async def test_links_the_first_person_and_never_another_agent(room: FakeRoom) -> None:
    room.join("other-agent", kind=rtc.ParticipantKind.PARTICIPANT_KIND_AGENT).publish_microphone()
    room.join("alice").publish_microphone()
    room.join("bob").publish_microphone()
    lk = await link(room)
    assert lk.participant == "alice"
    await lk.aclose()


async def test_waits_for_the_next_to_join(room: FakeRoom) -> None:
    task = asyncio.get_running_loop().create_task(link(room))
    assert await still_waiting(task)
    carol = room.join("carol")
    lk = await task
    assert lk.participant == "carol" and lk.linked
    # The microphone comes later; the same iterator picks it up.
    frames = lk.audio_frames(48000)
    mic = carol.publish_microphone()
    async with speaking(mic, CAROL):
        await frame_at(frames, CAROL)
    await lk.aclose()


async def test_a_named_participant_is_waited_for_and_others_are_not_linked(room: FakeRoom) -> None:
    task = asyncio.get_running_loop().create_task(link(room, "erin"))
    room.join("dave")
    assert await still_waiting(task)
    room.join("erin")
    assert (await task).participant == "erin"
    await (await task).aclose()


async def test_relinks_to_the_next_to_join_after_a_leave(room: FakeRoom) -> None:
    alice = room.join("alice").publish_microphone()
    lk = await link(room)
    frames = lk.audio_frames(48000)
    async with speaking(alice, ALICE):
        await frame_at(frames, ALICE)
    room.join("bob").publish_microphone()  # present, but not the next to join
    room.leave("alice")
    assert not lk.linked and lk.participant == "alice"  # the last one, while waiting
    carol_p = room.join("carol")
    assert lk.linked and lk.participant == "carol"
    carol = carol_p.publish_microphone()
    bob = room.remote_participants["bob"].track_publications
    async with speaking(carol, CAROL), speaking(next(iter(bob.values())), BOB):
        await frame_at(frames, CAROL)  # the same long-lived iterator
        await frames_without(frames, BOB)
    await lk.aclose()


async def test_resubscription_switches_streams(room: FakeRoom) -> None:
    alice = room.join("alice")
    mic = alice.publish_microphone()
    lk = await link(room)
    frames = lk.audio_frames(48000)
    async with speaking(mic, ALICE):
        await frame_at(frames, ALICE)
        mic.replace_audio()  # the renewed subscription carries different audio
        alice.resubscribe(mic)
        async with speaking(mic, CAROL):
            await frame_at(frames, CAROL)
            await frames_without(frames, ALICE)  # the old track is no longer read
    await lk.aclose()


async def test_follows_unpublish_and_a_new_microphone(room: FakeRoom) -> None:
    alice = room.join("alice")
    mic = alice.publish_microphone()
    lk = await link(room)
    frames = lk.audio_frames(48000)
    async with speaking(mic, ALICE):
        await frame_at(frames, ALICE)
        alice.unpublish(mic)
        # A screen-share's audio is not the microphone: still nothing is read from it.
        share = alice.publish_microphone(source=rtc.TrackSource.SOURCE_SCREENSHARE_AUDIO)
        new_mic = alice.publish_microphone()
        async with speaking(share, BOB), speaking(new_mic, CAROL):
            await frame_at(frames, CAROL)
            await frames_without(frames, BOB)
    await lk.aclose()


async def test_subscribes_when_the_room_does_not_auto_subscribe() -> None:
    room = FakeRoom(auto_subscribe=False)
    alice = room.join("alice")
    mic = alice.publish_microphone()
    lk = await link(room)
    assert mic.subscribe_requests == [True] and mic.subscribed
    frames = lk.audio_frames(48000)
    async with speaking(mic, ALICE):
        await frame_at(frames, ALICE)
    later = alice.publish_microphone()  # published while linked: subscribed too
    assert later.subscribe_requests == [True]
    await lk.aclose()
    await room.close_audio()


@pytest.mark.parametrize(("hint", "rate"), [(None, 48000), (24000, 24000), (16000, 16000)])
async def test_frames_come_at_the_rate_hint(room: FakeRoom, hint: int | None, rate: int) -> None:
    mic = room.join("alice").publish_microphone()
    lk = await link(room)
    frames = lk.audio_frames() if hint is None else lk.audio_frames(hint)
    async with speaking(mic, ALICE):
        frame = await frame_at(frames, ALICE)
    assert frame.sample_rate == rate and frame.num_channels == 1
    await lk.aclose()


@pytest.mark.parametrize(("hint", "ms"), [(None, 10), (50, 50), (100, 100)])
async def test_frames_are_as_long_as_the_frame_hint(room: FakeRoom, hint: int | None, ms: int) -> None:
    # The agent asks for frames as long as the chunks it sends: one trip through the FFI
    # per chunk, not ten.
    mic = room.join("alice").publish_microphone()
    lk = await link(room)
    frames = lk.audio_frames(24000, hint)
    async with speaking(mic, ALICE):
        frame = await frame_at(frames, ALICE)
    assert frame.samples_per_channel == 24000 * ms // 1000
    await lk.aclose()


async def test_frames_end_when_the_room_disconnects(room: FakeRoom) -> None:
    mic = room.join("alice").publish_microphone()
    lk = await link(room)
    frames = lk.audio_frames(48000)
    async with speaking(mic, ALICE):
        await frame_at(frames, ALICE)
        await room.disconnect()
        with pytest.raises(StopAsyncIteration):
            async with asyncio.timeout(5):
                while True:
                    await anext(frames)
    await lk.aclose()


async def test_a_room_that_disconnects_before_anyone_joins_fails_the_link(room: FakeRoom) -> None:
    task = asyncio.get_running_loop().create_task(link(room))
    assert await still_waiting(task)
    await room.disconnect()
    with pytest.raises(ConnectionError):
        await task
