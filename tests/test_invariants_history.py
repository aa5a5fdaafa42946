"""The conversation replayed to OpenAI after a reconnect carries every tool call and its
output: the server refuses an output whose call it does not know ("Tool call ID ... not
found"), and a model that never sees an output answers without it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.openai._mapping import history_items
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import Scenario
from turnstile.machine import AgentError, ChatContext, ChatMessage, RealtimeAgent, Tool


def _items(events: list[Any]) -> list[tuple[str, str | None]]:
    """(item type, call id) of each conversation.item.create, in order."""
    return [(e.item.type, getattr(e.item, "call_id", None)) for e in events
            if e.type == "conversation.item.create"]


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_history_replays_each_tool_call_then_its_output(dialect: Any) -> None:
    ctx = ChatContext(messages=[
        ChatMessage(role="user", text="weather in Oslo?", id="u1"),
        ChatMessage(role="assistant", text='{"city": "Oslo"}', tool_call_id="c1", name="get_weather"),
        ChatMessage(role="tool", text="sunny", tool_call_id="c1", name="get_weather"),
        ChatMessage(role="assistant", text="It is sunny.", id="a1"),
    ])
    events = history_items(ctx, dialect)
    assert [t for t, _ in _items(events)] == ["message", "function_call", "function_call_output", "message"]
    call, output = events[1].item, events[2].item  # type: ignore[attr-defined]
    assert (call.call_id, call.name, call.arguments) == ("c1", "get_weather", '{"city": "Oslo"}')
    assert (output.call_id, output.output) == ("c1", "sunny")


async def test_a_tool_that_returns_while_the_socket_is_down_reaches_the_model() -> None:
    """Over a real socket: the server drops the connection while a tool runs, the tool
    returns before the agent reconnects, and the replay on the new connection carries the
    call and its output, which the loopback server accepts into its conversation."""
    gate = asyncio.Event()
    ran = asyncio.Event()

    async def get_weather(city: str) -> str:
        ran.set()
        await gate.wait()
        return f"sunny in {city}"

    scenario = Scenario.model_validate({"steps": [
        {"role": "model", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]},
        {"role": "model", "transcript": "It is sunny in Oslo."},
    ]})
    async with OpenAIRealtimeServer(scenario) as server:
        # Backoff of 1 s: the first reconnect waits 0.5 to 1 s, time for the tool to return.
        provider = OpenAIRealtime(api_key="sk-loopback", url=server.url, backoff_base_s=1.0)
        room = LocalRoom(caller_sample_rate=24000)
        agent = RealtimeAgent(provider, tools=[Tool.from_function(get_weather)])
        errors: list[AgentError] = []
        agent.on("error", errors.append)
        finished = asyncio.Event()
        agent.on("function_calls_finished", lambda outputs: finished.set())
        try:
            await agent.start(room)
            await agent.wait_for_state("listening", timeout=10)
            agent.generate_reply()
            await asyncio.wait_for(ran.wait(), 10)
            await server.close_connections()
            await agent.wait_for_state("initializing", timeout=5)
            gate.set()
            await asyncio.wait_for(finished.wait(), 5)
            assert len(server.connections) == 1, "reconnected before the tool returned"
            await agent.wait_for_state("listening", timeout=10)
            assert len(server.connections) == 2
            [call_id] = {cid for t, cid in _items(server.received[1]) if t == "function_call"}
            replayed = _items(server.received[1])
            assert replayed.index(("function_call", call_id)) < replayed.index(("function_call_output", call_id))
            assert not [e for e in errors if e.code == "invalid_value"], errors
        finally:
            await agent.aclose()
            await room.aclose()
