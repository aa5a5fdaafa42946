"""The chart as something to draw.

:func:`chart_model` reads a chart class the way its declaration reads: states in document
order, one edge per declared transition (a transition declared on the compound ``active``
is one edge, not one per leaf). A trace is laid over it by counting, per edge, the records
that took it. ``_dot`` and ``_mermaid`` only turn that model into text, so both formats
show the same edges with the same labels.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from statemachine import State, StateChart

from turnstile.machine import AgentChart, Trace

from ._overlay import with_trace

__all__ = [
    "Chart",
    "ChartEdge",
    "ChartModel",
    "ChartNode",
    "chart_model",
    "states_not_in_chart",
]

Chart = type[StateChart[Any]]


# The model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartNode:
    id: str
    parent: str | None
    compound: bool
    final: bool
    initial_leaf: str
    """The leaf the chart settles in when it enters this state (in a parallel state's
    first region: the one a single-leaf record names)."""
    entry: tuple[str, ...] = ()
    """Declared entry actions (``State(enter=...)``), drawn inside the state."""
    exit: tuple[str, ...] = ()
    parallel: bool = False
    """A ``State.Parallel``: its children are regions, all active at once."""
    region: str | None = None
    """The innermost region (child of a parallel state) this state is, or lies in."""
    entry_leaves: tuple[str, ...] = ()
    """Every leaf the chart enters with this state: one per region of a parallel state."""

    @property
    def action_lines(self) -> list[str]:
        """UML's internal compartment: ``entry / action`` and ``exit / action``."""
        return [f"entry / {', '.join(self.entry)}"] * bool(self.entry) + [
            f"exit / {', '.join(self.exit)}"
        ] * bool(self.exit)


@dataclass(frozen=True)
class ChartEdge:
    key: int
    """Declaration order; stable, so the drawing is too."""
    event: str | None
    """The name shown; None for an eventless transition."""
    aliases: tuple[str, ...]
    """Every event id that takes this transition (``error_x`` also answers to ``error.x``)."""
    source: str
    """Where it is declared: a leaf, or a compound for a transition every child shares."""
    target: str | None
    """As declared (may be a compound); None for a targetless transition."""
    conds: tuple[str, ...]
    actions: tuple[str, ...]
    internal: bool
    merged: tuple[ChartEdge, ...] = ()
    """Other declared transitions drawn as this same edge (same source, target and
    actions): one arrow with a line per trigger, not a bundle of arrows."""

    @property
    def own_trigger(self) -> str:
        """``event [guard]``: what makes this declared transition fire."""
        guard = f" [{' and '.join(self.conds)}]" if self.conds else ""
        return f"{self.event or '(auto)'}{guard}"

    @property
    def triggers(self) -> tuple[str, ...]:
        """The triggers of every transition this edge stands for."""
        return (self.own_trigger, *(e.own_trigger for e in self.merged))

    @property
    def trigger(self) -> str:
        return ", ".join(self.triggers)

    @property
    def keys(self) -> tuple[int, ...]:
        return (self.key, *(e.key for e in self.merged))

    @property
    def effect(self) -> str:
        return ", ".join(self.actions)

    @property
    def label(self) -> str:
        return f"{self.trigger} / {self.effect}" if self.actions else self.trigger


@dataclass(frozen=True)
class ChartModel:
    name: str
    nodes: tuple[ChartNode, ...]
    """Document order: a compound comes before its children."""
    edges: tuple[ChartEdge, ...]
    initial: str
    """The top-level initial state."""
    counts: Mapping[int, int] | None = None
    """Per edge key, how often the trace took it; None when drawn without a trace."""
    final_state: str | None = None
    """The leaf the trace's last record ended in."""
    final_states: tuple[str, ...] = ()
    """The configuration the trace ended in: a leaf per region (one outside regions)."""
    _by_id: dict[str, ChartNode] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {n.id: n for n in self.nodes})  # frozen: set once

    def has(self, state_id: str) -> bool:
        return state_id in self._by_id

    def node(self, state_id: str) -> ChartNode:
        return self._by_id[state_id]

    def children(self, state_id: str | None) -> list[ChartNode]:
        return [n for n in self.nodes if n.parent == state_id]

    def is_region(self, state_id: str) -> bool:
        parent = self.node(state_id).parent
        return parent is not None and self.node(parent).parallel

    def contains(self, ancestor: str, state_id: str) -> bool:
        """``state_id`` is ``ancestor`` or nested (at any depth) inside it."""
        here: str | None = state_id
        while here is not None:
            if here == ancestor:
                return True
            here = self.node(here).parent
        return False

    def count(self, edge: ChartEdge) -> int | None:
        """How often the trace took the transitions this edge stands for."""
        if self.counts is None:
            return None
        return sum(self.counts.get(key, 0) for key in edge.keys)


def _walk(states: Any) -> Iterator[State]:
    for state in states:
        yield state
        yield from _walk(state.states)


def _initial_child(state: State) -> State:
    return next((s for s in state.states if s.initial), state.states[0])


