"""Events the current leaf has nothing to do with are dropped before the chart's engine;
everything else, including what a subclass declares and what actions send, goes through."""

from __future__ import annotations

import gc
from typing import Any

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime
from turnstile.machine import AgentChart, ChartActions, InputAudioCommitted, RealtimeAgent
from turnstile.machine._chart import events_by_leaf

from .test_extending import OnHold


class CountingSend:
    """Wraps the chart's ``send``: how many events reached the engine."""

    def __init__(self, agent: RealtimeAgent) -> None:
        self.events: list[str] = []
        self._send = agent.chart.send
        agent.chart.send = self  # type: ignore[method-assign]

    def __call__(self, event: str, *args: Any, **kwargs: Any) -> Any:
        self.events.append(event)
        return self._send(event, *args, **kwargs)


def test_each_leaf_takes_its_own_events_and_its_ancestors() -> None:
    takes = events_by_leaf(AgentChart(ChartActions()))
    assert "response_done" in takes["thinking"] and "response_done" not in takes["speaking"]
    assert {"close", "session_lost"} <= takes["speaking"]  # declared once, on ``active``
    assert takes["closed"] == frozenset()


async def test_an_event_the_leaf_does_not_take_never_reaches_the_engine() -> None:
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider)
    await agent.start(room)
    await agent.wait_for_state("listening")
    sent = CountingSend(agent)
    agent._send("response_done", response_id="r1")  # nothing to do while listening
    agent._send("playout_done")
    assert sent.events == [] and agent.state == "listening"
    agent._send("reply_requested")  # taken: goes through
    assert sent.events == ["reply_requested"] and agent.state == "thinking"
    agent._send("response_done", response_id="r1")  # now it is taken
    assert sent.events[-1] == "response_done"
    await agent.aclose()
    await room.aclose()


async def test_a_chart_declaring_its_own_events_gets_them() -> None:
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, chart=OnHold)  # type: ignore[arg-type]
    await agent.start(room)
    await agent.wait_for_state("listening")
    agent._send("resume")  # not taken while listening
    agent._send("hold")
    agent._send("resume")
    agent.trace.assert_path("initializing", "listening", "on_hold", "listening")
    await agent.aclose()
    await room.aclose()


async def test_events_sent_by_callbacks_mid_step_are_judged_by_the_chart() -> None:
    """While a transition runs, the agent's leaf is not settled: no filtering then."""
    provider, room = ScriptedRealtime(), LocalRoom()

    class HangUpWhenThinking:
        def on_enter_thinking(self) -> None:
            agent.interrupt()  # "interrupt" is not taken in listening, the leaf just left

    agent = RealtimeAgent(provider, listeners=[HangUpWhenThinking()])
    await agent.start(room)
    await agent.wait_for_state("listening")
    provider.last_session.emit(InputAudioCommitted(item_id="u1"))
    agent.trace.assert_path("initializing", "listening", "thinking", "listening")
    await agent.aclose()
    await room.aclose()


async def test_the_collector_waits_until_the_chart_has_acted() -> None:
    """A collection the dispatch's allocations would trigger midway runs after it instead,
    so a barge-in's clear is never paused by it; an application's own gc.disable() stands."""
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider)
    await agent.start(room)
    await agent.wait_for_state("listening")
    during: list[bool] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            during.append(agent._dispatching)

    threshold = gc.get_threshold()
    gc.callbacks.append(seen)
    try:
        gc.set_threshold(1)  # a collection at nearly every allocation
        agent._send("reply_requested")
        agent._send("response_started", response_id="r1")
        [object() for _ in range(10)]  # after the dispatch, the deferred collection runs
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(seen)
    assert agent.state == "thinking"
    assert during and not any(during), "a collection ran inside the chart's dispatch"
    gc.disable()
    try:
        agent._send("interrupt")
        assert not gc.isenabled()
    finally:
        gc.enable()
    await agent.aclose()
    await room.aclose()
