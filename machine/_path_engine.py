"""The search engine of :mod:`._paths`: one chart instance, moved from configuration to
configuration, its data guards answered as the search forces them.

Nothing here re-implements the engine: python-statemachine selects, orders and settles
transitions (eventless ones, and the events actions send) exactly as it does for the agent.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from statemachine import State, StateChart
from statemachine.orderedset import OrderedSet
from statemachine.spec_parser import replace_operators

from ._chart import ChartActions, events_by_state, turn_states

__all__ = [
    "FOLLOW_UP_EVENTS",
    "RUNTIME_SENDS",
    "SKIPPED_EVENTS",
    "Config",
    "Declared",
    "Explorer",
    "Prefer",
    "free_guards",
    "neutral_answers",
    "owned_leaves",
]

RUNTIME_SENDS: Mapping[str, tuple[str, ...]] = {
    "cancel_response": ("response_cancelled",),
    "barge_in": ("response_cancelled",),  # it cancels the response
    "abandon_response": ("response_cancelled",),  # a barge-in (or a cancel) of its own
    "request_response": ("reply_requested",),
    "recover_from_text": ("reply_requested",),
}
"""Chart events the runtime's actions send, by action (``machine/_runtime.py``)."""

FOLLOW_UP_EVENTS = frozenset({"response_cancelled"})
"""Events nothing but an action sends: reached as follow-ups, never tried on their own."""

SKIPPED_EVENTS = frozenset({"error.execution", "error_execution"})


def owned_leaves(state: State) -> list[State]:
    """The leaves a transition declared on ``state`` is counted from."""
    if state.is_atomic:
        return [state]
    if state.parallel:  # it fires once for all regions: counted from the main one's leaves
        return owned_leaves(state.states[0])
    return [leaf for child in state.states for leaf in owned_leaves(child)]


Declared = tuple[Any, str, str | None]
"""(the library's transition object, the leaf it is counted from, the event)."""


def free_guards(chart: type[StateChart[Any]]) -> set[str]:
    """Guard names in the chart's conditions, other than ``In(...)``."""
    names: set[str] = set()
    for state in chart.states_map.values():
        for t in state.transitions:
            for spec in t.cond:
                if isinstance(spec.func, str) and not spec.is_convention:
                    tree = ast.parse(replace_operators(spec.func), mode="eval")
                    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
                    names.update(
                        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in calls
                    )
    return names


def _action_names(chart: type[StateChart[Any]]) -> set[str]:
    names: set[str] = set()
    for state in chart.states_map.values():
        specs: list[Any] = [*state.enter, *state.exit]
        for t in state.transitions:
            specs += [*t.before, *t.on, *t.after]
        names.update(s.func for s in specs if isinstance(s.func, str) and not s.is_convention)
    return names


class _Forced(ChartActions):
    """Guards answer as forced (or as preferred, noting the question); actions send what
    the runtime's do (added per chart by :func:`_model_class`)."""

    def __init__(self) -> None:
        self.prefer: Callable[[str], bool] = lambda name: True
        self.forced: dict[str, bool] = {}
        self.asked: dict[str, bool] = {}
        self.send: Callable[[str], Any] = lambda event: None

    def decide(self, name: str) -> bool:
        if name not in self.asked:
            forced = self.forced.get(name)
            self.asked[name] = self.prefer(name) if forced is None else forced
        return self.asked[name]


def _guard(name: str) -> Callable[[_Forced], bool]:
    def guard(self: _Forced) -> bool:
        return self.decide(name)

    guard.__name__ = name
    return guard


def _sender(events: tuple[str, ...]) -> Callable[..., None]:
    def action(self: _Forced, *args: Any, **kwargs: Any) -> None:
        for event in events:
            self.send(event)

    return action


def _model_class(chart: type[StateChart[Any]], actions: type[ChartActions]) -> type[_Forced]:
    body: dict[str, Any] = {name: _guard(name) for name in free_guards(chart)}
    for name in _action_names(chart):  # a derived chart's own actions: no-ops here
        if not hasattr(actions, name):
            body[name] = _sender(())
    body.update({name: _sender(events) for name, events in RUNTIME_SENDS.items()})
    return type(f"Forced{chart.__name__}", (_Forced, actions), body)


class _Taken:
    """Listener: the declared transitions a macrostep took, keyed as :func:`_declared`."""

    def __init__(self) -> None:
        self.taken: list[Declared] = []

    def before_transition(self, event: Any, source: State, transition: Any, machine: Any) -> None:
        # Before any state is exited: the configuration is the microstep's source one.
        leaf = source
        if not source.is_atomic:
            owned = owned_leaves(source)
            leaf = next(s for s in owned if s in machine.configuration)
        self.taken.append((transition, leaf.id, str(event) if event else None))


