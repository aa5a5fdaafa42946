"""Paths generated from the chart: the shortest event path to every declared transition.

This is model-based testing as XState does it: the chart is the model, so a test that walks
every path exercises every declared transition of every region, and a transition added to
the chart without a way to reach it fails loudly.

What counts as a transition: each declared one per leaf it can fire from. One declared on
a compound state is expanded to each leaf inside it (leaving ``speaking`` on a dropped
socket is a different behaviour from leaving ``listening``); one declared on a parallel
state (``close`` on ``active``) to each leaf of its first, main region, since it fires
once for the whole configuration. Targetless transitions (``x.to(None)``) count too: they
act without leaving their state.

How paths are found: a search over *configurations* (every region's active leaf) that drives
python-statemachine itself rather than re-implementing SCXML's selection, conflict and
eventless rules (and their bugs, or the library's) here. One chart instance is moved to
each configuration (its ``configuration`` setter), sent one event, and a listener notes
the declared transitions the macrostep took, eventless ones and follow-ups included. Its
model is a :class:`ChartActions` whose guards are forced:

- ``In('x')`` conditions are decided by the engine from the configuration itself;
- every other guard name (``responses_settled``, ``stream_owed`` ...) reads data the chart
  cannot see, so it is a free choice. An event is first run with each guard it asks
  answering as ``prefer`` says is likely; each guard that was asked is then tried the
  other way, one decision-tree branch at a time, so only the guards the engine actually
  consults are branched on. The answers a step needs are its :attr:`PathStep.guards`,
  for a walker to force (with data: the runtime's guards read nothing else).

Paths are shortest first and then need the fewest answers against the likely ones
(Dijkstra on that pair): a walker has the least to arrange. A guard holds one answer for
a whole step. The runtime's actions send a few events back into the chart (cancelling a
response sends ``response_cancelled``, asking for one ``reply_requested``): those are
:data:`RUNTIME_SENDS`, which the model sends the same way, after the macrostep that caused
them. ``response_cancelled`` is only ever sent so, and is never tried on its own
(:data:`FOLLOW_UP_EVENTS`). About 1,500 engine runs for the agent chart: a second or two.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from itertools import count
from typing import Any

from pydantic import BaseModel, ConfigDict
from statemachine import State, StateChart

from ._chart import ChartActions
from ._path_engine import (
    FOLLOW_UP_EVENTS,
    RUNTIME_SENDS,
    SKIPPED_EVENTS,
    Config,
    Declared,
    Explorer,
    Prefer,
    free_guards,
    neutral_answers,
    owned_leaves,
)
from ._trace import chart_shape

__all__ = [
    "FOLLOW_UP_EVENTS",
    "RUNTIME_SENDS",
    "ChartTransition",
    "PathStep",
    "TransitionPath",
    "chart_transitions",
    "transition_paths",
]

class ChartTransition(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    event: str | None
    """None for an eventless transition."""
    source: str
    target: str
    """The leaf the source's region holds afterwards (the source itself when targetless)."""
    conds: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    declared_on: str
    internal: bool = False
    region: str = "turn"
    """The region a trace records it in (the main one for the parallel state's own)."""
    targetless: bool = False

    def __str__(self) -> str:
        guard = f" [{' and '.join(self.conds)}]" if self.conds else ""
        arrow = "--> (stays)" if self.targetless else f"--> {self.target}"
        return f"{self.source} --{self.event or '(auto)'}{guard}{arrow}"


