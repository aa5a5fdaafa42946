"""A tool's result survives the socket dropping while the tool runs, through both loopback
servers over real sockets: the new session gets the call and its output, and the model
answers it once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from turnstile.adapters.gemini import GeminiLive
from turnstile.adapters.gemini._loopback import GeminiLiveServer
from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import Scenario
from turnstile.machine import AgentError, RealtimeAgent

from ._util import wait_until

SCENARIO = Scenario.model_validate({"steps": [
    {"role": "model", "tool_calls": [{"name": "slow_weather", "arguments": {"city": "Paris"}}]},
    {"role": "model", "transcript": "It is sunny in Paris."},
]})  # fmt: skip


def _provider(name: str, server: Any) -> Any:
    if name == "openai":
        return OpenAIRealtime(api_key="sk-loopback", url=server.url, backoff_base_s=0.05)
    return GeminiLive(api_key="g-loopback", url=server.url, backoff_base_s=0.05)


@pytest.mark.parametrize("provider_name", ["openai", "gemini"])
async def test_a_drop_while_a_tool_runs_loses_nothing(provider_name: str) -> None:
    started, gate = asyncio.Event(), asyncio.Event()

    async def slow_weather(city: str) -> str:
        """The weather, slowly."""
        started.set()
        await gate.wait()
        return f"sunny in {city}"

    server_cls = OpenAIRealtimeServer if provider_name == "openai" else GeminiLiveServer
    async with server_cls(SCENARIO) as server:
        room = LocalRoom()
        agent = RealtimeAgent(_provider(provider_name, server), tools=[slow_weather])
        errors: list[AgentError] = []
        spoken: list[str] = []
        agent.on("error", errors.append)
        agent.on("agent_speech_committed", spoken.append)
        try:
            await agent.start(room)
            await agent.wait_for_state("listening", timeout=10)
            agent.generate_reply()
            await asyncio.wait_for(started.wait(), 10)
            await server.close_connections()  # the socket goes while the tool runs
            await wait_until(lambda: len(server.connections) == 2, timeout=10)
            gate.set()
            await wait_until(lambda: spoken == ["It is sunny in Paris."], timeout=15)
            await agent.wait_for_state("listening", timeout=10)
            assert [e.code for e in errors if e.code != "1001"] == []
            if provider_name == "openai":
                # The replay carried the call; the output after it was accepted (no
                # "Tool call ID not found"), and one reply was asked for.
                sent = server.received[1]
                items = [e.item.type for e in sent if e.type == "conversation.item.create"]
                assert items.index("function_call") < items.index("function_call_output")
                assert [e.type for e in sent].count("response.create") == 1
            else:
                # Gemini cannot resume mid tool call: the call and its answer went as history.
                record = server.connections[1]
                assert list(record.unmatched_responses) == []
                contents = [m for m in server.received[1] if type(m).__name__ == "ClientContent"]
                parts = [p for m in contents for t in m.turns or [] for p in t.parts]
                assert any(p.function_response is not None for p in parts)
            assert spoken == ["It is sunny in Paris."]  # answered once
        finally:
            await agent.aclose()
            await room.aclose()