Config = tuple[str, ...]
Outcome = tuple[Config, dict[str, bool], list[Declared]]


class Explorer:
    """One chart instance, moved to a configuration, sent one event at a time."""

    def __init__(self, chart: type[StateChart[Any]], actions: type[ChartActions], prefer: Prefer) -> None:
        self.chart = chart
        self.model_class = _model_class(chart, actions)
        self.prefer = prefer
        self.main = turn_states(chart)
        self.order = {s.id: i for i, s in enumerate(chart.states_map.values())}
        self.by_state = events_by_state(chart)
        self.declared_events = [str(e) for e in chart.events]  # type: ignore[attr-defined]
        self.events_of: dict[frozenset[str], list[str]] = {}
        # Events that can only end the chart (``close``): a final configuration leads
        # nowhere, so they are tried only where one of their transitions is still unseen
        # (which also spares building a new machine after each: a final one stays stopped).
        self.ending = {
            e for e in self.declared_events
            if all(
                t.targets and all(x.final and x.parent is None for x in t.targets)
                for s in chart.states_map.values() for t in s.transitions if e in t.events
            )
        }
        self._new_machine()

    def answers(self, name: str, config: Config) -> tuple[bool, ...]:
        """The answers ``name`` may give in ``config``, the likeliest first."""
        said = self.prefer(name, config)
        return (said, not said) if isinstance(said, bool) else said

    def _new_machine(self) -> None:
        self.model = self.model_class()
        self.listener = _Taken()
        self.sm = self.chart(model=self.model, listeners=[self.listener])
        self.model.send = self.sm.send

    def events(self, config: Config) -> list[str]:
        leaves = frozenset(config)
        found = self.events_of.get(leaves)
        if found is None:
            takes = set().union(*(self.by_state.get(s, ()) for s in leaves))
            found = [
                e for e in self.declared_events
                if e in takes and e not in SKIPPED_EVENTS and e not in FOLLOW_UP_EVENTS
            ]
            self.events_of[leaves] = found
        return found

    def configuration(self) -> Config:
        return tuple(sorted(
            (str(s.id) for s in self.sm.configuration if s.is_atomic), key=self.order.__getitem__
        ))

    def run(self, config: Config, event: str, forced: dict[str, bool]) -> Outcome:
        if self.sm.is_terminated:
            # A final configuration stops the engine; only a new machine starts again.
            self._new_machine()
        states = self.chart.states_map
        active = OrderedSet(a for leaf in config for a in (*reversed(list(states[leaf].ancestors())), states[leaf]))
        self.sm.configuration = active
        self.model.forced, self.model.asked = forced, {}
        self.model.prefer = lambda name: self.answers(name, config)[0]
        self.listener.taken = []
        self.sm.send(event)
        return self.configuration(), dict(self.model.asked), list(self.listener.taken)

    def outcomes(self, config: Config, event: str) -> Iterator[Outcome]:
        """Every way the event can go from ``config``, one per branch of the guards asked."""
        pending: list[dict[str, bool]] = [{}]
        while pending:
            forced = pending.pop(0)
            after, asked, taken = self.run(config, event, forced)
            yield after, asked, taken
            # The guards answered as preferred on this branch: each also the other way,
            # with the ones asked before it kept, so every branch is run once.
            fresh = [name for name in asked if name not in forced]
            for i, name in enumerate(fresh):
                other = not asked[name]
                if other in self.answers(name, config):  # unless the data cannot answer so
                    pending.append({**forced, **{n: asked[n] for n in fresh[:i]}, name: other})

    def main_leaf(self, config: Config) -> str:
        return next((s for s in config if s in self.main), config[-1] if config else "closed")


Prefer = Callable[[str, tuple[str, ...]], "bool | tuple[bool, ...]"]
"""The answer a guard most likely gives in a configuration (its leaves), tried first; or
the only answers it can give there, likeliest first."""


def neutral_answers(actions: type[ChartActions], guards: Iterable[str]) -> dict[str, bool]:
    """The answers of a fresh ``actions`` (its neutral defaults), True where it has none."""
    model = actions()
    out: dict[str, bool] = {}
    for name in guards:
        method = getattr(model, name, None)
        try:
            out[name] = bool(method()) if callable(method) else True
        except TypeError:  # a guard that needs the event's data: no neutral answer
            out[name] = True
    return out
