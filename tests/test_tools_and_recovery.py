"""Tools, text-response recovery, replies and dropped sessions through the real runtime."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

import pytest
from pydantic import BaseModel, field_validator

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.pytest_plugin import Harness
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import (
    AgentError,
    AgentOptions,
    FunctionCall,
    InputTranscriptionCompleted,
    RealtimeAgent,
    SessionLost,
    SessionReady,
    Tool,
    Toolbox,
    ToolCallsCancelled,
    ToolCallsRequested,
    ToolOutput,
)

from ._util import wait_until


async def get_weather(city: str, unit: Literal["c", "f"] = "c") -> dict[str, object]:
    """Current weather for a city."""
    return {"city": city, "temp": 21 if unit == "c" else 70}


def add(a: int, b: int) -> int:
    """Add two integers (a plain sync function)."""
    return a + b


def explode(reason: str) -> str:
    raise RuntimeError(f"boom: {reason}")


async def started(provider: ScriptedRealtime, room: LocalRoom, **kw: object) -> RealtimeAgent:
    agent = RealtimeAgent(provider, **kw)  # type: ignore[arg-type]
    await agent.start(room)
    await agent.wait_for_state("listening")
    return agent


def test_functions_become_pydantic_validated_schemas() -> None:
    tool = Tool.from_function(get_weather)
    assert tool.schema.name == "get_weather"
    assert tool.schema.description == "Current weather for a city."
    params = tool.schema.parameters
    assert params["required"] == ["city"]
    assert params["properties"]["city"] == {"type": "string"}
    assert params["properties"]["unit"]["enum"] == ["c", "f"]
    assert params["additionalProperties"] is False
    with pytest.raises(TypeError, match="type hint"):
        Tool.from_function(lambda x: x)


@pytest.mark.parametrize(
    ("name", "arguments", "expected", "is_error"),
    [
        ("add", '{"a": 2, "b": 3}', "5", False),
        ("get_weather", '{"city": "Oslo"}', '{"city": "Oslo", "temp": 21}', False),
        ("add", '{"a": "two", "b": 3}', "invalid arguments for add", True),
        ("add", '{"a": 1}', "invalid arguments for add", True),
        ("add", "not json", "invalid arguments for add", True),
        ("add", "[1, 2]", "invalid arguments for add", True),
        ("get_weather", '{"city": "Oslo", "unit": "k"}', "invalid arguments", True),
        ("nope", "{}", "unknown tool 'nope'", True),
        ("explode", '{"reason": "x"}', "explode failed: RuntimeError: boom: x", True),
    ],
)
async def test_tool_calls_always_end_in_an_output(
    name: str, arguments: str, expected: str, is_error: bool
) -> None:
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = await started(provider, room, tools=[add, get_weather, explode])
    finished: list[list[ToolOutput]] = []
    agent.on("function_calls_finished", finished.append)
    s = provider.last_session
    s.tool_call(name, arguments, call_id="call_1")
    sent = await s.wait_sent("send_tool_outputs")
    [out] = sent.args["outputs"]
    assert out.call_id == "call_1"
    assert out.is_error is is_error
    assert out.output.startswith(expected) if is_error else out.output == expected
    assert finished == [[out]]
    # The model gets to answer the output: a reply is requested once nothing is in flight.
    await s.wait_sent("create_response")
    assert agent.state == "thinking"
    await agent.aclose()
    await room.aclose()


class Address(BaseModel):
    street: str
    zip_code: int

    @field_validator("street")
    @classmethod
    def _not_empty(cls, street: str) -> str:
        if not street:
            raise ValueError("street must not be empty")
        return street


def deliver(city: str, when: int, to: Address | None = None) -> str:
    """A tool that validates data of its own too."""
    if city == "raw":
        Address.model_validate({"street": 12})  # raises pydantic's ValidationError
    return "ok"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"city": 3, "when": "x"}', "invalid arguments for deliver: city: Input should be a valid "
         "string; when: Input should be a valid integer, unable to parse string as an integer"),
        ('{"city": "Oslo", "when": 1, "to": {"street": "", "zip_code": 1}}',
         "invalid arguments for deliver: to.street: street must not be empty"),
        ('{"when": 1}', "invalid arguments for deliver: city: Field required"),
        ("not json", "invalid arguments for deliver: not valid JSON (Expecting value at character 0)"),
        ("[1, 2]", "invalid arguments for deliver: expected a JSON object of named arguments, got an array"),
        ('{"city": "raw", "when": 1}',
         "deliver failed: ValidationError for Address: street: Input should be a valid string; "
         "zip_code: Field required"),
    ],
)
async def test_the_model_reads_a_short_message_naming_the_field_and_the_problem(
    arguments: str, expected: str
) -> None:
    # Not pydantic's text: no "For further information visit https://errors.pydantic.dev",
    # no input values, no "Value error, " prefix; where a tool raised one of its own, too.
    toolbox = Toolbox([deliver])
    out = await toolbox.call("call_1", "deliver", arguments)
    assert out.is_error
    assert out.output == expected
    assert "pydantic.dev" not in out.output and "input_value" not in out.output
    await toolbox.aclose()


async def test_a_tool_reply_waits_for_the_current_playout(turnstile_harness: Harness) -> None:
    h = turnstile_harness
    h.agent.toolbox._tools["add"] = Tool.from_function(add)
    s = h.session
    rid, iid = s.start_audio_response(pcm_tone(300), transcript="Let me add that.", done=False)
    assert h.agent.state == "speaking"
    s.emit(ToolCallsRequested(calls=(FunctionCall(call_id="c1", name="add", arguments='{"a":1,"b":2}'),)))
    s.finish_response(rid, iid, transcript="Let me add that.")
    await s.wait_sent("send_tool_outputs")
    assert h.agent.state == "speaking"
    assert "create_response" not in s.names()  # not while the agent is still speaking
    await h.agent.wait_for_state("thinking")
    assert s.names()[-1] == "create_response"
    h.agent.trace.assert_visits("speaking", "thinking")
    assert ("playout_done", "speaking", "thinking") in h.agent.trace.transitions


async def test_a_cancelled_tool_call_is_not_answered() -> None:
    started_evt = asyncio.Event()

    async def slow() -> str:
        started_evt.set()
        await asyncio.sleep(30)
        return "late"

    provider, room = ScriptedRealtime(), LocalRoom()
    agent = await started(provider, room, tools=[Tool.from_function(slow, name="slow")])
    s = provider.last_session
    s.tool_call("slow", "{}", call_id="c9")
    await asyncio.wait_for(started_evt.wait(), 5)
    s.emit(ToolCallsCancelled(call_ids=("c9",)))
    await asyncio.wait_for(asyncio.gather(*agent._runtime._tool_batches), 5)
    assert "send_tool_outputs" not in s.names()
    await agent.aclose()
    await room.aclose()


async def test_text_responses_are_recovered_then_reported() -> None:
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = await started(provider, room, options=AgentOptions(max_text_response_retries=2))
    errors: list[AgentError] = []
    agent.on("error", errors.append)
    s = provider.last_session
    agent.generate_reply()
    s.text_response("I am text 1")
    s.text_response("I am text 2")
    assert s.names().count("recover_from_text_response") == 2
    assert agent.state == "thinking" and not errors
    _, _iid = s.text_response("I am text 3")
    assert agent.state == "listening"
    assert s.names().count("recover_from_text_response") == 2
    assert [(e.code, e.recoverable) for e in errors] == [("text_response", True)]
    assert agent.chat_ctx.messages[-1].text == "I am text 3"  # kept, not lost
    # An audio answer resets the count.
    agent.generate_reply()
    s.text_response("again text")
    assert agent.state == "thinking"
    await agent.aclose()
    await room.aclose()


async def test_generate_reply_on_duplicate(turnstile_harness: Harness) -> None:
    from turnstile.machine import ResponseCreated

    h = turnstile_harness
    s = h.session
    s.emit(ResponseCreated(response_id="r1"))
    h.agent.generate_reply(on_duplicate="cancel_new")
    assert "create_response" not in s.names()
    h.agent.generate_reply(on_duplicate="keep_both")
    assert s.names() == ["connect", "create_response"]
    h.agent.generate_reply()  # cancel_existing
    assert s.names()[-2:] == ["cancel_response", "create_response"]


async def test_manual_turns_commit_before_a_reply() -> None:
    from turnstile.machine import Capabilities

    provider = ScriptedRealtime(Capabilities(server_turn_detection=False, replies_to_turns=False))
    room = LocalRoom()
    agent = await started(provider, room)
    agent.generate_reply()  # the agent speaks first: nothing said, nothing to commit
    assert provider.last_session.names()[-1:] == ["create_response"]
    assert "commit_audio" not in provider.last_session.names()
    fwd = agent.forwarder
    assert fwd is not None
    said = asyncio.create_task(room.caller.say(pcm_tone(300, sample_rate=48000)))
    await wait_until(lambda: fwd.sent_chunks > 0, timeout=5)  # the user's manual turn
    agent.generate_reply()
    assert provider.last_session.names()[-2:] == ["commit_audio", "create_response"]
    await said
    await agent.aclose()
    await room.aclose()


async def test_user_transcripts_are_committed(turnstile_harness: Harness) -> None:
    h = turnstile_harness
    said: list[str] = []
    h.agent.on("user_speech_committed", said.append)
    h.session.emit(InputTranscriptionCompleted(item_id="u1", transcript="hello agent"))
    assert said == ["hello agent"]
    assert h.agent.chat_ctx.messages[-1].model_dump(include={"role", "text", "id"}) == {
        "role": "user",
        "text": "hello agent",
        "id": "u1",
    }


async def test_a_dropped_session_stops_playout_and_recovers(turnstile_harness: Harness) -> None:
    h = turnstile_harness
    s = h.session
    s.start_audio_response(pcm_tone(1000), transcript="a long answer", done=False)
    assert h.agent.state == "speaking"
    s.emit(SessionLost(reason="socket closed"))
    assert h.agent.state == "initializing"
    assert not h.agent._runtime.player.playing  # type: ignore[union-attr]
    assert h.agent.forwarder is not None and not h.agent.forwarder.ready
    s.emit(SessionReady())
    assert h.agent.forwarder.ready
    # None of the answer was heard: it is owed, and asked for once the session is back.
    assert h.agent.state == "thinking" and s.names().count("create_response") == 1
    h.agent.trace.assert_visits("speaking", "initializing", "listening", "thinking")


async def test_losing_the_session_for_good_is_a_non_recoverable_error(
    turnstile_harness: Harness,
) -> None:
    h = turnstile_harness
    errors: list[AgentError] = []
    h.agent.on("error", errors.append)
    h.session.emit(SessionLost(reason="gone", will_reconnect=False))
    assert [(e.code, e.recoverable) for e in errors] == [("session_lost", False)]
    assert h.agent.state == "closed"
    # The chart closed by itself; closing the agent still releases the provider session.
    await h.agent.aclose()
    assert h.session.closed and [s.name for s in h.session.sent].count("aclose") == 1
    await h.agent.aclose()  # once
    assert [s.name for s in h.session.sent].count("aclose") == 1


async def test_tool_outputs_reach_the_chat_context(turnstile_harness: Harness) -> None:
    h = turnstile_harness
    h.agent.toolbox._tools["add"] = Tool.from_function(add)
    h.session.tool_call("add", json.dumps({"a": 40, "b": 2}), call_id="c2")
    await h.session.wait_sent("send_tool_outputs")
    tool_msgs = [m for m in h.agent.chat_ctx.messages if m.role == "tool"]
    assert [(m.tool_call_id, m.text) for m in tool_msgs] == [("c2", "42")]


async def test_metrics_are_collected_per_response(turnstile_harness: Harness) -> None:
    from turnstile.machine import ResponseDone, ResponseMetrics, Usage

    h = turnstile_harness
    metrics: list[ResponseMetrics] = []
    h.agent.on("metrics_collected", metrics.append)
    rid, _iid = h.session.start_audio_response(pcm_tone(100), done=False)
    usage = Usage(input_tokens=12, output_tokens=30, total_tokens=42, cached_tokens=4,
                  output_audio_tokens=25, output_text_tokens=5)
    h.session.emit(ResponseDone(response_id=rid, usage=usage))
    h.session.emit(ResponseDone(response_id="r-cancelled", status="cancelled"))
    first, second = metrics
    assert first.response_id == rid and first.status == "completed" and not first.cancelled
    assert first.ttfa_s is not None and 0 <= first.ttfa_s <= first.duration_s
    assert (first.input_tokens, first.output_tokens, first.cached_tokens) == (12, 30, 4)
    assert first.output_audio_tokens == 25
    assert second.cancelled and second.ttfa_s is None and second.total_tokens == 0
