"""Deriving a chart: a state inside a region, a transition, a replaced guard; AgentChart untouched."""

from __future__ import annotations

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import (
    AgentChart,
    ChartActions,
    InputSpeechStarted,
    NewTransition,
    RealtimeAgent,
    chart_definition,
    chart_transitions,
    derive_chart,
)


def _hold_chart() -> type:
    base = derive_chart(
        "HoldChart",
        add_states={"turn": ["on_hold"]},
        add_transitions=[
            NewTransition("speaking", "hold", "on_hold", on="note_hold"),
            NewTransition("on_hold", "resume", "listening"),
        ],
        # Only long speech interrupts: the runtime's interruption_allowed is not asked at all.
        replace_guards={"interruption_allowed": "long_enough"},
    )

    class HoldChart(base):  # type: ignore[misc,valid-type]
        holds = 0

        def long_enough(self, speech_ms: int = 0) -> bool:
            return speech_ms >= 500

        def note_hold(self) -> None:
            type(self).holds += 1

    return HoldChart


def test_a_derived_chart_with_nothing_changed_declares_the_same_transitions() -> None:
    same = derive_chart("Same")
    assert sorted(map(str, chart_transitions(same))) == sorted(map(str, chart_transitions(AgentChart)))
    assert chart_definition(same) == chart_definition(AgentChart)


def test_deriving_leaves_agent_chart_unchanged() -> None:
    before = chart_definition(AgentChart)
    hold = _hold_chart()
    assert chart_definition(AgentChart) == before
    assert "on_hold" not in AgentChart.states_map and "on_hold" in hold.states_map
    assert "hold" not in {str(e) for t in AgentChart.states_map["speaking"].transitions for e in t.events}
    # ... and a chart built afterwards from AgentChart still has no hold.
    sm = AgentChart(model=ChartActions())
    for event in ("session_ready", "response_started"):
        sm.send(event)
    sm.send("audio_started", item_id="i", content_index=0, response_id="r")
    sm.send("hold")
    assert "speaking" in {s.id for s in sm.configuration}


async def test_the_derived_chart_runs_an_agent_with_its_state_transition_and_guard() -> None:
    hold = _hold_chart()
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, chart=hold)
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    s.start_audio_response(pcm_tone(600), done=False)
    assert agent.state == "speaking"
    s.emit(InputSpeechStarted())  # speech_ms=0: the replaced guard says no
    assert agent.state == "speaking"
    agent._send("hold")
    assert agent.state == "on_hold" and hold.holds == 1
    assert ("hold", "speaking", "on_hold") in agent.trace.transitions
    agent._send("resume")
    assert agent.state == "listening"
    await agent.aclose()
    assert agent.state == "closed"


def test_a_bad_derivation_says_what_is_wrong() -> None:
    import pytest

    with pytest.raises(ValueError, match="no compound state or region 'floor'"):
        derive_chart("Bad", add_states={"floor": ["x"]})
    with pytest.raises(ValueError, match="already has a state 'speaking'"):
        derive_chart("Bad", add_states={"turn": ["speaking"]})
    with pytest.raises(ValueError, match="no state 'nowhere'"):
        derive_chart("Bad", add_transitions=[NewTransition("speaking", "go", "nowhere")])
