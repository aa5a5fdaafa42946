"""Every state but listening and closed has a declared way out: a server or a room that goes
quiet never leaves the agent initializing, thinking or speaking (and publishing it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import (
    AgentOptions,
    AudioDelta,
    RealtimeAgent,
    ResponseCreated,
)

from ._util import Errors

SHORT = 0.1
RATE = 24000


@pytest_asyncio.fixture
async def start() -> AsyncIterator[Any]:
    made: list[tuple[RealtimeAgent, LocalRoom]] = []

    async def _start(*, ready: bool = True, tools: list[Any] | None = None, **options: Any) -> Any:
        provider, room = ScriptedRealtime(ready_on_connect=ready), LocalRoom()
        agent = RealtimeAgent(provider, tools=tools or [], options=AgentOptions(**options))
        errors = Errors(agent)
        made.append((agent, room))
        await agent.start(room)
        await provider.last_session.wait_sent("connect")
        if ready:
            await agent.wait_for_state("listening")
        return agent, provider.last_session, errors

    yield _start
    for agent, room in made:
        await agent.aclose()
        await room.aclose()


async def test_a_response_that_stops_streaming_before_audio_is_abandoned(start: Any) -> None:
    agent, session, errors = await start(response_stall_timeout_s=SHORT)
    agent.generate_reply()
    session.emit(ResponseCreated(response_id="r1"))  # ... and then nothing more
    assert agent.state == "thinking"
    await agent.wait_for_state("listening", timeout=2)
    assert errors.codes == ["response_stalled"] and errors.seen[0].recoverable
    assert session.names()[-1] == "cancel_response"
    agent.trace.assert_path("initializing", "listening", "thinking", "listening")
    assert {"no_response", "no_tools"} <= set(agent.configuration)  # nothing waits on it


async def test_a_stall_mid_audio_is_cut_at_what_was_heard_after_the_audio_already_sent(
    start: Any,
) -> None:
    agent, session, errors = await start(response_stall_timeout_s=SHORT)
    interrupted: list[str] = []
    agent.on("agent_speech_interrupted", interrupted.append)
    # 600 ms arrives at once, then the server goes quiet without finishing the response.
    _, iid = session.start_audio_response(pcm_tone(600), transcript="one two three", done=False)
    await agent.wait_for_state("speaking")
    await agent.wait_for_state("listening", timeout=3)
    assert errors.codes == ["response_stalled"]
    truncate = session.last("truncate")
    # The stall deadline (100 ms) passed long before the 600 ms had played: it waits for
    # what came to be played, and only then gives up; nothing heard is cut off early.
    assert truncate.args["item_id"] == iid and truncate.args["audio_end_ms"] == 600
    assert interrupted and interrupted[0].endswith("...")
    agent.trace.assert_visits("speaking", "interrupted", "listening")


async def test_a_model_that_stops_streaming_is_not_blamed_on_the_room(start: Any) -> None:
    # The playout deadline is the shorter one here: a starved player (waiting for the
    # model, with nothing queued in the room) must still be reported as the response's stall.
    agent, session, errors = await start(response_stall_timeout_s=0.6, playout_stall_timeout_s=0.2)
    session.start_audio_response(pcm_tone(200), transcript="and then", done=False)
    await agent.wait_for_state("speaking")
    await agent.wait_for_state("listening", timeout=3)
    assert errors.codes == ["response_stalled"]


async def test_one_audio_delta_for_an_unknown_item_does_not_leave_it_speaking(start: Any) -> None:
    agent, session, errors = await start(response_stall_timeout_s=SHORT)
    committed: list[str] = []
    agent.on("agent_speech_committed", committed.append)
    rid, _ = session.start_audio_response(pcm_tone(300), transcript="a whole answer", done=False)
    # One delta for an item no response announced, and nothing more of it, ever.
    session.emit(AudioDelta(response_id="unannounced", item_id="stray", data=pcm_tone(100)))
    session.finish_response(rid, None)
    await agent.wait_for_state("speaking")
    await agent.wait_for_state("listening", timeout=3)
    assert errors.codes == ["response_stalled"]
    assert committed == ["a whole answer"]  # the real answer played out whole first
    assert agent.published_state == "listening"


async def test_a_room_that_stops_taking_audio_is_a_playout_stall(start: Any) -> None:
    agent, session, errors = await start(playout_stall_timeout_s=SHORT)
    room_speaker = agent.link.output  # type: ignore[union-attr]
    room_speaker.stall()  # type: ignore[attr-defined]
    session.start_audio_response(pcm_tone(1000), transcript="never heard")
    await agent.wait_for_state("speaking")
    await agent.wait_for_state("listening", timeout=3)
    assert errors.codes == ["playout_stalled"]
    # Nothing was heard: the item is deleted rather than truncated at 0 ms.
    assert "delete_item" in session.names()
    agent.trace.assert_visits("speaking", "interrupted", "listening")


async def test_slow_but_flowing_audio_is_not_a_stall(start: Any) -> None:
    # The playout deadline must outlast the room's own queue (LocalRoom's is 100 ms, as
    # the agent waits for it to drain at the end): 300 ms here, 5 s by default.
    agent, session, errors = await start(response_stall_timeout_s=SHORT, playout_stall_timeout_s=0.3)
    committed: list[str] = []
    agent.on("agent_speech_committed", committed.append)
    session.start_audio_response(pcm_tone(1200), transcript="all of it")  # 4x the deadlines
    await agent.wait_for_state("speaking")
    await agent.wait_for_state("listening", timeout=3)
    assert errors.codes == [] and committed == ["all of it"]


async def test_a_session_that_never_becomes_ready_is_reconnected_then_ends(start: Any) -> None:
    agent, session, errors = await start(ready=False, session_timeout_s=SHORT)
    await errors.wait_for("session_timeout", count=2)
    # Each time the deadline passes, the connection is dropped and made anew (the
    # provider's retry bound ends a server that never gets ready in a fatal error).
    assert session.names().count("reconnect") >= 2
    assert agent.state == "initializing"
    assert agent.trace.transitions.count(("session_timeout", "initializing", "initializing")) >= 2


async def test_a_hung_tool_is_cancelled_and_answered_with_an_error(start: Any) -> None:
    cancelled = asyncio.Event()

    async def lookup(city: str) -> str:
        """Never returns."""
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        return city

    agent, session, errors = await start(tools=[lookup], tool_timeout_s=SHORT)
    session.tool_call("lookup", '{"city": "Paris"}')
    assert agent.state == "thinking"
    await session.wait_sent("send_tool_outputs", timeout=3)
    assert cancelled.is_set()
    (out,) = session.last("send_tool_outputs").args["outputs"]
    assert out.is_error and "did not return within 0.1 s" in out.output
    await session.wait_sent("create_response")  # the model is asked to answer it
    assert "tool_timeout" in errors.codes
    assert ("tool_timeout", "running", "running") in agent.trace.region("tools").transitions


async def test_no_deadline_fires_after_close(start: Any) -> None:
    agent, session, _errors = await start(response_stall_timeout_s=SHORT, response_timeout_s=SHORT)
    agent.generate_reply()
    session.emit(ResponseCreated(response_id="r1"))
    await agent.aclose()
    rt = agent._runtime
    assert not any(d.armed for d in (rt.response_deadline, rt.stream_deadline,
                                     rt.playout_deadline, rt.session_deadline))
