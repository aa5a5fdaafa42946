"""A user's listeners, checked against the chart before it runs.

python-statemachine calls a listener's methods by name: ``on_enter_<state>``,
``before_<event>``, a guard the chart names in ``cond``... A name that matches nothing is
never called, and nothing says so: ``on_enter_speakin`` is a hook that silently never runs.
So a listener's methods that follow the naming conventions, or are one typo away from a
guard or action the chart names, must name something in the chart, or a warning says which.
"""

from __future__ import annotations

import difflib
import inspect
import keyword
import re
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = ["ListenerWarning", "check_listener", "refuse_async_callbacks"]

# Called on every chart whatever its states and events (python-statemachine's generic hooks).
_GENERIC = frozenset(
    {
        "prepare_event",
        "before_transition",
        "on_transition",
        "after_transition",
        "on_enter_state",
        "on_exit_state",
        "on_invoke_state",
    }
)
_STATE_PREFIXES = ("on_enter_", "on_exit_", "on_invoke_")
_EVENT_PREFIXES = ("before_", "after_", "on_")
# The groups of a state's and a transition's callbacks that hold names the engine looks up.
_STATE_GROUPS = ("enter", "exit", "invoke")
_TRANSITION_GROUPS = ("validators", "cond", "before", "on", "after")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


class ListenerWarning(UserWarning):
    """A listener method the chart will never call (a misspelled state, event or guard)."""


def refuse_async_callbacks(listener: object) -> None:
    for name in dir(listener):
        if name.startswith("__"):
            continue
        attr = getattr(listener, name, None)
        if inspect.iscoroutinefunction(attr):
            raise TypeError(
                f"listener {type(listener).__name__}.{name} is async: chart callbacks must not "
                "await (it would delay barge-ins); start a task from a sync callback instead"
            )


def check_listener(listener: object, chart: type[Any]) -> list[str]:
    """Warn (:class:`ListenerWarning`) about each of ``listener``'s methods that ``chart``
    will never call although its name says it means to; returns the warnings' texts."""
    states, events, named = _chart_names(chart)
    conventional = _GENERIC | {p + s for p in _STATE_PREFIXES for s in states}
    conventional |= {p + e for p in _EVENT_PREFIXES for e in events}
    known = conventional | named
    messages = []
    for name in _public_methods(listener):
        if name in known:
            continue
        if name.startswith(_STATE_PREFIXES + _EVENT_PREFIXES):
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
            what = _what_it_names(name, states, events, listed=not close)
        else:
            # Any other method may be a helper; one a letter or two from a guard or an
            # action the chart names is almost surely that guard, misspelled.
            close = difflib.get_close_matches(name, sorted(named), n=1, cutoff=0.85)
            if not close:
                continue
            what = f"names no guard or action {name!r}"
        hint = f"; did you mean {close[0]}?" if close else ""
        messages.append(
            f"listener {type(listener).__name__}.{name} is never called: "
            f"{chart.__name__} {what}{hint}"
        )
    for message in messages:
        warnings.warn(message, ListenerWarning, stacklevel=3)
    return messages


def _what_it_names(name: str, states: frozenset[str], events: frozenset[str], *, listed: bool) -> str:
    for prefix in _STATE_PREFIXES:
        if name.startswith(prefix):
            which = f" (its states: {_listed(states)})" if listed else ""
            return f"has no state {name.removeprefix(prefix)!r}{which}"
    rest = next(name.removeprefix(p) for p in _EVENT_PREFIXES if name.startswith(p))
    which = f" (its events: {_listed(events)})" if listed else ""
    return f"has no event {rest!r}{which}"


def _listed(names: frozenset[str]) -> str:
    return ", ".join(sorted(names))


def _public_methods(listener: object) -> Iterator[str]:
    for name in dir(listener):
        if name.startswith("_"):
            continue
        try:
            attr = inspect.getattr_static(listener, name)
        except AttributeError:
            continue
        if callable(attr) or isinstance(attr, (staticmethod, classmethod)):
            yield name


def _chart_names(chart: type[Any]) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The chart's state ids, event names, and the guard and action names it refers to."""
    states = frozenset(str(s.id) for s in chart.states_map.values())
    events: set[str] = set()
    named: set[str] = set()
    for state in chart.states_map.values():
        named.update(_spec_names(state, _STATE_GROUPS))
        for transition in state.transitions:
            events.update(str(e) for e in transition.events)
            named.update(_spec_names(transition, _TRANSITION_GROUPS))
    events = {e for e in events if e.isidentifier()}
    return states, frozenset(events), frozenset(named - _GENERIC)


def _spec_names(owner: object, groups: tuple[str, ...]) -> Iterator[str]:
    for group in groups:
        for spec in getattr(owner, group, ()) or ():
            name = getattr(spec, "attr_name", None)
            if isinstance(name, str) and not getattr(spec, "is_convention", False):
                # A cond may be an expression ("a and not b"): each identifier is looked up.
                yield from (w for w in _IDENTIFIER.findall(name) if not keyword.iskeyword(w))
