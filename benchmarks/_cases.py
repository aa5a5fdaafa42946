"""The measured cases: one Driver per machine / option / calling style.

Each builder makes a fresh machine, brings it to ``listening`` (session_ready, untimed),
and checks one full cycle against ``EXPECTED_LEAVES`` so every timed event is known to
take its transition.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from statemachine import StateChart, StateMachine

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime
from turnstile.machine import AgentChart, ChartActions, RealtimeAgent, Trace
from turnstile.machine._chart import turn_states

from ._chart_v1 import AgentChartV1, V1Actions
from ._dispatch import Driver, Step
from ._quietroom import QuietRoom
from ._shapes import (
    CYCLE,
    EXPECTED_LEAVES,
    OPTION_NAMES,
    STATE_MACHINE_OPTIONS,
    agent_chart_variant,
    flat_statemachine,
    transitions_machine,
)

__all__ = ["BASELINE", "OPTION_KEYS", "build_drivers", "build_localroom_drivers"]

BASELINE = "a"
"""The case every ratio is taken against: AgentChart + ChartActions, ``send()``."""

EVENT_NAMES = [name for name, _ in CYCLE]


def _chart_leaf(chart: StateChart[Any]) -> Callable[[], str]:
    turn = turn_states(chart)  # the main region's states (all of them without regions)

    def leaf() -> str:
        for state in chart.configuration:
            if state.id in turn:
                return str(state.id)
        return "?"

    return leaf


def _send_steps(chart: StateChart[Any]) -> list[Step]:
    return [functools.partial(chart.send, name, **kw) for name, kw in CYCLE]


def _bound_steps(chart: StateChart[Any]) -> list[Step]:
    # ``chart.response_started`` is a BoundEvent; calling it skips send()'s lookup of the
    # event by name and its construction of a new BoundEvent per call.
    return [functools.partial(getattr(chart, name), **kw) for name, kw in CYCLE]


def _check(key: str, steps: Sequence[Step], leaf: Callable[[], str]) -> None:
    """Run one cycle and insist on the expected leaf after every event."""
    seen = []
    for step in steps:
        step()
        seen.append(leaf())
    if tuple(seen) != EXPECTED_LEAVES:
        raise AssertionError(f"case {key}: cycle visits {seen}, expected {list(EXPECTED_LEAVES)}")


def _chart_driver(
    key: str,
    label: str,
    group: str,
    chart: StateChart[Any],
    *,
    bound: bool = False,
    settle: Callable[[], Awaitable[None]] | None = None,
) -> Driver:
    chart.send("session_ready")
    steps = _bound_steps(chart) if bound else _send_steps(chart)
    _check(key, steps, _chart_leaf(chart))
    return Driver(key, label, steps, EVENT_NAMES, settle=settle, group=group)


def _traced_driver() -> Driver:
    trace = Trace()
    chart = AgentChart(model=ChartActions(), listeners=[trace.listener()])

    async def settle() -> None:
        trace.records.clear()  # a Trace keeps every record; the bench must not grow it

    return _chart_driver(
        "b1", "AgentChart + Trace listener, send()", "b", chart, settle=settle
    )


def _transitions_driver() -> Driver:
    machine = transitions_machine()
    model: Any = machine.model
    model.trigger("session_ready")
    steps: list[Step] = [functools.partial(model.trigger, name, **kw) for name, kw in CYCLE]
    _check("d", steps, lambda: str(model.state))
    return Driver("d", "transitions.Machine (flat, 5 states), trigger()", steps, EVENT_NAMES, group="d")


async def _started_agent_driver(
    stack: contextlib.AsyncExitStack, key: str, label: str, room: QuietRoom | LocalRoom
) -> Driver:
    """The full runtime: a started agent's chart, its Runtime as model, Trace + observer."""
    provider = ScriptedRealtime(ready_on_connect=True)
    agent = RealtimeAgent(provider)
    stack.push_async_callback(room.aclose)
    stack.push_async_callback(agent.aclose)  # runs first (LIFO): agent, then room
    await agent.start(room)
    await agent.wait_for_state("listening")
    session = provider.last_session
    steps = _send_steps(agent.chart)
    _check(key, steps, _chart_leaf(agent.chart))

    async def settle() -> None:
        # Let the playout/publish tasks the actions created run (and be cancelled), and
        # drop what the scripted session and the trace recorded, so memory stays flat.
        for _ in range(3):
            await asyncio.sleep(0)
        agent.trace.records.clear()
        session.sent.clear()
        session.audio_chunks.clear()

    return Driver(key, label, steps, EVENT_NAMES, settle=settle, group="b")


# Keys of the option cases, in the order they are reported.
OPTION_KEYS = ["e_sm", *[f"e_{n}" for n in OPTION_NAMES], "e_bound"]


def _option_drivers() -> list[Driver]:
    drivers = []
    sm_like = agent_chart_variant("AgentChartSM", **STATE_MACHINE_OPTIONS)
    drivers.append(
        _chart_driver(
            "e_sm",
            "AgentChart, StateMachine semantics (the four flags below, at once)",
            "e",
            sm_like(model=ChartActions()),
        )
    )
    for name in OPTION_NAMES:
        flipped = not bool(getattr(AgentChart, name))
        cls = agent_chart_variant(f"AgentChart_{name}", **{name: flipped})
        drivers.append(
            _chart_driver(f"e_{name}", f"AgentChart, {name}={flipped}", "e", cls(model=ChartActions()))
        )
    drivers.append(
        _chart_driver(
            "e_bound",
            "AgentChart, bound event methods: sm.response_started(...)",
            "e",
            AgentChart(model=ChartActions()),
            bound=True,
        )
    )
    return drivers


async def build_drivers(stack: contextlib.AsyncExitStack) -> list[Driver]:
    """All cases, in report order. ``stack`` closes the started agent afterwards."""
    return [
        _chart_driver(
            BASELINE, "AgentChart + ChartActions(), send()", "a", AgentChart(model=ChartActions())
        ),
        _chart_driver(
            "a_v1", "AgentChart before regions (one region) + its neutral actions, send()", "a",
            AgentChartV1(model=V1Actions()),
        ),
        _traced_driver(),
        await _started_agent_driver(
            stack,
            "b2",
            "started RealtimeAgent on a QuietRoom (Runtime, Trace, observer): chart.send()",
            QuietRoom(),
        ),
        _chart_driver(
            "c1", "flat StateChart (5 states, no guards/actions), send()", "c",
            flat_statemachine(StateChart)(),
        ),
        _chart_driver(
            "c2", "flat StateMachine (5 states, no guards/actions), send()", "c",
            flat_statemachine(StateMachine)(),
        ),
        _transitions_driver(),
        *_option_drivers(),
    ]


async def build_localroom_drivers(stack: contextlib.AsyncExitStack) -> list[Driver]:
    """Timed in a phase of their own: a LocalRoom's audio pump (see ``_quietroom``) runs
    for as long as its agent lives and would disturb every other case. The baseline chart
    is timed again beside it, to show how much of the difference is that interference."""
    return [
        _chart_driver(
            "a_lk",
            "AgentChart + ChartActions(), send(), while a LocalRoom agent idles",
            "a",
            AgentChart(model=ChartActions()),
        ),
        await _started_agent_driver(
            stack,
            "b3",
            "started RealtimeAgent on a LocalRoom (livekit audio running): chart.send()",
            LocalRoom(),
        ),
    ]
