"""OpenAIRealtime(agent_decides_turns=True): the server's VAD reports speech but neither
answers a turn nor cuts its own response. On the wire in both dialects, in Capabilities,
and end to end against the loopback server, which honours both settings as the API does."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import pytest

from turnstile.adapters.openai import OpenAIRealtime, ServerVad
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import CallerTurn, ModelReply, Scenario
from turnstile.machine import (
    AgentOptions,
    ChatContext,
    InputAudioCommitted,
    ProviderError,
    ProviderEvent,
    ResponseCreated,
    ResponseDone,
    SessionReady,
)

from .._util import wait_until
from .test_agent_loopback import say
from .test_push_to_talk import Call

RATE = 24000
E = TypeVar("E", bound=ProviderEvent)
FAST_VAD = ServerVad(silence_duration_ms=200)
# The agent makes no barge-in of its own: only the server could cut its answer short.
NO_BARGE_IN = AgentOptions(allow_interruptions=False)


class Events:
    """The session's events as they come, and a wait for the next of a kind."""

    def __init__(self) -> None:
        self.seen: list[ProviderEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: ProviderEvent) -> None:
        self.seen.append(event)
        self._changed.set()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.seen if isinstance(e, kind)]

    async def until(self, kind: type[E], timeout: float = 10.0) -> E:
        async with asyncio.timeout(timeout):
            while not self.of(kind):
                self._changed.clear()
                await self._changed.wait()
        return self.of(kind)[0]


def provider_for(server: OpenAIRealtimeServer, dialect: str, **kw: object) -> OpenAIRealtime:
    if dialect == "beta":
        endpoint = server.azure_url.rsplit("/openai", 1)[0].replace("ws", "http", 1)
        return OpenAIRealtime(api_key="sk-x", azure_endpoint=endpoint, azure_deployment="gpt-realtime", **kw)
    return OpenAIRealtime(api_key="sk-x", url=server.url, **kw)


def turn_detection(server: OpenAIRealtimeServer, dialect: str) -> dict[str, object]:
    update = server.received[0][0].model_dump(mode="json")["session"]
    where = update if dialect == "beta" else update["audio"]["input"]
    td: dict[str, object] = where["turn_detection"]
    return td


def test_capabilities_say_who_decides() -> None:
    default = OpenAIRealtime(api_key="sk-x").capabilities
    assert (default.replies_to_turns, default.holds_playout) == (True, False)  # unchanged by default
    agent = OpenAIRealtime(api_key="sk-x", agent_decides_turns=True).capabilities
    assert (agent.server_turn_detection, agent.replies_to_turns, agent.holds_playout) == (True, False, True)
    # The same from turn_detection's own fields: the adapter reports what goes on the wire.
    fields = OpenAIRealtime(api_key="sk-x", turn_detection=ServerVad(interrupt_response=False)).capabilities
    assert (fields.replies_to_turns, fields.holds_playout) == (True, True)
    manual = OpenAIRealtime(api_key="sk-x", turn_detection=None, agent_decides_turns=True).capabilities
    assert (manual.server_turn_detection, manual.replies_to_turns, manual.holds_playout) == (False, False, False)


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_a_committed_turn_waits_for_the_agent_to_ask(dialect: str) -> None:
    # The session alone, no chart: whatever the agent would do, only the server could answer.
    scenario = Scenario(steps=[CallerTurn(transcript="Hello?"), ModelReply(transcript="Hi, only when asked.")])
    async with OpenAIRealtimeServer(scenario) as server:
        provider = provider_for(server, dialect, agent_decides_turns=True, turn_detection=FAST_VAD)
        events = Events()
        session = provider.session(chat_ctx=ChatContext(), tools=[], on_event=events)
        await session.connect()
        try:
            await events.until(SessionReady)
            td = turn_detection(server, dialect)
            assert (td["create_response"], td["interrupt_response"]) == (False, False)
            turn = scenario.steps[0]
            assert isinstance(turn, CallerTurn)
            pcm = turn.audio() + bytes(2 * RATE // 2)  # and half a second of silence: the VAD commits
            for i in range(0, len(pcm), 4800):
                session.push_audio(pcm[i : i + 4800])
            await events.until(InputAudioCommitted)
            # The server handles frames in order: had it answered the turn, this request would
            # meet "Conversation already has an active response", and two responses would come.
            session.create_response()
            done = await events.until(ResponseDone)
            assert done.status == "completed"
            assert events.of(ProviderError) == [] and len(events.of(ResponseCreated)) == 1
            assert [e.type for e in server.received[0]][-1] == "response.create"
        finally:
            await session.aclose()


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_the_servers_answer_plays_on_through_the_callers_speech(dialect: str) -> None:
    answer = "An answer long enough that the caller says mm-hmm in the middle of it, and it goes on."
    scenario = Scenario(steps=[ModelReply(transcript=answer), CallerTurn(transcript="Mm-hmm.")])
    async with OpenAIRealtimeServer(scenario, pace=1.0) as server, \
            Call(server, dialect, NO_BARGE_IN, agent_decides_turns=True, turn_detection=FAST_VAD) as call:
        call.agent.generate_reply()
        await wait_until(lambda: call.room.speaker.heard_samples > RATE // 2, timeout=10)
        await say(call.room, scenario.steps[1])  # type: ignore[arg-type]
        await wait_until(lambda: len(call.spoken) == 1, timeout=20)
        assert call.spoken == [answer]  # whole: not cut at the caller's words
        types = [e.type for e in server.received[-1]]
        assert "response.cancel" not in types and "conversation.item.truncate" not in types
        assert "input_audio_buffer.commit" not in types  # the server's VAD committed the mm-hmm
        assert len(server.connections[-1].user_audio_ms) == 1 and call.errors == []

