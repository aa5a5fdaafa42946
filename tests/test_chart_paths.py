"""Model-based: walk the shortest path to every declared transition against the real runtime.

The paths come from the chart itself, so a transition added to the chart shows up here: it
is either walked (and the test needs to know how to cause its event) or it fails.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime, ScriptedSession, pcm_tone
from turnstile.machine import (
    AgentChart,
    AgentOptions,
    AudioDelta,
    FunctionCall,
    InputAudioCommitted,
    InputSpeechStarted,
    InputSpeechStopped,
    PathStep,
    RealtimeAgent,
    ResponseContentDone,
    ResponseCreated,
    ResponseDone,
    SessionLost,
    SessionReady,
    ToolCallsRequested,
    TransitionPath,
    chart_transitions,
    transition_paths,
)

PATHS = transition_paths(AgentChart)
_ids = itertools.count()


def add(a: int, b: int) -> int:
    return a + b


class Driver:
    """Causes each chart event the way a provider or a user would."""

    def __init__(self, agent: RealtimeAgent, session: ScriptedSession, room: LocalRoom) -> None:
        self.agent, self.s, self.room = agent, session, room
        self.rid = self.iid = ""

    async def cause(self, step: PathStep) -> None:
        s, ev = self.s, step.event
        if ev == "session_ready":
            s.emit(SessionReady())
        elif ev == "session_lost":
            s.emit(SessionLost(reason="test"))
        elif ev == "close":
            await self.agent.aclose()
        elif ev == "user_speech_started":
            s.emit(InputSpeechStarted())
        elif ev == "user_speech_stopped":
            s.emit(InputSpeechStopped())
        elif ev == "interrupt":
            self.agent.interrupt()
        elif ev == "user_turn_committed":
            s.emit(InputAudioCommitted(item_id=f"u{next(_ids)}"))
        elif ev == "reply_requested":
            self.agent.generate_reply()
        elif ev == "response_started":
            self.rid = f"r{next(_ids)}"
            s.emit(ResponseCreated(response_id=self.rid))
        elif ev == "tool_calls":
            call = FunctionCall(call_id=f"c{next(_ids)}", name="add", arguments='{"a":1,"b":2}')
            s.emit(ToolCallsRequested(calls=(call,)))
        elif ev == "audio_started":
            if not self.rid:
                self.rid = f"r{next(_ids)}"
                s.emit(ResponseCreated(response_id=self.rid))
            self.iid = f"i{next(_ids)}"
            s.emit(AudioDelta(response_id=self.rid, item_id=self.iid, data=pcm_tone(200)))
        elif ev == "text_response":
            s.emit(ResponseContentDone(response_id="rt", item_id="it", modality="text", text="hi"))
        elif ev == "response_done":
            s.emit(ResponseDone(response_id=self.rid or "r-none"))
            self.rid = ""
        elif ev == "playout_done":
            # The audio ends; with a reply pending the response itself stays in flight.
            s.emit(ResponseContentDone(response_id=self.rid, item_id=self.iid))
            if not step.guards.get("reply_pending", False):
                s.emit(ResponseDone(response_id=self.rid))
                self.rid = ""
        elif ev in ("response_timeout", "session_timeout"):
            pass  # nothing comes: the agent's deadline (short on this path) gives up by itself
        elif ev == "response_stalled":
            if not self.rid:  # a response begins, then the stream goes quiet
                self.rid = f"r{next(_ids)}"
                s.emit(ResponseCreated(response_id=self.rid))
        elif ev == "playout_stalled":
            self.room.speaker.stall()  # the room stops taking the agent's audio
        else:  # a new event in the chart: teach the driver how to cause it
            pytest.fail(f"the driver cannot cause {ev!r}; add it to Driver.cause")


def _options(path: TransitionPath) -> AgentOptions:
    guards = {k: v for step in path.steps for k, v in step.guards.items()}
    # A deadline is short only where the path waits for it to pass.
    event = path.transition.event

    def deadline(name: str) -> float:
        return 0.05 if event == name else 15.0

    return AgentOptions(
        max_text_response_retries=1 if guards.get("retries_left", True) else 0,
        response_timeout_s=deadline("response_timeout"),
        session_timeout_s=deadline("session_timeout"),
        response_stall_timeout_s=deadline("response_stalled"),
        playout_stall_timeout_s=deadline("playout_stalled"),
    )


@pytest.mark.parametrize("path", PATHS, ids=[str(p.transition) for p in PATHS])
async def test_walk_to_every_declared_transition(path: TransitionPath) -> None:
    provider, room = ScriptedRealtime(ready_on_connect=False), LocalRoom()
    agent = RealtimeAgent(provider, tools=[add], options=_options(path))
    await agent.start(room)
    await provider.last_session.wait_sent("connect")
    driver = Driver(agent, provider.last_session, room)
    try:
        for step in path.steps:
            assert agent.state == step.source, f"before {step.event}: {agent.trace.path}"
            taken = len(agent.trace.records)
            await driver.cause(step)
            if step.source == step.target:  # a self-transition: wait for it in the trace
                await _wait_for_record(agent, taken, step.event)
            await agent.wait_for_state(step.target, timeout=5)
        t = path.transition
        assert (t.event, t.source, t.target) in agent.trace.transitions, agent.trace.transitions
    finally:
        await agent.aclose()
        await room.aclose()


async def _wait_for_record(agent: RealtimeAgent, after: int, event: str) -> None:
    """Until the trace has a record of ``event`` after its first ``after`` records.

    Self-transitions the driver causes are recorded before ``cause`` returns; a timeout's
    comes later, and it reports itself with an ``error``: that is what is waited on."""
    reported = asyncio.Event()
    agent.on("error", lambda err: reported.set())
    async with asyncio.timeout(5):
        while not any(r.event == event for r in list(agent.trace.records)[after:]):
            await reported.wait()
            reported.clear()


def test_every_transition_has_a_path_except_from_transient_states() -> None:
    walked = {str(p.transition) for p in PATHS}
    missing = [t for t in chart_transitions(AgentChart) if str(t) not in walked]
    # ``interrupted`` is left by an eventless transition the moment it is entered, so
    # nothing else can fire from it: that is the only state allowed to have unwalked edges.
    assert {t.source for t in missing} <= {"interrupted"}, [str(t) for t in missing]
    assert len(PATHS) >= 25