def _initial_leaf(state: State) -> str:
    while state.states:
        state = _initial_child(state)
    return str(state.id)


def _entry_leaves(state: State) -> tuple[str, ...]:
    if not state.states:
        return (str(state.id),)
    if state.parallel:
        return tuple(leaf for region in state.states for leaf in _entry_leaves(region))
    return _entry_leaves(_initial_child(state))


def _region(state: State) -> str | None:
    here: State | None = state
    while here is not None and here.parent is not None:
        if here.parent.parallel:
            return str(here.id)
        here = here.parent
    return None


def _name(func: Any) -> str:
    # Names as written in the declaration; callables by __name__, never a repr with an
    # address, so the output is the same on every run.
    return func if isinstance(func, str) else getattr(func, "__name__", type(func).__name__)


def _guards(transition: Any) -> tuple[str, ...]:
    out = []
    for spec in transition.cond:
        name = _name(spec.func)
        if spec.expected_value is False:  # declared with unless=
            name = f"not ({name})" if " " in name else f"not {name}"
        out.append(name)
    return tuple(out)


def _actions(transition: Any) -> tuple[str, ...]:
    # Convention callbacks (on_transition, on_<event>, ...) exist on every transition
    # whether or not anyone defines them; only the declared ones say what the edge does.
    groups = (transition.before, transition.on, transition.after)
    return tuple(_name(s.func) for specs in groups for s in specs if not s.is_convention)


def _declared(specs: Any) -> tuple[str, ...]:
    # As for transitions: on_enter_<state> and the like are conventions, not declarations.
    return tuple(_name(s.func) for s in specs if not s.is_convention)


def _events(transition: Any) -> list[tuple[str | None, tuple[str, ...]]]:
    """(shown name, aliases) per event; ``error_x`` and ``error.x`` are one event."""
    ids = [str(e) for e in transition.events]
    if not ids:
        return [(None, ())]
    groups: dict[str, list[str]] = {}
    for event_id in ids:
        groups.setdefault(event_id.replace(".", "_"), []).append(event_id)
    # Show the SCXML dotted form when there is one: it is the name the engine raises.
    return [(max(a, key=lambda e: e.count(".")), tuple(a)) for a in groups.values()]


def _edges(chart: Chart) -> list[ChartEdge]:
    edges: list[ChartEdge] = []
    for state in _walk(chart.states):
        for t in state.transitions:
            if t.initial:  # the compound's entry into its initial child, drawn as a point
                continue
            for event, aliases in _events(t):
                edges.append(
                    ChartEdge(
                        key=len(edges),
                        event=event,
                        aliases=aliases,
                        source=str(state.id),
                        target=str(t.targets[0].id) if t.targets else None,
                        conds=_guards(t),
                        actions=_actions(t),
                        internal=bool(t.internal),
                    )
                )
    return edges


def _nodes(chart: Chart) -> list[ChartNode]:
    return [
        ChartNode(
            id=str(s.id),
            parent=str(s.parent.id) if s.parent is not None else None,
            compound=bool(s.states),
            final=bool(s.final),
            initial_leaf=_initial_leaf(s),
            entry=_declared(s.enter),
            exit=_declared(s.exit),
            parallel=bool(s.parallel),
            region=_region(s),
            entry_leaves=_entry_leaves(s),
        )
        for s in _walk(chart.states)
    ]


def _merged(edges: list[ChartEdge]) -> list[ChartEdge]:
    """One edge per (source, target, actions, internal), in declaration order: the first
    declared stands for the others (targetless edges stay one compartment line each)."""
    groups: dict[tuple[str, str, tuple[str, ...], bool], list[ChartEdge]] = {}
    out: list[ChartEdge] = []
    for edge in edges:
        if edge.target is None:
            out.append(edge)
            continue
        group = groups.setdefault((edge.source, edge.target, edge.actions, edge.internal), [])
        if not group:
            out.append(edge)
        group.append(edge)
    return [
        replace(e, merged=tuple(groups[(e.source, e.target, e.actions, e.internal)][1:]))
        if e.target is not None else e
        for e in out
    ]


def chart_model(chart: Chart = AgentChart, trace: Trace | None = None) -> ChartModel:
    initial = chart.initial_state
    if initial is None:
        raise ValueError(f"{chart.__name__} has no initial state to draw from")
    model = ChartModel(
        name=chart.__name__,
        nodes=tuple(_nodes(chart)),
        edges=tuple(_merged(_edges(chart))),
        initial=str(initial.id),
    )
    return model if trace is None else with_trace(model, trace)


def states_not_in_chart(chart: Chart, trace: Trace) -> list[str]:
    """States the trace names that the chart does not declare, in the order first seen.

    Their records match no edge and are not drawn: a trace of another chart, or of an
    older version of this one.
    """
    declared = {str(s.id) for s in _walk(chart.states)}
    named = (state for r in trace.records for state in (r.source, r.target))
    return list(dict.fromkeys(s for s in named if s not in declared))