class PathStep(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    event: str
    source: str
    """The main region's leaf before the step."""
    target: str
    """The main region's leaf after it, eventless transitions and follow-ups included."""
    guards: dict[str, bool]
    """The free guards the engine asked during the step, and the outcome this path needs."""
    configuration: tuple[str, ...] = ()
    """Every region's leaf after the step, in document order (``("closed",)`` at the end)."""


class TransitionPath(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    transition: ChartTransition
    steps: tuple[PathStep, ...]


def _names(specs: Any) -> tuple[str, ...]:
    """Declared names (not the implicit ``on_<event>`` conventions); ``unless`` as "not x"."""
    return tuple(
        ("not " if s.expected_value is False else "")
        + (str(s.func) if isinstance(s.func, str) else s.func.__name__)
        for s in specs
        if not s.is_convention
    )


def _entered_leaf(target: State) -> State:
    while not target.is_atomic:  # entering a compound enters its initial child
        target = next((c for c in target.states if c.initial), target.states[0])
    return target


def _declared(chart: type[StateChart[Any]]) -> list[tuple[Declared, ChartTransition]]:
    shape = chart_shape(chart)
    out: list[tuple[Declared, ChartTransition]] = []
    for leaf in (s for s in chart.states_map.values() if s.is_atomic):
        # python-statemachine tries the leaf's own transitions first, then its ancestors'.
        for owner in [leaf, *leaf.ancestors()]:
            if leaf not in owned_leaves(owner):
                continue
            for t in owner.transitions:
                if t.initial:
                    continue
                stays = not t.targets or (t.internal and t.is_self)
                target = leaf if stays else _entered_leaf(t.targets[0])
                events: list[str | None] = [str(e) for e in t.events]
                for event in events or [None]:
                    if event in SKIPPED_EVENTS:
                        continue
                    ct = ChartTransition(
                        event=event,
                        source=leaf.id,
                        target=target.id,
                        conds=_names(t.cond),
                        actions=_names(t.on),
                        declared_on=owner.id,
                        internal=bool(t.internal),
                        region=shape.region_of[leaf.id],
                        targetless=not t.targets,
                    )
                    out.append(((t, leaf.id, event), ct))
    return out


def chart_transitions(chart: type[StateChart[Any]], *, targetless: bool = False) -> list[ChartTransition]:
    """Every declared transition per leaf source, in selection order; those without a
    target (``x.to(None)``, which act in place) only when ``targetless``."""
    return [ct for _, ct in _declared(chart) if targetless or not ct.targetless]


def _transient(chart: type[StateChart[Any]]) -> set[str]:
    """Leaves left by an unguarded eventless transition the moment they are entered:
    nothing else ever fires from them."""
    return {
        s.id for s in chart.states_map.values()
        if s.is_atomic and any(t.is_eventless and not list(t.cond) for t in s.transitions)
    }


Cost = tuple[int, int]
"""(steps, guard answers against the preferred ones): shortest first, then least forced."""


def transition_paths(
    chart: type[StateChart[Any]],
    *,
    actions: type[ChartActions] = ChartActions,
    prefer: Prefer | Mapping[str, bool] | None = None,
    causable: Callable[[str, tuple[str, ...]], bool] | None = None,
) -> list[TransitionPath]:
    """The shortest event path from the initial configuration to each declared transition.

    Among paths of one length, the one that needs the fewest guards answered against
    ``prefer`` wins, so a walker has the fewest to force. ``prefer`` is a mapping of
    guard names to answers, or a function of the guard's name and the configuration it is
    asked in (a sketch of the data the chart cannot see: a response under way is likely
    still owed its stream), which may instead return the only answers the data allows
    there (a tuple, likeliest first); by default, the neutral answers of a fresh ``actions``.
    ``causable(event, configuration)`` says whether a walker can cause the event there
    (a deadline's event only where its deadline runs); by default every event can be.
    ``actions`` is the model's base (its actions run as the chart's, guards are forced);
    pass a subclass for a derived chart whose actions send events of their own.
    """
    declared = _declared(chart)
    index = dict(declared)
    from_leaf: dict[tuple[str | None, str], list[ChartTransition]] = {}
    for ct in index.values():
        from_leaf.setdefault((ct.event, ct.source), []).append(ct)
    transient = _transient(chart)
    wanted = {ct for ct in index.values() if ct.event is None or ct.source not in transient}
    neutral = neutral_answers(actions, free_guards(chart))
    if callable(prefer):
        preferred: Prefer = prefer
    else:
        answers = {**neutral, **(prefer or {})}
        preferred = lambda name, configuration: answers.get(name, True)  # noqa: E731
    explorer = Explorer(chart, actions, preferred)
    start = explorer.configuration()
    found: dict[ChartTransition, tuple[Cost, tuple[PathStep, ...]]] = {}
    best: dict[Config, tuple[Cost, tuple[PathStep, ...]]] = {start: ((0, 0), ())}
    # Dijkstra over configurations by Cost: a configuration is expanded once, from its
    # cheapest route; a transition keeps the cheapest path that took it.
    queue: list[tuple[Cost, int, Config]] = [((0, 0), 0, start)]
    tie = count(1)
    expanded: set[Config] = set()
    while queue:
        cost, _, here = heapq.heappop(queue)
        if here in expanded:
            continue
        if wanted <= found.keys() and all(c <= (cost[0] + 1, cost[1]) for c, _ in found.values()):
            break  # nothing from here on (costs only grow) beats a path already kept
        expanded.add(here)
        route = best[here][1]
        for event in explorer.events(here):
            if causable is not None and not causable(event, here):
                continue
            if event in explorer.ending and all(
                ct in found for leaf in here for ct in from_leaf.get((event, leaf), ())
            ):
                continue
            for after, asked, taken in explorer.outcomes(here, event):
                if not taken:
                    continue
                departures = sum(v != explorer.answers(k, here)[0] for k, v in asked.items())
                step_cost = (cost[0] + 1, cost[1] + departures)
                step = PathStep(
                    event=event,
                    source=explorer.main_leaf(here),
                    target=explorer.main_leaf(after),
                    guards=asked,
                    configuration=after,
                )
                steps = (*route, step)
                for key in taken:
                    took = index.get(key)
                    if took is not None and (took not in found or step_cost < found[took][0]):
                        found[took] = (step_cost, steps)
                if after not in best or step_cost < best[after][0]:
                    best[after] = (step_cost, steps)
                    heapq.heappush(queue, (step_cost, next(tie), after))
    return [TransitionPath(transition=ct, steps=found[ct][1]) for _, ct in declared if ct in found]
