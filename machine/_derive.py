"""Deriving a chart from AgentChart without touching it.

python-statemachine attaches transitions to the ``State`` objects of the class that
declares them, so a subclass that adds ``speaking.to(on_hold)`` adds it to AgentChart's own
``speaking``, for every agent in the process; and a subclass's guard is called *with* the
runtime's one of the same name (both must pass), so it can tighten a guard, never replace it.

So a derived chart is built from a *copy* of the declaration: :func:`chart_definition`
reads a chart class into python-statemachine's dict schema (its states, their entry and exit
actions, every transition with its guard and actions, in declaration order), the user's
additions and replacements are applied to the copy, and python-statemachine's own class
factory builds a new class from it. The copy holds names only (guards and actions are
resolved on the model and listeners when the chart runs), so a derived chart with nothing
changed behaves exactly as AgentChart does; a test walks both to show it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from statemachine import State, StateChart

from ._chart import AgentChart

__all__ = ["NewTransition", "chart_definition", "derive_chart"]

# Class attributes a derived chart keeps from its base (the behaviour switches).
_SETTINGS = ("allow_event_without_transition", "catch_errors_as_events", "enable_self_transition_entries")


@dataclass(frozen=True)
class NewTransition:
    """A transition to add: ``source --event [cond] / on--> target`` (``target=None``:
    targetless, it acts without leaving ``source``; ``event=None``: eventless)."""

    source: str
    event: str | None
    target: str | None
    cond: str | None = None
    on: str | None = None


def _names(specs: Iterable[Any]) -> list[str]:
    # The conventions (on_enter_<state>, on_<event>) are added again by the new class.
    return [str(s.func) for s in specs if not s.is_convention and isinstance(s.func, str)]


def _guards(transition: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for spec in transition.cond:
        if spec.is_convention or not isinstance(spec.func, str):
            continue
        out.setdefault("cond" if spec.expected_value is not False else "unless", []).append(str(spec.func))
    return out


def _transition(transition: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"target": str(transition.target.id) if transition.target is not None else None}
    if transition.internal:
        out["internal"] = True
    out.update(_guards(transition))
    for group in ("validators", "before", "on", "after"):
        names = _names(getattr(transition, group))
        if names:
            out[group] = names
    return out


def _state(state: State) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for flag in ("initial", "final", "parallel"):
        if getattr(state, flag):
            out[flag] = True
    for group in ("enter", "exit"):
        names = _names(getattr(state, group))
        if names:
            out[group] = names
    on: dict[str, list[dict[str, Any]]] = {}
    eventless: list[dict[str, Any]] = []
    for t in state.transitions:
        if t.initial:
            continue  # a compound's initial pointer: the child's initial flag says it
        events = [str(e) for e in t.events]
        if not events:
            eventless.append(_transition(t))
            continue
        spec = _transition(t)
        if len(events) > 1:  # one transition, several names (error_execution, error.execution)
            spec["event"] = " ".join(events[1:])
        on.setdefault(events[0], []).append(spec)
    if on:
        out["on"] = on
    if eventless:
        out["transitions"] = eventless
    if state.states:
        out["states"] = {str(child.id): _state(child) for child in state.states}
    return out


def chart_definition(chart: type[StateChart[Any]] = AgentChart) -> dict[str, Any]:
    """The chart's declaration as python-statemachine's dict schema (a fresh copy)."""
    top = [s for s in chart.states_map.values() if s.parent is None]
    return {str(s.id): _state(s) for s in top}


def _find(states: dict[str, Any], state_id: str) -> dict[str, Any] | None:
    for key, definition in states.items():
        if key == state_id:
            found_here: dict[str, Any] = definition
            return found_here
        found = _find(definition.get("states", {}), state_id)
        if found is not None:
            return found
    return None


def _rename_guards(states: dict[str, Any], guards: Mapping[str, str]) -> None:
    patterns = [(re.compile(rf"\b{re.escape(old)}\b"), new) for old, new in guards.items()]

    def rename(expr: str) -> str:
        for pattern, new in patterns:
            expr = pattern.sub(new, expr)
        return expr

    for definition in states.values():
        transitions = [t for ts in definition.get("on", {}).values() for t in ts]
        for t in transitions + definition.get("transitions", []):
            for key in ("cond", "unless"):
                if key in t:
                    t[key] = [rename(e) for e in t[key]]
        _rename_guards(definition.get("states", {}), guards)


def derive_chart(
    name: str,
    *,
    base: type[StateChart[Any]] = AgentChart,
    add_states: Mapping[str, Sequence[str] | Mapping[str, Mapping[str, Any]]] | None = None,
    add_transitions: Sequence[NewTransition] = (),
    replace_guards: Mapping[str, str] | None = None,
) -> type[StateChart[Any]]:
    """A new chart class: ``base``'s declaration with states added inside its regions (or
    any compound state), transitions added, and guards replaced by name. ``base`` is not
    changed. Methods for new guards and actions go on the model, a listener, or a subclass
    of the returned class (a subclass that declares no transitions changes nothing else).

    >>> Hold = derive_chart(
    ...     "Hold",
    ...     add_states={"turn": ["on_hold"]},
    ...     add_transitions=[NewTransition("speaking", "hold", "on_hold"),
    ...                      NewTransition("on_hold", "resume", "listening")],
    ...     replace_guards={"interruption_allowed": "long_enough"},
    ... )
    """
    states = copy.deepcopy(chart_definition(base))
    for parent, added in (add_states or {}).items():
        holder = _find(states, parent)
        if holder is None or "states" not in holder:
            raise ValueError(f"{base.__name__} has no compound state or region {parent!r}")
        new = {s: {} for s in added} if not isinstance(added, Mapping) else dict(added)
        for state_id in new:
            if _find(states, state_id) is not None:
                raise ValueError(f"{base.__name__} already has a state {state_id!r}")
        holder["states"].update(copy.deepcopy(new))
    if replace_guards:
        _rename_guards(states, replace_guards)
    for t in add_transitions:
        source = _find(states, t.source)
        if source is None:
            raise ValueError(f"no state {t.source!r} to add {t.event or '(eventless)'} to")
        if t.target is not None and _find(states, t.target) is None:
            raise ValueError(f"no state {t.target!r} for {t.source} --{t.event}-->")
        spec: dict[str, Any] = {"target": t.target}
        if t.cond:
            spec["cond"] = t.cond
        if t.on:
            spec["on"] = t.on
        if t.event is None:
            source.setdefault("transitions", []).append(spec)
        else:
            source.setdefault("on", {}).setdefault(t.event, []).append(spec)
    from statemachine.io import create_machine_class_from_definition  # only when deriving

    settings = {k: getattr(base, k) for k in _SETTINGS if hasattr(base, k)}
    derived = create_machine_class_from_definition(name, states, **settings)
    derived.__doc__ = f"{base.__name__}, derived: {name}."
    return derived
