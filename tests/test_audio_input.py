"""The user's audio: resampled to the provider's rate, sent in 100 ms chunks, held (bounded)
while the session is not ready. The caller speaks through a real livekit.rtc track."""

from __future__ import annotations

from typing import Any

import numpy as np
from livekit import rtc

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import AgentOptions, Capabilities, RealtimeAgent, SessionReady
from turnstile.machine._audio_in import AudioForwarder

from ._util import wait_until


def dominant_hz(pcm: bytes, rate: int) -> float:
    x = np.frombuffer(pcm, np.int16).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


async def test_48k_caller_reaches_a_16k_provider_in_100ms_chunks() -> None:
    provider = ScriptedRealtime(Capabilities(input_sample_rate=16000, supports_truncate=False))
    room = LocalRoom(caller_sample_rate=48000)
    agent = RealtimeAgent(provider)
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    await room.caller.say(pcm_tone(600, sample_rate=48000, freq=440))
    await s.wait_audio(5)
    assert {len(c) for c in s.audio_chunks} == {16000 // 10 * 2}  # 100 ms of PCM16 at 16 kHz
    voiced = b"".join(c for c in s.audio_chunks if np.abs(np.frombuffer(c, np.int16)).max() > 1000)
    assert len(voiced) >= 3 * 3200
    assert abs(dominant_hz(voiced, 16000) - 440) < 15
    await agent.aclose()
    await room.aclose()


async def test_audio_waits_in_a_bounded_buffer_until_the_session_is_ready() -> None:
    provider = ScriptedRealtime(ready_on_connect=False)
    room = LocalRoom(caller_sample_rate=24000)
    agent = RealtimeAgent(provider, options=AgentOptions(input_buffer_ms=300))
    await agent.start(room)
    await provider.last_session.wait_sent("connect")
    await room.caller.say(pcm_tone(800, sample_rate=24000))
    fwd = agent.forwarder
    assert fwd is not None
    # The last of the 800 ms is still in the native pipeline when say() returns.
    await wait_until(lambda: fwd.held_chunks + fwd.dropped_chunks >= 7)
    assert not fwd.ready
    assert provider.last_session.audio_chunks == []  # nothing leaks before ready
    assert fwd.held_chunks == 3                         # 300 ms kept ...
    assert fwd.dropped_chunks >= 4                      # ... the oldest dropped and counted
    provider.last_session.emit(SessionReady())
    assert len(provider.last_session.audio_chunks) >= 3  # the held audio goes first, in order
    await agent.aclose()
    await room.aclose()


def test_forwarder_chunks_exactly_and_downmixes_stereo() -> None:
    sent: list[bytes] = []
    fwd = AudioForwarder(sent.append, sample_rate=24000, buffer_ms=1000)
    fwd.set_ready(True)
    stereo = np.zeros((240, 2), np.int16)
    stereo[:, 0], stereo[:, 1] = 1000, 3000
    frame = rtc.AudioFrame(stereo.tobytes(), 24000, 2, 240)
    for _ in range(25):  # 250 ms of 10 ms frames
        fwd.feed(frame)
    assert [len(c) for c in sent] == [4800, 4800]  # two whole 100 ms chunks, 50 ms pending
    assert set(np.frombuffer(sent[0], np.int16)) == {2000}



class HintedRoom(LocalRoom):
    """LocalRoom, recording the hints the agent gives for its microphone frames."""

    hints: list[tuple[int | None, int | None]]

    async def link(self, participant: str | None, *, output_sample_rate: int) -> Any:
        link = await super().link(participant, output_sample_rate=output_sample_rate)
        frames, self.hints = link.audio_frames, []

        def audio_frames(sample_rate: int | None = None, frame_ms: int | None = None) -> Any:
            self.hints.append((sample_rate, frame_ms))
            return frames(sample_rate, frame_ms)

        link.audio_frames = audio_frames  # type: ignore[method-assign]
        return link


async def test_the_agent_asks_the_room_for_frames_as_long_as_its_chunks() -> None:
    # A LiveKit room frames natively: one frame per chunk sent costs one FFI delivery, not ten.
    provider = ScriptedRealtime(Capabilities(input_sample_rate=16000, supports_truncate=False))
    room = HintedRoom(caller_sample_rate=48000)
    agent = RealtimeAgent(provider, options=AgentOptions(input_chunk_ms=50))
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    await room.caller.say(pcm_tone(300, sample_rate=48000, freq=440))
    await s.wait_audio(5)
    assert room.hints == [(16000, 50)]
    assert {len(c) for c in s.audio_chunks} == {16000 // 20 * 2}  # 50 ms at 16 kHz
    await agent.aclose()
    await room.aclose()
