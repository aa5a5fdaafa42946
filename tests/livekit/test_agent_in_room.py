"""A whole RealtimeAgent through the adapter: the scripted provider on one side, the
stand-in room with real livekit.rtc audio on the other."""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from livekit import rtc

from turnstile.adapters.livekit import FakeRoom, LiveKitLink, worker_entrypoint
from turnstile.adapters.livekit import _room as room_module
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import (
    AGENT_STATE_ATTRIBUTE as STATE,
)
from turnstile.machine import (
    Capabilities,
    InputSpeechStarted,
    InputTranscriptionCompleted,
    RealtimeAgent,
)

from .._util import wait_until
from . import livekit_room, speaking

USER_LEVEL = 1000


@pytest_asyncio.fixture
async def room() -> AsyncIterator[FakeRoom]:
    r = FakeRoom(identity="agent-1")
    yield r
    await r.close_audio()


def _peak(frame: rtc.AudioFrame) -> int:
    return int(np.abs(np.frombuffer(frame.data, np.int16)).max())


async def heard_tone(frames: AsyncIterator[rtc.AudioFrame], timeout: float = 5.0) -> None:
    """Read the agent's track until the tone (not the source's silence) comes through."""
    async with asyncio.timeout(timeout):
        while _peak(await anext(frames)) < 1000:
            pass


async def heard_silence(frames: AsyncIterator[rtc.AudioFrame], timeout: float = 5.0) -> None:
    """Read past what the track still holds of the last answer, to its silence."""
    async with asyncio.timeout(timeout):
        while _peak(await anext(frames)) > 0:
            pass


async def test_a_realtime_agent_talks_through_the_livekit_adapter(room: FakeRoom) -> None:
    mic = room.join("alice").publish_microphone(sample_rate=48000)
    provider = ScriptedRealtime(Capabilities())  # 24 kHz both ways, with truncation
    agent = RealtimeAgent(provider)
    lp = room.local_participant
    async with speaking(mic, USER_LEVEL):
        await agent.start(livekit_room(room))
        link = agent.link
        assert isinstance(link, LiveKitLink) and link.participant == "alice"
        await agent.wait_for_state("listening")
        await lp.wait_attribute(STATE, "listening")
        session = provider.last_session
        # Alice's 48 kHz microphone reaches the provider as 100 ms chunks at 24 kHz.
        await session.wait_audio(5)
        chunk = np.frombuffer(session.audio_chunks[-1], np.int16)
        assert len(chunk) == 2400 and abs(int(np.median(chunk)) - USER_LEVEL) < 50

    # The agent's voice comes out of its published microphone track.
    assert isinstance(link.publication.track, rtc.LocalAudioTrack)
    listener = rtc.AudioStream(link.publication.track, sample_rate=24000, num_channels=1)
    frames = (ev.frame async for ev in listener)
    session.start_audio_response(pcm_tone(300), transcript="Hi there.")
    await agent.wait_for_state("speaking")
    await lp.wait_attribute(STATE, "speaking")
    await heard_tone(frames)
    await agent.wait_for_state("listening", timeout=5)
    await lp.wait_attribute(STATE, "listening")
    # The runtime drove the agent transcription: its words went out on lk.transcription,
    # closed with a final segment once the audio had played.
    agent_streams = [st for st in lp.streams if st.sender_identity == lp.identity]
    assert agent_streams and all(st.info.topic == "lk.transcription" for st in agent_streams)
    assert "".join(st.text for st in agent_streams).strip() == "Hi there."
    final = agent_streams[-1].close_attributes or agent_streams[-1].info.attributes
    assert final["lk.transcription_final"] == "true"
    states = [call[STATE] for call in lp.attribute_calls]
    assert states[0] == "initializing" and states[-2:] == ["speaking", "listening"]

    # A barge-in truncates at what was heard of a long answer.
    await heard_silence(frames)
    session.start_audio_response(pcm_tone(3000), transcript="A long answer.", done=False)
    await agent.wait_for_state("speaking")
    await heard_tone(frames)
    session.emit(InputSpeechStarted())
    truncate = await session.wait_sent("truncate")
    assert 0 < truncate.args["audio_end_ms"] < 1500
    await agent.wait_for_state("listening")

    # The user's transcript: the agent publishes it on its own, for the user's track.
    before = len(lp.streams)
    session.emit(InputTranscriptionCompleted(item_id="item_u", transcript="Thanks, bye."))
    await wait_until(lambda: any(st.sender_identity == "alice" for st in lp.streams[before:]))
    user_stream = next(st for st in lp.streams[before:] if st.sender_identity == "alice")
    assert (user_stream.text, user_stream.info.attributes["lk.segment_id"]) == ("Thanks, bye.", "item_u")

    await listener.aclose()
    sid = link.publication.sid
    await agent.aclose()
    assert lp.unpublished == [sid]
    assert agent.state == "closed"


async def test_an_agent_waits_for_its_participant_and_survives_a_disconnect(room: FakeRoom) -> None:
    provider = ScriptedRealtime(Capabilities())
    agent = RealtimeAgent(provider)
    starting = asyncio.get_running_loop().create_task(agent.start(livekit_room(room), "bob"))
    done, _ = await asyncio.wait([starting], timeout=0.05)
    assert not done  # no bob yet
    room.join("bob").publish_microphone()
    await asyncio.wait_for(starting, 5)
    await agent.wait_for_state("listening")
    await room.local_participant.wait_attribute(STATE, "listening")
    calls = len(room.local_participant.attribute_calls)
    await room.disconnect()
    agent.generate_reply()  # thinking: would be published, but the room is gone
    assert agent.state == "thinking"
    await agent.aclose()
    assert len(room.local_participant.attribute_calls) == calls


class FakeJobContext:
    """What worker_entrypoint uses of livekit-agents' JobContext."""

    def __init__(self, room: FakeRoom) -> None:
        self.room = room
        self.connected_with: Any = None
        self.shutdown_callbacks: list[Any] = []
        self.shutdown_reason: str | None = None

    async def connect(self, *, auto_subscribe: Any = None) -> None:
        self.connected_with = auto_subscribe

    def add_shutdown_callback(self, callback: Any) -> None:
        self.shutdown_callbacks.append(callback)

    def shutdown(self, reason: str = "user requested") -> None:
        self.shutdown_reason = reason


async def test_the_worker_entrypoint_runs_the_agent_in_the_jobs_room(
    room: FakeRoom, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = ScriptedRealtime(Capabilities())
    monkeypatch.setattr(room_module, "make_provider", lambda name: provider)
    agents = types.ModuleType("livekit.agents")
    agents.AutoSubscribe = types.SimpleNamespace(AUDIO_ONLY="audio_only")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "livekit.agents", agents)
    monkeypatch.setenv(room_module.PARTICIPANT_ENV, "alice")
    room.join("bob").publish_microphone()
    ctx = FakeJobContext(room)
    job = asyncio.get_running_loop().create_task(worker_entrypoint(ctx))
    await asyncio.wait([job], timeout=0.05)
    assert not job.done() and room.local_participant.attribute_calls == []  # not bob: alice
    room.join("alice").publish_microphone()
    await room.local_participant.wait_attribute(STATE, "listening")
    assert ctx.connected_with == "audio_only" and len(ctx.shutdown_callbacks) == 1
    await room.disconnect()  # the room ends: the agent closes, the job shuts down
    await asyncio.wait_for(job, 5)
    assert ctx.shutdown_reason == "the agent closed"
