"""Nothing in the conversation is lost or said twice: across a reconnect, a tool still
running, late audio, and calls made in the wrong state."""

from __future__ import annotations

import asyncio
import math

import pytest
from pydantic import ValidationError

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.pytest_plugin import Harness
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import (
    AgentOptions,
    AudioDelta,
    RealtimeAgent,
    ResponseContentDone,
    ResponseCreated,
    SessionLost,
    SessionReady,
)

from ._util import wait_until


async def test_a_tool_running_through_a_drop_is_in_the_replay_and_answered_once() -> None:
    gate = asyncio.Event()

    async def lookup(city: str) -> str:
        await gate.wait()
        return f"sunny in {city}"

    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, tools=[lookup])
    try:
        await agent.start(room)
        await agent.wait_for_state("listening")
        s = provider.last_session
        cid = s.tool_call("lookup", '{"city": "Paris"}')
        # The socket drops while the tool runs: what the new session is given (the chat
        # context it replays) must already hold the call, or its output is refused.
        s.emit(SessionLost(reason="drop"))
        assert agent.state == "initializing"
        calls = [m for m in s.chat_ctx.messages if m.tool_call_id == cid]
        assert [(m.role, m.name) for m in calls] == [("assistant", "lookup")]
        finished = asyncio.Event()
        agent.on("function_calls_finished", lambda outputs: finished.set())
        gate.set()  # returns while the session is down
        await asyncio.wait_for(finished.wait(), 5)
        assert "create_response" not in s.names()  # not into a session that is not ready
        s.emit(SessionReady())
        await s.wait_sent("create_response")
        outputs = [m for m in s.chat_ctx.messages if m.role == "tool"]
        assert [m.text for m in outputs] == ["sunny in Paris"]
        # The reply is answered once: a response beginning and ending asks for no other.
        s.start_audio_response(pcm_tone(100), transcript="It is sunny.")
        await agent.wait_for_state("listening", timeout=3)
        assert s.names().count("create_response") == 1
    finally:
        await agent.aclose()
        await room.aclose()


async def test_a_reply_lost_in_a_drop_is_asked_once_after_reconnect(turnstile_harness: Harness) -> None:
    h = turnstile_harness
    s = h.session
    h.agent.generate_reply()
    s.emit(ResponseCreated(response_id="r1"))  # begun, nothing heard yet
    s.emit(SessionLost(reason="drop"))
    s.emit(SessionReady())
    await s.wait_sent("create_response", count=2)  # the one lost, asked for anew
    # The user speaks meanwhile and the server answers that turn by itself: the reply owed
    # is that answer; when it ends, no third response is asked for.
    s.start_audio_response(pcm_tone(100), transcript="Here you are.")
    await h.agent.wait_for_state("listening", timeout=3)
    assert s.names().count("create_response") == 2


async def test_a_reply_partly_heard_before_a_drop_is_not_said_again(turnstile_harness: Harness) -> None:
    h = turnstile_harness
    s = h.session
    spoken: list[str] = []
    h.agent.on("agent_speech_interrupted", spoken.append)
    s.start_audio_response(pcm_tone(2000), transcript="a long answer cut by the drop", done=False)
    await wait_until(lambda: h.room.speaker.heard_samples > 2400)  # the caller heard some
    s.emit(SessionLost(reason="drop"))
    s.emit(SessionReady())
    await h.agent.wait_for_state("listening")
    assert spoken and spoken[0].endswith("...")
    assert "create_response" not in s.names()


async def test_a_reply_heard_to_the_end_before_its_done_is_not_said_again(
    turnstile_harness: Harness,
) -> None:
    h = turnstile_harness
    s = h.session
    committed: list[str] = []
    h.agent.on("agent_speech_committed", committed.append)
    rid, iid = s.start_audio_response(pcm_tone(200), transcript="all of it", done=False)
    s.emit(ResponseContentDone(response_id=rid, item_id=iid, text="all of it"))
    await h.agent.wait_for_state("thinking", timeout=3)  # played whole; the response not done
    assert committed == ["all of it"]
    s.emit(SessionLost(reason="drop"))  # ... before its response.done / turnComplete
    s.emit(SessionReady())
    assert h.agent.state == "listening"
    assert "create_response" not in s.names()


async def test_late_audio_for_a_finished_item_is_not_played_again(turnstile_harness: Harness) -> None:
    h = turnstile_harness
    s = h.session
    committed: list[str] = []
    h.agent.on("agent_speech_committed", committed.append)
    rid, iid = s.start_audio_response(pcm_tone(100), transcript="once")
    await h.agent.wait_for_state("speaking")
    await h.agent.wait_for_state("listening", timeout=3)
    written = h.room.speaker.written_samples
    s.emit(AudioDelta(response_id=rid, item_id=iid, data=pcm_tone(100)))  # a late duplicate
    assert h.agent.state == "listening"
    assert h.room.speaker.written_samples == written
    assert committed == ["once"]
    assert [m.text for m in h.agent.chat_ctx.messages if m.id == iid] == ["once"]


async def test_generate_reply_while_initializing_waits_for_the_session() -> None:
    provider, room = ScriptedRealtime(ready_on_connect=False), LocalRoom()
    agent = RealtimeAgent(provider)
    try:
        await agent.start(room)
        s = provider.last_session
        await s.wait_sent("connect")
        agent.generate_reply()
        assert "create_response" not in s.names() and agent.state == "initializing"
        s.emit(SessionReady())
        await s.wait_sent("create_response")
        assert s.names().count("create_response") == 1 and agent.state == "thinking"
    finally:
        await agent.aclose()
        await room.aclose()


async def test_start_after_aclose_is_refused_and_opens_nothing() -> None:
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider)
    await agent.aclose()
    with pytest.raises(RuntimeError, match="closed before it started"):
        await agent.start(room)
    assert provider.sessions == []
    await room.aclose()


@pytest.mark.parametrize(
    "bad",
    [
        {"allow_interuptions": False},  # misspelt: refused, not ignored
        {"response_timeout_s": math.nan},
        {"tool_timeout_s": -1},
        {"max_text_response_retries": -2},
        {"input_chunk_ms": 0},
        {"playout_stall_timeout_s": math.inf},
    ],
)
def test_bad_agent_options_are_refused_with_the_name(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as info:
        AgentOptions(**bad)  # type: ignore[arg-type]
    assert next(iter(bad)) in str(info.value)
