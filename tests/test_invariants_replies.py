"""Reply bookkeeping the property test reaches only by chance, pinned down here: a
reconnect forgets the responses that died with the socket; a response that begins ends
the wait for one to begin, and is not timed out by it however it began; a running tool
keeps the agent thinking; a tool that returns mid-response is answered at its end, and
once: a reply the user asks for meanwhile answers it."""

from __future__ import annotations

import asyncio

import pytest

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.pytest_plugin import Harness
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import (
    AgentError,
    AgentOptions,
    FunctionCall,
    RealtimeAgent,
    ResponseCreated,
    ResponseDone,
    SessionLost,
    SessionReady,
    Tool,
    ToolCallsRequested,
)


def add(a: int, b: int) -> int:
    return a + b


async def test_a_reconnect_forgets_the_responses_that_died_with_the_socket(
    turnstile_harness: Harness,
) -> None:
    """A response cut by a drop never sends its response.done on the new connection: if the
    agent still waited on it, every later turn would end in thinking, not listening."""
    h = turnstile_harness
    errors: list[AgentError] = []
    h.agent.on("error", errors.append)
    s = h.session
    s.start_audio_response(pcm_tone(300), done=False)  # under way when the socket drops
    assert h.agent.state == "speaking"
    s.emit(SessionLost(reason="socket closed"))
    s.emit(SessionReady())  # (the unheard reply may be asked for anew: either way...)
    # ...the next response is played, and the agent listens again at once: long before
    # the stall watchdog (15 s by default) would abandon a response it still waited on.
    s.start_audio_response(pcm_tone(100), transcript="after the drop")
    await h.agent.wait_for_state("speaking", timeout=2)
    await h.agent.wait_for_state("listening", timeout=2)
    assert {"no_response", "no_tools"} <= set(h.agent.configuration)  # nothing owed
    assert [e.code for e in errors] == []


async def test_a_response_that_begins_ends_the_wait_for_one_to_begin() -> None:
    """The response deadline is for a response that never begins; once one has begun, the
    stream's own watchdog watches it. Left armed, it would fire on the response under way
    (the runtime ignores it then, which hides the slip from everything but the deadline)."""
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, options=AgentOptions(response_timeout_s=5))
    await agent.start(room)
    await agent.wait_for_state("listening")
    deadline = agent._runtime.response_deadline
    try:
        agent.generate_reply()
        assert agent.state == "thinking" and deadline.armed
        provider.last_session.emit(ResponseCreated(response_id="r1"))
        assert agent.state == "thinking"
        assert not deadline.armed
    finally:
        await agent.aclose()
        await room.aclose()


async def test_the_agent_thinks_while_a_tool_runs_after_its_response_is_done() -> None:
    """The response that asked for a tool ends at once; the tool may take seconds. The
    agent owes a reply all that time: it is thinking (and says so), not listening."""
    gate = asyncio.Event()

    async def lookup() -> str:
        await gate.wait()
        return "found"

    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, tools=[Tool.from_function(lookup)])
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    try:
        s.tool_call("lookup", "{}")  # response.created, the call, response.done
        assert agent.state == "thinking"
        await agent._publisher.settled()  # type: ignore[union-attr]
        assert room.attributes["lk.agent.state"] == "thinking"
        gate.set()
        await s.wait_sent("create_response")  # the tool's reply, asked once it returned
        assert agent.state == "thinking"
        # Listening only once, when the session became ready: never while the tool ran.
        assert [t for t in agent.trace.transitions if t[2] == "listening"] == [
            ("session_ready", "initializing", "listening")]
    finally:
        await agent.aclose()
        await room.aclose()


async def test_a_tool_that_returns_while_its_response_streams_is_answered_at_response_done() -> None:
    """A reply is asked for once nothing is in flight: a tool that returns while its own
    response is still under way gets its reply when that response is done, not never."""
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, tools=[add])
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    try:
        s.emit(ResponseCreated(response_id="r1"))
        call = FunctionCall(call_id="c1", name="add", arguments='{"a": 1, "b": 2}')
        s.emit(ToolCallsRequested(calls=(call,), response_id="r1"))
        await s.wait_sent("send_tool_outputs")
        assert "create_response" not in s.names()  # r1 is still under way
        s.emit(ResponseDone(response_id="r1"))
        assert s.names()[-1] == "create_response"
        assert s.names().count("create_response") == 1
        assert agent.state == "thinking"
    finally:
        await agent.aclose()
        await room.aclose()


async def test_a_response_the_server_begins_on_its_own_is_not_timed_out() -> None:
    """Server VAD answers a turn by itself: response.created arrives while listening, and
    entering thinking arms the wait for a response to begin. The one under way is that
    response: the wait must not give up on it, however long it streams nothing."""
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, options=AgentOptions(response_timeout_s=0.05))
    await agent.start(room)
    await agent.wait_for_state("listening")
    errors: list[AgentError] = []
    agent.on("error", errors.append)
    left = asyncio.Event()
    agent.on("state_changed", lambda old, new, event: left.set())
    try:
        provider.last_session.emit(ResponseCreated(response_id="r1"))
        assert agent.state == "thinking"
        left.clear()
        with pytest.raises(TimeoutError):  # ten deadlines' worth: the state must not change
            await asyncio.wait_for(left.wait(), 0.5)
        assert agent.state == "thinking" and not errors
    finally:
        await agent.aclose()
        await room.aclose()


async def test_a_reply_asked_for_by_the_user_answers_the_tool_outputs_already_sent() -> None:
    """A tool's outputs wait for their response to end; the user asks for a reply first
    (generate_reply cancels that response and asks). That one ask answers the outputs
    too: asking again when the cancelled response ends would make the model answer twice."""
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, tools=[add])
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    try:
        s.emit(ResponseCreated(response_id="r1"))
        call = FunctionCall(call_id="c1", name="add", arguments='{"a": 1, "b": 2}')
        s.emit(ToolCallsRequested(calls=(call,), response_id="r1"))
        await s.wait_sent("send_tool_outputs")
        agent.generate_reply()  # cancels r1, asks
        s.emit(ResponseDone(response_id="r1", status="cancelled"))
        assert s.names().count("create_response") == 1, s.names()
    finally:
        await agent.aclose()
        await room.aclose()
