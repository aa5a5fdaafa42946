"""Property test: random provider and user event sequences against the real runtime.

Invariants, checked after every step:
- at most one item plays at a time;
- truncation only where the provider supports it, never beyond the audio received, never 0;
- the published state equals the mapped current state once publishing settles;
- no exception reaches the event loop, and no internal error is reported.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import (
    DEFAULT_STATE_MAP,
    AgentError,
    AudioDelta,
    Capabilities,
    FunctionCall,
    InputAudioCommitted,
    InputSpeechStarted,
    InputSpeechStopped,
    ProviderError,
    RealtimeAgent,
    ResponseContentDone,
    ResponseCreated,
    ResponseDone,
    ServerInterrupted,
    SessionLost,
    SessionReady,
    ToolCallsRequested,
    TranscriptDelta,
)

RATE = 24000

SINGLE_OPS = [
    "ready", "lost", "speech_started", "speech_stopped", "committed", "reply",
    "interrupt", "created", "audio", "audio_new_item", "transcript", "audio_done",
    "text", "response_done", "tool", "server_interrupted", "error", "advance",
]
# Phrases make the meaningful orders likely (a response that plays, then a barge-in),
# while single operations keep every other order possible.
PHRASES = [
    ["created", "audio_new_item", "transcript", "audio", "advance", "advance"],
    ["reply", "created", "audio_new_item", "advance", "speech_started"],
    ["audio_done", "response_done", "advance"],
    ["advance", "advance", "speech_started", "speech_stopped"],
]
OPS = st.one_of(st.sampled_from(SINGLE_OPS).map(lambda op: [op]), st.sampled_from(PHRASES))


def add(a: int, b: int) -> int:
    return a + b


class World:
    def __init__(self, agent: RealtimeAgent, provider: ScriptedRealtime) -> None:
        self.agent, self.provider = agent, provider
        self.n = 0
        self.rid = "r0"
        self.iid = "i0"
        self.received_ms: dict[str, float] = {}

    def new(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    async def do(self, op: str) -> None:
        s = self.provider.last_session
        if op == "ready":
            s.emit(SessionReady())
        elif op == "lost":
            s.emit(SessionLost(reason="x"))
        elif op == "speech_started":
            s.emit(InputSpeechStarted())
        elif op == "speech_stopped":
            s.emit(InputSpeechStopped())
        elif op == "committed":
            s.emit(InputAudioCommitted(item_id=self.new("u")))
        elif op == "reply":
            self.agent.generate_reply()
        elif op == "interrupt":
            self.agent.interrupt()
        elif op == "created":
            self.rid = self.new("r")
            s.emit(ResponseCreated(response_id=self.rid))
        elif op in ("audio", "audio_new_item"):
            if op == "audio_new_item":
                self.iid = self.new("i")
            self.received_ms[self.iid] = self.received_ms.get(self.iid, 0) + 60
            s.emit(AudioDelta(response_id=self.rid, item_id=self.iid, data=pcm_tone(60)))
        elif op == "transcript":
            s.emit(TranscriptDelta(response_id=self.rid, item_id=self.iid, delta="word "))
        elif op == "audio_done":
            s.emit(ResponseContentDone(response_id=self.rid, item_id=self.iid))
        elif op == "text":
            s.emit(ResponseContentDone(response_id=self.rid, item_id=self.new("t"), modality="text"))
        elif op == "response_done":
            s.emit(ResponseDone(response_id=self.rid))
        elif op == "tool":
            call = FunctionCall(call_id=self.new("c"), name="add", arguments='{"a": 1, "b": 2}')
            s.emit(ToolCallsRequested(calls=(call,)))
        elif op == "server_interrupted":
            s.emit(ServerInterrupted())
        elif op == "error":
            s.emit(ProviderError(code="x", message="injected"))
        elif op == "advance":
            await asyncio.sleep(0.03)  # a stimulus: let 30 ms of real-time playout happen

    def check(self, caps: Capabilities) -> None:
        rt = self.agent._runtime
        playing = [h for h in rt.handles.values() if h.pushed_samples and not h.finished]
        assert len(playing) <= 1, playing
        s = self.provider.last_session
        if not caps.supports_truncate:
            assert not {"truncate", "cancel_response", "delete_item"} & set(s.names())
        for sent in s.sent:
            if sent.name == "truncate":
                ms = sent.args["audio_end_ms"]
                assert 0 < ms <= self.received_ms[sent.args["item_id"]], sent


async def scenario(ops: list[str], caps: Capabilities) -> None:
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: loop_errors.append(ctx))
    provider, room = ScriptedRealtime(caps, ready_on_connect=False), LocalRoom(caller_sample_rate=24000)
    agent = RealtimeAgent(provider, tools=[add])
    errors: list[AgentError] = []
    agent.on("error", errors.append)
    await agent.start(room)
    await provider.last_session.wait_sent("connect")
    world = World(agent, provider)
    try:
        for op in ops:
            await world.do(op)
            world.check(caps)
            if agent.state == "closed":
                break
            await agent._publisher.settled()  # type: ignore[union-attr]
            assert room.attributes.get("lk.agent.state") == DEFAULT_STATE_MAP[agent.state], (
                agent.state, room.state_history)
    finally:
        await agent.aclose()
        await room.aclose()
    assert not [e for e in errors if e.code == "internal"], errors
    assert not loop_errors, loop_errors


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(OPS, min_size=1, max_size=12).map(lambda xs: ["ready", *sum(xs, [])]),
    truncate=st.booleans(),
)
def test_invariants_hold_for_any_event_sequence(ops: list[str], truncate: bool) -> None:
    caps = Capabilities(supports_truncate=truncate)
    asyncio.run(scenario(ops, caps))
