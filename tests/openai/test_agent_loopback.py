"""The real agent with the real OpenAI adapter, over a real socket, against the loopback
Realtime server: a caller speaks into LocalRoom's real microphone track."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import CallerTurn, Scenario, load_scenario
from turnstile.machine import AgentError, RealtimeAgent

from .._loopback_call import LoopbackCall, openai_loopback
from .._util import wait_until

RATE = 24000


def get_weather(city: str) -> str:
    return f"sunny in {city}"


async def say(room: LocalRoom, turn: CallerTurn) -> None:
    pcm = np.frombuffer(turn.audio(), np.int16)
    silence = np.zeros(RATE, np.int16)  # lets the server's VAD hear the end of the turn
    await room.caller.say(np.concatenate([pcm, silence]).tobytes())


class Call(LoopbackCall):
    def __init__(self, server: OpenAIRealtimeServer, dialect: str = "ga", **kw: Any) -> None:
        super().__init__(openai_loopback(server, dialect, **kw), RATE, tools=[get_weather])


def sent_types(server: OpenAIRealtimeServer, connection: int = 0) -> list[str]:
    return [e.type for e in server.received[connection]]


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_the_demo_call_end_to_end(dialect: str) -> None:
    scenario = load_scenario()
    question, barge_in = scenario.steps[1], scenario.steps[4]
    assert isinstance(question, CallerTurn) and isinstance(barge_in, CallerTurn)
    async with OpenAIRealtimeServer(scenario) as server, Call(server, dialect) as call:
        agent = call.agent
        agent.generate_reply()
        await wait_until(lambda: len(call.spoken) == 1, timeout=15)      # the greeting
        await agent.wait_for_state("listening")
        await say(call.room, question)
        await agent.wait_for_state("speaking", timeout=15)               # after the tool
        await wait_until(lambda: call.room.speaker.heard_samples > RATE * 5, timeout=15)
        await say(call.room, barge_in)
        await wait_until(lambda: len(call.spoken) == 3, timeout=20)      # recovered reply
        await agent.wait_for_state("listening", timeout=15)

        sent = sent_types(server)
        assert sent[0] == "session.update"
        assert "conversation.item.truncate" in sent and "response.cancel" not in sent[-3:]
        truncate = next(e for e in server.received[0] if e.type == "conversation.item.truncate")
        assert 0 < truncate.audio_end_ms <= server.audio_sent_ms[truncate.item_id]
        outputs = [e for e in server.received[0] if e.type == "conversation.item.create"]
        assert outputs[0].item.type == "function_call_output" and "Paris" in outputs[0].item.output
        # Text-response recovery: the text item is deleted and audio asked for again.
        i = sent.index("conversation.item.delete")
        assert sent[i + 1] == "response.create"
        assert call.spoken[1].endswith("...") and call.spoken[2].startswith("Tomorrow")
        agent.trace.assert_visits("speaking", "interrupted", "listening", "thinking", "speaking", "listening")
        assert [e.code for e in call.errors] == []


async def test_a_dropped_socket_reconnects_replays_and_listens_again() -> None:
    scenario = Scenario.model_validate({"steps": [
        {"role": "model", "transcript": "This answer will be cut off by a dropped socket, sadly.",
         "faults": {"drop_socket_after_ms": 300}},
    ]})
    async with OpenAIRealtimeServer(scenario) as server, Call(server) as call:
        ctx = call.agent.chat_ctx
        ctx.append(role="user", text="remember me")
        call.agent.set_chat_ctx(ctx)
        call.agent.generate_reply()
        await call.agent.wait_for_state("speaking", timeout=10)
        await call.agent.wait_for_state("initializing", timeout=10)
        await call.agent.wait_for_state("listening", timeout=10)
        # Once, or twice on a loaded machine: a drop before the room played any of the
        # answer leaves the reply owed (nothing heard), it is asked again, and the
        # scenario's step (with its fault) plays again; once heard, never asked again.
        owed = any(r.region == "tools" and r.event == "session_lost" for r in call.agent.trace.records)
        if owed:
            await wait_until(lambda: len(server.connections) == 3 and call.agent.state == "listening",
                             timeout=10)
        assert len(server.connections) == (3 if owed else 2)
        replayed = server.received[1]
        assert replayed[0].type == "session.update"
        assert any(e.type == "conversation.item.create" and e.item.content[0].text == "remember me"
                   for e in replayed[1:])
        assert call.agent.state == "listening"
        assert not call.agent._runtime.player.playing  # type: ignore[union-attr]
        call.agent.trace.assert_visits("speaking", "initializing", "listening")


async def test_after_the_last_retry_the_agent_closes_with_a_fatal_error() -> None:
    server = OpenAIRealtimeServer(load_scenario())
    await server.start()
    call = Call(server, max_retries=2)
    async with call:
        await server.close()  # the server goes away for good
        await call.agent.wait_for_state("closed", timeout=15)
        assert [(e.code, e.recoverable) for e in call.errors][-1] == ("session_lost", False)
        assert call.agent.trace.path[-2:] == ["initializing", "closed"]


async def test_malformed_and_unknown_server_messages_are_counted_and_survived() -> None:
    scenario = Scenario.model_validate({"steps": [
        {"role": "model", "transcript": "Still here.", "faults": {"malformed_message": True}},
    ]})
    async with OpenAIRealtimeServer(scenario) as server, Call(server) as call:
        call.agent.generate_reply()
        await wait_until(lambda: len(call.spoken) == 1, timeout=10)
        session = call.provider.sessions[-1]
        assert session.malformed_events >= 1 and session.unknown_events >= 1
        assert call.spoken == ["Still here."]


async def test_server_error_events_become_agent_errors() -> None:
    scenario = Scenario.model_validate({"steps": [
        {"role": "model", "transcript": "never said",
         "faults": {"error_event": {"code": "server_error", "message": "overloaded"}}},
    ]})
    async with OpenAIRealtimeServer(scenario) as server, Call(server) as call:
        call.agent.generate_reply()
        await wait_until(lambda: bool(call.errors), timeout=10)
        await call.agent.wait_for_state("listening", timeout=10)
        assert any(e.message == "overloaded" or "overloaded" in e.message for e in call.errors)
        assert call.errors[0].recoverable


async def test_a_wrong_key_is_fatal_and_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    async with OpenAIRealtimeServer(load_scenario(), api_key="right-key") as server:
        provider = OpenAIRealtime(api_key="sk-wrong-secret", url=server.url)
        room = LocalRoom()
        agent = RealtimeAgent(provider)
        errors: list[AgentError] = []
        agent.on("error", errors.append)
        await agent.start(room)
        await agent.wait_for_state("closed", timeout=10)
        assert errors and not errors[-1].recoverable
        assert "sk-wrong-secret" not in caplog.text
        assert all("sk-wrong-secret" not in e.message for e in errors)
        await agent.aclose()
        await room.aclose()
