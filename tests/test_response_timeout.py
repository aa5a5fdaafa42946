"""``thinking`` never lasts forever: a response that does not begin in time is given up on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime
from turnstile.machine import (
    AgentOptions,
    FunctionCall,
    RealtimeAgent,
    ResponseCreated,
    ToolCallsRequested,
)

from ._util import Errors

DEADLINE_S = 0.1


gate = asyncio.Event()


async def slow_lookup(city: str) -> str:
    """A tool that takes longer than the deadline."""
    await gate.wait()
    return f"sunny in {city}"


@pytest_asyncio.fixture
async def started() -> AsyncIterator[tuple[RealtimeAgent, ScriptedRealtime]]:
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, tools=[slow_lookup], options=AgentOptions(response_timeout_s=DEADLINE_S))
    await agent.start(room)
    await agent.wait_for_state("listening")
    yield agent, provider
    await agent.aclose()
    await room.aclose()


async def test_a_reply_that_never_begins_is_given_up_on(
    started: tuple[RealtimeAgent, ScriptedRealtime],
) -> None:
    agent, provider = started
    errors = Errors(agent)
    agent.generate_reply()  # the provider never answers
    assert agent.state == "thinking"
    await agent.wait_for_state("listening", timeout=2)
    assert [(e.code, e.recoverable) for e in errors.seen] == [("response_timeout", True)]
    agent.trace.assert_path("initializing", "listening", "thinking", "listening")
    # Still a working agent: the next reply is asked for and awaited again.
    agent.generate_reply()
    await provider.last_session.wait_sent("create_response", count=2)
    assert agent.state == "thinking"


async def test_a_response_under_way_is_not_timed_out(
    started: tuple[RealtimeAgent, ScriptedRealtime],
) -> None:
    agent, provider = started
    errors = Errors(agent)
    agent.generate_reply()
    provider.last_session.emit(ResponseCreated(response_id="r1"))  # begun; audio may be slow
    assert await errors.none_within(5 * DEADLINE_S)
    assert agent.state == "thinking"


async def test_a_running_tool_is_waited_for_then_its_reply_is_timed(
    started: tuple[RealtimeAgent, ScriptedRealtime],
) -> None:
    agent, provider = started
    errors = Errors(agent)
    gate.clear()
    call = FunctionCall(call_id="c1", name="slow_lookup", arguments='{"city": "Oslo"}')
    provider.last_session.emit(ToolCallsRequested(calls=(call,)))
    assert agent.state == "thinking"
    assert await errors.none_within(5 * DEADLINE_S)  # the tool runs longer than the deadline
    gate.set()
    await provider.last_session.wait_sent("create_response")  # the tool's reply is asked for...
    await agent.wait_for_state("listening", timeout=2)  # ...and never begins
    assert [e.code for e in errors.seen] == ["response_timeout"]


async def test_without_a_deadline_thinking_waits() -> None:
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, options=AgentOptions(response_timeout_s=None))
    await agent.start(room)
    await agent.wait_for_state("listening")
    agent.generate_reply()
    assert agent.state == "thinking"
    assert not agent._runtime.response_deadline.armed
    await agent.aclose()
    await room.aclose()
