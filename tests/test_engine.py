"""The chart's engine (machine/_engine.py) plans selection, exits and entries once per
chart class; it must behave exactly as python-statemachine's own engine.

Differential: the same random events, with the same random guard answers, through an
AgentChart on the planned engine and one on the library's plain SyncEngine. Every guard
asked, every action and state callback run, and the configuration after every event must
be the same, in the same order; the second and later instances share the first's plans.
"""

from __future__ import annotations

import inspect
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statemachine import HistoryState, State, StateChart
from statemachine.engines.sync import SyncEngine

from turnstile.machine import AgentChart, ChartActions
from turnstile.machine._engine import _PLANS, IndexedEngine

GUARDS = sorted(
    name
    for name, fn in inspect.getmembers(ChartActions, inspect.isfunction)
    if not name.startswith("_") and fn.__annotations__.get("return") in ("bool", bool)
)
ACTIONS = sorted(
    name
    for name, fn in inspect.getmembers(ChartActions, inspect.isfunction)
    if not name.startswith("_") and name not in GUARDS
)
EVENTS = sorted(str(e) for e in AgentChart.events)  # type: ignore[attr-defined]
KWARGS: dict[str, Any] = {"speech_ms": 300, "text": "hello there", "item_id": "i", "response_id": "r"}


def _model(answers: list[bool], log: list[str]) -> ChartActions:
    """Neutral actions that log, guards that answer from ``answers`` in turn."""
    it = iter(answers * 200)

    def guard(name: str) -> Any:
        def ask(self: Any, *args: Any, **kwargs: Any) -> bool:
            answer = next(it, True)
            log.append(f"{name}?{answer}")
            return answer

        return ask

    def action(name: str) -> Any:
        def act(self: Any, *args: Any, **kwargs: Any) -> None:
            log.append(name)

        return act

    body = {n: guard(n) for n in GUARDS} | {n: action(n) for n in ACTIONS}
    model: ChartActions = type("Logged", (ChartActions,), body)()
    return model


class _Listener:
    def __init__(self, chart: Any, log: list[str]) -> None:
        self.chart, self.log = chart, log

    def on_exit_state(self, state: Any) -> None:
        self.log.append(f"exit {state.id}")
        # an exited state is the instance's own (plans are shared by every instance)
        assert getattr(self.chart, state.id) is state, "exit callback got another instance's state"

    def on_enter_state(self, state: Any) -> None:
        self.log.append(f"enter {state.id}")

    def after_transition(self, event: Any, source: Any, target: Any) -> None:
        self.log.append(f"{event}: {source.id} -> {getattr(target, 'id', None)}")


class PlainChart(AgentChart):
    """The same declaration on the library's own engine."""

    def _get_engine(self) -> Any:
        return SyncEngine(self)


def _run(cls: type[StateChart[Any]], answers: list[bool], events: list[str]) -> list[str]:
    log: list[str] = []
    chart = cls(model=_model(answers, log))
    chart.add_listener(_Listener(chart, log))
    for event in events:
        try:
            chart.send(event, **KWARGS)
        except Exception as exc:  # the same failure on both sides is the same behaviour
            log.append(f"raised {type(exc).__name__}")
        log.append("config " + ",".join(str(v) for v in chart.configuration_values))
    return log


def test_the_chart_runs_on_the_planned_engine() -> None:
    assert type(AgentChart(model=ChartActions())._engine) is IndexedEngine
    assert type(PlainChart(model=ChartActions())._engine) is SyncEngine
    assert GUARDS and ACTIONS and "user_speech_started" in EVENTS


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    answers=st.lists(st.booleans(), min_size=1, max_size=12),
    events=st.lists(st.sampled_from(EVENTS), min_size=1, max_size=40),
)
def test_planned_engine_does_what_the_library_does(answers: list[bool], events: list[str]) -> None:
    planned = _run(AgentChart, answers, ["session_ready", *events])
    plain = _run(PlainChart, answers, ["session_ready", *events])
    assert planned == plain


def test_instances_share_one_plan_per_chart_class() -> None:
    events = ["session_ready", "response_started", "audio_started", "user_speech_started", "response_done"]
    _run(AgentChart, [True], events)
    plans = _PLANS[AgentChart]
    sizes = (len(plans.candidates), len(plans.exits), len(plans.entries))
    assert all(sizes), sizes
    _run(AgentChart, [True], events)  # a second session: nothing new to plan
    assert (len(plans.candidates), len(plans.exits), len(plans.entries)) == sizes


class Phone(StateChart[Any]):
    """History: where a transition lands depends on more than the configuration."""

    class call(State.Compound):
        ringing = State(initial=True)
        talking = State()
        h = HistoryState()
        answer = ringing.to(talking)

    on_hold = State()
    hold = call.to(on_hold)
    resume = on_hold.to(call.h)

    def _get_engine(self) -> Any:
        return IndexedEngine(self)


def test_a_chart_with_history_is_not_planned_and_still_restores_it() -> None:
    phone = Phone()
    assert type(phone._engine) is IndexedEngine and not _PLANS[Phone].enabled
    for event in ("answer", "hold", "resume"):
        phone.send(event)
    assert "talking" in phone.configuration_values
    second = Phone()  # never answered: history takes it back to ringing
    for event in ("hold", "resume"):
        second.send(event)
    assert "ringing" in second.configuration_values
