"""Paths generated from the chart: the shortest event path to every declared transition.

This is model-based testing as XState does it: the chart is the model, so a test that walks
every path exercises every declared transition, and a transition added to the chart without
a way to reach it fails loudly. Transitions declared on the compound ``active`` state
(``session_lost``, ``close``) are expanded to each of its leaf states, because leaving
``speaking`` on a dropped socket is a different behaviour from leaving ``listening``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pydantic import BaseModel, ConfigDict
from statemachine import StateChart

__all__ = ["ChartTransition", "PathStep", "TransitionPath", "chart_transitions", "transition_paths"]


class ChartTransition(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    event: str | None
    """None for an eventless transition."""
    source: str
    target: str
    conds: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    declared_on: str
    internal: bool = False

    def __str__(self) -> str:
        guard = f" [{' and '.join(self.conds)}]" if self.conds else ""
        return f"{self.source} --{self.event or '(auto)'}{guard}--> {self.target}"


class PathStep(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    event: str
    source: str
    target: str
    """Where the chart settles after the step, eventless transitions included."""
    guards: dict[str, bool]
    """The guard outcomes this step needs: its own conds true, earlier alternatives false."""


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


def _leaves(state: Any) -> list[Any]:
    if state.is_atomic:
        return [state]
    return [leaf for child in state.states for leaf in _leaves(child)]


def chart_transitions(chart: type[StateChart[Any]]) -> list[ChartTransition]:
    """Every declared transition with a target, per leaf source, in selection order."""
    out: list[ChartTransition] = []
    for leaf in (s for s in chart.states_map.values() if s.is_atomic):
        # python-statemachine tries the leaf's own transitions first, then its ancestors'.
        for owner in [leaf, *leaf.ancestors()]:
            for t in owner.transitions:
                if t.initial or not t.targets:
                    continue
                events: list[str | None] = [str(e) for e in t.events] or [None]
                target = t.targets[0]
                while target.is_compound:  # entering a compound enters its initial child
                    target = next((c for c in target.states if c.initial), target.states[0])
                for event in events:
                    if event == "error.execution":
                        continue
                    out.append(
                        ChartTransition(
                            event=event,
                            source=leaf.id,
                            target=leaf.id if t.internal and t.is_self else target.id,
                            conds=_names(t.cond),
                            actions=_names(t.on),
                            declared_on=owner.id,
                            internal=bool(t.internal),
                        )
                    )
    return out


def _guards_for(
    chosen: ChartTransition, candidates: list[ChartTransition]
) -> dict[str, bool] | None:
    """Guard outcomes that make ``chosen`` the transition taken, or None if impossible."""
    guards = {c: True for c in chosen.conds}
    for earlier in candidates:
        if earlier is chosen:
            return guards
        free = [c for c in earlier.conds if guards.get(c, False) is False]
        if not free:
            return None  # an unguarded (or same-guarded) alternative always wins first
        guards[free[0]] = False
    return None


def _settle(state: str, eventless: dict[str, ChartTransition]) -> str:
    seen = set()
    while state in eventless and state not in seen:
        seen.add(state)
        state = eventless[state].target
    return state


def transition_paths(chart: type[StateChart[Any]]) -> list[TransitionPath]:
    """The shortest event path from the initial state to each declared transition."""
    transitions = chart_transitions(chart)
    eventless = {t.source: t for t in transitions if t.event is None and not t.conds}
    by_source: dict[str, list[ChartTransition]] = {}
    for t in transitions:
        if t.event is not None:
            by_source.setdefault(t.source, []).append(t)

    def step(t: ChartTransition) -> PathStep | None:
        candidates = [c for c in by_source[t.source] if c.event == t.event]
        guards = _guards_for(t, candidates)
        if guards is None:
            return None
        return PathStep(
            event=t.event or "",
            source=t.source,
            target=_settle(t.target, eventless),
            guards=guards,
        )

    initial = chart.initial_state
    assert initial is not None
    start = _settle(_leaves(initial)[0].id, eventless)
    # Breadth-first over leaf states: the first way to reach a state is a shortest one.
    route: dict[str, tuple[PathStep, ...]] = {start: ()}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        for t in by_source.get(here, []):
            s = step(t)
            if s is not None and s.target not in route:
                route[s.target] = route[here] + (s,)
                queue.append(s.target)

    paths: list[TransitionPath] = []
    for t in transitions:
        # An eventless transition fires on its own: it is covered by a path into its source.
        via = [t] if t.event is not None else [x for x in transitions if x.event and x.target == t.source]
        for last in via:
            s = step(last) if last.source in route else None
            if s is not None:
                paths.append(TransitionPath(transition=t, steps=route[last.source] + (s,)))
                break
    return paths
