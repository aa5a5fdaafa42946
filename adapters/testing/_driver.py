"""Feeding a generated sequence to a real agent on the scripted provider and a local room."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from statemachine import StateChart

from turnstile.machine import AgentChart, AgentOptions, Capabilities, RealtimeAgent, Trace

from ._invariants import check_invariants
from ._steps import Advance, AgentCall, ChartEvent, Step

__all__ = ["run_events", "run_scripted"]

Check = Callable[[RealtimeAgent], None]


async def run_events(agent: RealtimeAgent, events: Iterable[Step], *, check: Check = check_invariants) -> None:
    """Feed ``events`` to ``agent``, started on a ``ScriptedRealtime(ready_on_connect=False)``
    (a sequence brings its own ``SessionReady``), checking after each step (and before the
    first). Provider events go in as the adapter's reader would deliver them, the
    application's calls are made, :class:`Advance` lets real time pass (playout and the
    deadlines run on the loop's clock), a :class:`ChartEvent` is sent to the chart. Stops
    early once the agent closed."""
    from turnstile.adapters.scripted import ScriptedRealtime

    provider = agent.provider
    if not isinstance(provider, ScriptedRealtime):
        raise TypeError(f"run_events drives an agent on a ScriptedRealtime, not {type(provider).__name__}")
    session = provider.last_session
    await session.wait_sent("connect")
    check(agent)
    for step in events:
        if isinstance(step, Advance):
            await asyncio.sleep(step.ms / 1000)  # a stimulus: time for playout and deadlines
        elif isinstance(step, AgentCall):
            getattr(agent, step.method)()
        elif isinstance(step, ChartEvent):
            agent._send(step.name, **step.data)
        else:
            session.emit(step)
        check(agent)
        if agent.state == "closed":
            return
    await asyncio.sleep(0)  # what the last step scheduled runs once
    check(agent)


async def _run_scripted(
    events: Sequence[Step], chart: type[StateChart[Any]], check: Check, agent_options: dict[str, Any]
) -> Trace:
    from turnstile.adapters.local import LocalRoom
    from turnstile.adapters.scripted import ScriptedRealtime

    capabilities: Capabilities | None = agent_options.pop("capabilities", None)
    provider = ScriptedRealtime(capabilities, ready_on_connect=False)
    room = LocalRoom()
    agent = RealtimeAgent(provider, chart=chart, **agent_options)
    try:
        await agent.start(room)
        await run_events(agent, events, check=check)
    finally:
        await agent.aclose()
        await room.aclose()
    return agent.trace


def run_scripted(
    events: Sequence[Step],
    *,
    chart: type[StateChart[Any]] = AgentChart,
    check: Check = check_invariants,
    capabilities: Capabilities | None = None,
    options: AgentOptions | None = None,
    **agent_options: Any,
) -> Trace:
    """Run ``events`` through a fresh ``RealtimeAgent(chart=chart, ...)`` on the scripted
    provider and a ``LocalRoom``, in an event loop of its own (a plain, synchronous test:
    hypothesis's ``@given`` needs no async plugin), checking after every step. Returns the
    agent's trace. ``agent_options`` go to ``RealtimeAgent`` (``tools=``, ``listeners=``)."""
    return asyncio.run(
        _run_scripted(events, chart, check, {"capabilities": capabilities, "options": options, **agent_options})
    )
