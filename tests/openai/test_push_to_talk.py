"""Push-to-talk on OpenAI, end to end: the real agent and adapter, over a real socket, against
the loopback Realtime server (turn_detection off). The server's record says what each
committed turn was made of, so the test sees which audio became the turn."""

from __future__ import annotations

import pytest

from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import CallerTurn, ModelReply, Scenario
from turnstile.machine import AgentOptions

from .._loopback_call import LoopbackCall, openai_loopback
from .._util import wait_until

RATE = 24000


class Call(LoopbackCall):
    def __init__(
        self, server: OpenAIRealtimeServer, dialect: str, options: AgentOptions | None = None, **kw: object
    ) -> None:
        super().__init__(openai_loopback(server, dialect, **kw), RATE, options=options)


def steps(*replies: str) -> Scenario:
    return Scenario(steps=[s for r in replies for s in (CallerTurn(transcript="Over."), ModelReply(transcript=r))])


def sent(server: OpenAIRealtimeServer) -> list[str]:
    return [e.type for e in server.received[0] if e.type != "input_audio_buffer.append"]


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_the_audio_between_press_and_release_is_the_turn_answered(dialect: str) -> None:
    async with OpenAIRealtimeServer(steps("Roger that.")) as server, \
            Call(server, dialect, turn_detection=None) as call:
        await call.say(300)  # before the press: not the turn
        call.agent.start_user_turn()
        await call.say(700)
        call.agent.commit_user_turn()
        await wait_until(lambda: call.spoken == ["Roger that."], timeout=10)
        record = server.connections[0]
        assert list(record.user_audio_ms.values()) == [700]  # exactly what was said while pressed
        assert sent(server)[-3:] == ["input_audio_buffer.clear", "input_audio_buffer.commit", "response.create"]
        assert call.errors == []


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_a_cleared_turn_never_reaches_the_model(dialect: str) -> None:
    async with OpenAIRealtimeServer(steps("Only the second.")) as server, \
            Call(server, dialect, turn_detection=None) as call:
        call.agent.start_user_turn()
        await call.say(400)
        call.agent.clear_user_turn()  # thrown away: no commit, no answer
        call.agent.start_user_turn()
        await call.say(600)
        call.agent.commit_user_turn()
        await wait_until(lambda: call.spoken == ["Only the second."], timeout=10)
        assert list(server.connections[0].user_audio_ms.values()) == [600]
        assert sent(server)[1:] == ["input_audio_buffer.clear"] * 3 + ["input_audio_buffer.commit", "response.create"]
        assert call.errors == []


async def test_the_press_stops_the_agent_at_once() -> None:
    long = "A long answer that the caller cuts short by pressing the button to talk."
    async with OpenAIRealtimeServer(steps(long, "Yes?"), pace=1.0) as server, \
            Call(server, "ga", turn_detection=None) as call:
        call.agent.start_user_turn()
        await call.say(300)
        call.agent.commit_user_turn()
        await wait_until(lambda: call.room.speaker.heard_samples > RATE // 2, timeout=10)
        call.agent.start_user_turn()
        await call.agent.wait_for_state("listening")
        await wait_until(lambda: len(call.spoken) == 1)
        assert call.spoken[0].endswith("...")  # cut where it was heard
        await call.say(300)
        call.agent.commit_user_turn()
        await wait_until(lambda: call.spoken[1:] == ["Yes?"], timeout=10)
        types = sent(server)
        press = types.index("input_audio_buffer.clear", 2)
        assert types[press:press + 3] == ["input_audio_buffer.clear", "response.cancel", "conversation.item.truncate"]
        assert call.errors == []

