"""The real agent with the real Gemini Live adapter, over a real socket, against the Gemini
loopback server: a caller speaks into LocalRoom's real microphone track."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

from turnstile.adapters.gemini import GeminiLive
from turnstile.adapters.gemini._loopback import GeminiLiveServer
from turnstile.adapters.gemini._loopback_codec import BAD_KEY
from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scenario import CallerTurn, Scenario, load_scenario
from turnstile.machine import AgentError, RealtimeAgent, Tool

from .._loopback_call import LoopbackCall, gemini_loopback
from .._util import wait_until

RATE = 24000


def get_weather(city: str) -> str:
    return f"sunny in {city}"


async def say(room: LocalRoom, turn: CallerTurn) -> None:
    pcm = np.frombuffer(turn.audio(), np.int16)
    await room.caller.say(np.concatenate([pcm, np.zeros(RATE, np.int16)]).tobytes())


class Call(LoopbackCall):
    def __init__(self, server: GeminiLiveServer, **kw: object) -> None:
        super().__init__(gemini_loopback(server, **kw), RATE, tools=[get_weather])


async def test_the_demo_call_through_gemini() -> None:
    scenario = load_scenario()
    question, barge_in = scenario.steps[1], scenario.steps[4]
    assert isinstance(question, CallerTurn) and isinstance(barge_in, CallerTurn)
    async with GeminiLiveServer(scenario) as server, Call(server) as call:
        agent = call.agent
        agent.generate_reply()
        await wait_until(lambda: len(call.spoken) == 1, timeout=15)   # the greeting, played whole
        await agent.wait_for_state("listening")
        await say(call.room, question)
        await agent.wait_for_state("speaking", timeout=15)            # after the tool
        await wait_until(lambda: call.room.speaker.heard_samples > RATE * 5, timeout=15)
        await say(call.room, barge_in)
        await wait_until(lambda: len(call.spoken) >= 2, timeout=20)
        received = [type(m).__name__ for m in server.received[0]]
        assert received[0] == "Setup"
        assert "ToolResponse" in received
        # The server decided the barge-in; the agent cut its transcript at the heard words,
        # and sent neither cancel nor truncate (Gemini has none).
        assert call.spoken[1].endswith("...")
        agent.trace.assert_visits("speaking", "interrupted", "listening")
        assert [e.code for e in call.errors] == []


async def test_turn_complete_does_not_cut_audio_still_playing() -> None:
    scenario = Scenario.model_validate({"steps": [
        {"role": "model", "transcript": "A reply that streams much faster than it plays, to the very end."},
    ]})
    async with GeminiLiveServer(scenario, pace=20.0) as server, Call(server) as call:
        call.agent.generate_reply()
        await wait_until(lambda: len(call.spoken) == 1, timeout=20)
        reply = scenario.steps[0]
        expected = len(reply.audio()) // 2  # type: ignore[union-attr]
        # The whole reply reached the listener although turnComplete came long before.
        assert call.room.speaker.heard_samples >= expected
        assert not call.spoken[0].endswith("...")


async def test_a_dropped_socket_resumes_with_the_last_handle() -> None:
    scenario = Scenario.model_validate({"steps": [
        {"role": "model", "transcript": "First answer, complete."},
        {"role": "model", "transcript": "This one is cut by a dropped socket.",
         "faults": {"drop_socket_after_ms": 200}},
    ]})
    async with GeminiLiveServer(scenario) as server, Call(server) as call:
        call.agent.generate_reply()
        await wait_until(lambda: len(call.spoken) == 1, timeout=15)
        await call.agent.wait_for_state("listening")
        handle = call.provider.sessions[-1].resumption_handle or call.provider.sessions[-1]._mapper.resumption_handle
        assert handle
        call.agent.generate_reply()
        await call.agent.wait_for_state("initializing", timeout=10)
        await call.agent.wait_for_state("listening", timeout=10)
        setup = server.received[1][0]
        assert type(setup).__name__ == "Setup" and setup.session_resumption.handle == handle


async def test_go_away_is_a_seamless_hand_off_that_keeps_playing() -> None:
    scenario = Scenario.model_validate({"steps": [
        {"role": "model", "transcript": "Hi."},
        {"role": "model", "transcript": "A long answer that keeps playing while the server hands us over."},
    ]})
    async with GeminiLiveServer(scenario, pace=20.0) as server, Call(server) as call:
        call.agent.generate_reply()
        await wait_until(lambda: len(call.spoken) == 1, timeout=10)  # a handle is issued
        await call.agent.wait_for_state("listening", timeout=10)
        call.agent.generate_reply()
        await call.agent.wait_for_state("speaking", timeout=10)
        server.go_away(1.0)
        await wait_until(lambda: len(server.connections) == 2, timeout=10)
        await wait_until(lambda: len(call.spoken) == 2, timeout=20)
        # No session_lost: playout went on, the reply was heard to the end.
        assert "initializing" not in call.agent.trace.path[1:]
        assert not call.spoken[1].endswith("...")
        assert server.received[1][0].session_resumption.handle  # resumed, not restarted
        assert call.errors == []


@pytest.mark.parametrize(("code", "fatal"), [(1011, False), (1007, True)])
async def test_close_codes_become_agent_errors(code: int, fatal: bool) -> None:
    scenario = Scenario.model_validate({"steps": [
        {"role": "model", "transcript": "never heard",
         "faults": {"error_event": {"code": str(code), "message": f"closing with {code}"}}},
        {"role": "model", "transcript": "Back again."},
    ]})
    async with GeminiLiveServer(scenario) as server, Call(server) as call:
        call.agent.generate_reply()
        await wait_until(lambda: bool(call.errors), timeout=10)
        first = call.errors[0]
        assert first.code == str(code) and f"closing with {code}" in first.message
        assert first.recoverable is not fatal
        if fatal:
            await call.agent.wait_for_state("closed", timeout=10)
            # One fatal error, not three (1007, session_lost, connect_failed).
            assert [(e.code, e.recoverable) for e in call.errors] == [("1007", False)]
        else:
            await call.agent.wait_for_state("initializing", timeout=10)
            # Back to listening on a new connection (where the reply none of which was
            # heard is asked for again: this scenario faults it again, and so on, until the
            # retry bound; that is not what this test is about).
            ready = ("session_ready", "initializing", "listening")
            await wait_until(lambda: call.agent.trace.transitions.count(ready) == 2, timeout=10)
            assert len(server.connections) >= 2


async def test_a_session_refused_at_setup_is_one_fatal_error_with_the_servers_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The service checks the key when the setup arrives and closes with 1007 and a reason,
    # while the agent is still connecting: the close, the session lost for good and the
    # failed connect are one ending, reported once.
    async with GeminiLiveServer(load_scenario(), api_key="the-right-key") as server:
        provider = GeminiLive(api_key="a-wrong-key", url=server.url, backoff_base_s=0.05)
        room = LocalRoom()
        agent = RealtimeAgent(provider)
        errors: list[AgentError] = []
        agent.on("error", errors.append)
        await agent.start(room)
        connecting = [t for t in agent._tasks if t.get_name() == "connect"]
        await agent.wait_for_state("closed", timeout=10)
        await asyncio.wait_for(asyncio.gather(*connecting), 10)  # connect() has given up too
        assert [(e.code, e.recoverable) for e in errors] == [("1007", False)]
        assert errors[0].message == (
            f"session lost for good: closed by server (1007 invalid argument): {BAD_KEY}"
        )
        logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(logged) == 1 and BAD_KEY in logged[0].getMessage()
        await agent.aclose()
        await room.aclose()


def weather_report(city: str) -> dict[str, object]:
    return {"city": city, "temp_c": 21, "sky": ["sunny", "clear"]}


def weather_text(city: str) -> str:
    return f"sunny in {city}"


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        (weather_report, {"output": {"city": "Paris", "temp_c": 21, "sky": ["sunny", "clear"]}}),
        (weather_text, {"output": "sunny in Paris"}),
    ],
)
async def test_tool_output_goes_to_gemini_as_an_object_where_the_tool_returned_one(
    tool: object, expected: dict[str, object]
) -> None:
    # FunctionResponse.response is a JSON object whose "output" is the function's output:
    # a dict goes as that dict, not as its JSON text inside a string.
    scenario = Scenario.model_validate({"steps": [
        {"role": "model", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"role": "model", "transcript": "Sunny."},
    ]})
    async with GeminiLiveServer(scenario) as server:
        provider = GeminiLive(api_key="g-loopback", url=server.url)
        room = LocalRoom()
        agent = RealtimeAgent(provider, tools=[Tool.from_function(tool, name="get_weather")])  # type: ignore[arg-type]
        await agent.start(room)
        await agent.wait_for_state("listening", timeout=10)
        agent.generate_reply()
        await wait_until(lambda: any(type(m).__name__ == "ToolResponse" for m in server.received[0]), timeout=10)
        [response] = next(m for m in server.received[0] if type(m).__name__ == "ToolResponse").function_responses
        assert response.name == "get_weather" and response.response == expected
        await agent.aclose()
        await room.aclose()
