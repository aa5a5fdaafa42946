"""Playout invariants the property test reaches only by chance, pinned down here: the
padded tail is never reported as heard, a response's end ends its audio, and neither audio
of a response the user barged in on nor late audio of an item already played plays."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import pytest

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.pytest_plugin import Harness
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import (
    AgentOptions,
    AudioDelta,
    InputAudioCommitted,
    InputSpeechStarted,
    InputSpeechStopped,
    RealtimeAgent,
    ResponseCreated,
    ResponseDone,
)
from turnstile.machine._playout import FRAME_MS, Player

from ._property_world import CountingRoom, CountingSpeaker
from ._util import wait_until
from .test_player import RATE, RecordingOutput

FRAME = RATE * FRAME_MS // 1000


async def test_a_padded_tail_heard_before_the_player_wakes_counts_only_what_was_received() -> None:
    output = RecordingOutput(queue_ms=1000)
    player = Player(output, on_started=lambda h: None, on_finished=lambda h: None)
    handle = player.play("item", 0, "resp")
    received = 2 * FRAME + FRAME // 2  # 25 ms: the last frame is half padding
    player.push(handle, pcm_tone(25))
    player.end_input(handle)
    await wait_until(lambda: output.queued_samples == 3 * FRAME)  # the tail went out padded
    # The listener hears all three frames; the player's task has not woken to it yet, so
    # the item is still the one playing. A barge-in now reads the heard position.
    output.play(output.queued_samples)
    assert player.heard_samples(handle) == received
    assert player.interrupt() is handle
    assert handle.heard_at_stop == received


async def test_a_barge_in_on_the_padded_tail_truncates_at_the_audio_received() -> None:
    """The same through the agent and a real room: the user barges in the moment the
    listener has heard the padded last frame, before the player wakes to it."""
    provider, room = ScriptedRealtime(), CountingRoom()
    agent = RealtimeAgent(provider)
    await agent.start(room)
    try:
        await agent.wait_for_state("listening")
        s, speaker = provider.last_session, room.speaker
        assert isinstance(speaker, CountingSpeaker)
        barged = asyncio.Event()

        def on_heard() -> None:
            if speaker.heard_samples >= 3 * FRAME and not barged.is_set():
                barged.set()  # next in the loop: before the player wakes to the drained room
                asyncio.get_running_loop().call_soon(s.emit, InputSpeechStarted())

        speaker.on_heard = on_heard
        s.start_audio_response(pcm_tone(25))  # content and response done: the tail goes out
        await asyncio.wait_for(barged.wait(), 5)
        await agent.wait_for_state("listening")
        assert s.last("truncate").args["audio_end_ms"] == 25  # not 30: padding is not speech
    finally:
        await agent.aclose()
        await room.aclose()


async def test_response_done_ends_the_audio_of_its_items(turnstile_harness: Harness) -> None:
    """OpenAI may end a response without a content-part done for its audio (a cancel, a
    drop): the response's end is the end of its audio, or the agent speaks forever."""
    h = turnstile_harness
    said: list[str] = []
    h.agent.on("agent_speech_committed", said.append)
    rid, _ = h.session.start_audio_response(pcm_tone(100), transcript="all of it", done=False)
    assert h.agent.state == "speaking"
    h.session.emit(ResponseDone(response_id=rid))  # no ResponseContentDone for the item
    # 100 ms of audio: far less than any stall watchdog (seconds) would need to step in.
    await h.agent.wait_for_state("listening", timeout=2)
    assert said == ["all of it"]  # played to its end, not abandoned
    assert h.room.speaker.heard_samples >= RATE * 100 // 1000


async def test_audio_of_a_response_barged_in_on_before_its_audio_never_plays(
    turnstile_harness: Harness,
) -> None:
    """The user barges in while the agent thinks, then finishes their turn; the cancelled
    response's first audio, sent before the server saw the cancel, arrives after that."""
    h = turnstile_harness
    s = h.session
    s.emit(ResponseCreated(response_id="r1"))
    assert h.agent.state == "thinking"
    s.emit(InputSpeechStarted())  # r1 is cancelled
    s.emit(InputSpeechStopped(), InputAudioCommitted(item_id="u2"))
    assert h.agent.state == "thinking"  # waiting for the answer to the new turn
    s.emit(AudioDelta(response_id="r1", item_id="i1", data=pcm_tone(100)))
    assert h.agent.state == "thinking"
    assert h.agent._runtime.player is not None and not h.agent._runtime.player.playing


async def test_late_audio_of_a_played_item_is_not_played_again_in_the_next_turn(
    turnstile_harness: Harness,
) -> None:
    """A delta of an item already played to its end arrives while the next response is
    under way (the agent thinking, so audio would start playing): it is dropped."""
    h = turnstile_harness
    s = h.session
    said: list[str] = []
    h.agent.on("agent_speech_committed", said.append)
    rid, iid = s.start_audio_response(pcm_tone(60), transcript="once")
    await h.agent.wait_for_state("listening", timeout=2)
    assert said == ["once"]
    s.emit(ResponseCreated(response_id="r2"))
    assert h.agent.state == "thinking"
    s.emit(AudioDelta(response_id=rid, item_id=iid, data=pcm_tone(60)))
    assert h.agent.state == "thinking"
    assert h.agent._runtime.player is not None and not h.agent._runtime.player.playing


async def test_a_write_the_room_refuses_is_logged_and_survived(caplog: pytest.LogCaptureFixture) -> None:
    """LiveKit's AudioSource.capture_frame can raise ("InvalidState - failed to capture
    frame": seen in the property test after drops and barge-ins cleared the queue under a
    pending capture). Bad output is logged and survived; no exception escapes a task."""
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, options=AgentOptions(playout_stall_timeout_s=0.3))
    await agent.start(room)
    try:
        await agent.wait_for_state("listening")
        s, speaker = provider.last_session, room.speaker
        write, refused = speaker.write, []

        async def refuse_once(pcm: bytes) -> None:
            if not refused:
                refused.append(pcm)
                raise Exception("an RtcError occurred: InvalidState - failed to capture frame")
            await write(pcm)

        speaker.write = refuse_once  # type: ignore[method-assign]
        rid, _ = s.start_audio_response(pcm_tone(100), done=False)
        await wait_until(lambda: bool(refused))
        s.emit(AudioDelta(response_id=rid, item_id="i2", data=pcm_tone(100)))  # more audio comes
        s.finish_response(rid, "i2")
        await agent.wait_for_state("listening", timeout=3)
    finally:
        await agent.aclose()
        await room.aclose()
    gc.collect()  # a task that died unretrieved reports so when it is collected
    loop.set_exception_handler(None)
    assert not loop_errors, loop_errors
    assert any("failed to capture frame" in (r.getMessage() + str(r.exc_info and r.exc_info[1]))
               for r in caplog.records if r.levelno >= logging.WARNING), caplog.text
