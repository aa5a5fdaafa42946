"""python-statemachine's synchronous engine, with what a chart's declaration decides worked
out once per chart class instead of on every event of every instance.

The engine selects, for every active atomic state, the first transition of that state or
an ancestor whose event matches and whose guards pass (SCXML's selection), then exits the
states the chosen transitions leave and enters the ones they reach. Besides the guards and
the callbacks, all of that is a pure function of the declaration and the configuration:

* which transitions of a configuration's atomic states take an event (``Event.match``
  splits names and handles wildcards, over four regions' chains of ~90 transitions);
* which of several enabled transitions conflict (two regions' transitions whose exit sets
  overlap: the one declared first wins, a descendant's over its ancestor's);
* the states a set of transitions exits and enters, in order, and the configuration after.

So each is computed on first use and kept, keyed by the configuration's state values, in
a table shared by every instance of the chart class. A process running a hundred sessions
pays for each configuration once, not once per session: a session lives a few dozen turns,
and an instance's own cache would stay cold for most of them. Guards are still evaluated
on every event, and every callback runs, in the same order, so behaviour is unchanged.

The overridden steps are the library's private ones, as of python-statemachine 3.2 (the
dependency is pinned to that minor version; ``tests/test_engine.py`` holds this engine to the
library's own on random event sequences).

A chart with history states is not planned (the states a transition enters then depend on
what was active before, not on the configuration): it runs on the plain engine's methods.
"""

from __future__ import annotations

from itertools import chain
from typing import Any
from weakref import WeakKeyDictionary

from statemachine.engines.base import StateTransition
from statemachine.engines.sync import SyncEngine
from statemachine.orderedset import OrderedSet

__all__ = ["IndexedEngine"]

Key = tuple[Any, ...]


class _Plans:
    """One chart class's memo: every table grows only with the configurations it visits."""

    def __init__(self, chart: Any) -> None:
        self.enabled = not any(state.history for state in chart.states_map.values())
        # Only the declaration's transitions are planned: the engine makes others on the
        # fly (each activation's initial entry), and keying on those would grow forever.
        self.declared = frozenset(t for state in chart.states_map.values() for t in state.transitions)
        self.events = frozenset(str(e) for t in self.declared for e in t.events)
        self.candidates: dict[tuple[Key, str | None], tuple[tuple[Any, ...], ...]] = {}
        self.conflicts: dict[tuple[tuple[Any, ...], Key], tuple[Any, ...]] = {}
        self.exits: dict[tuple[tuple[Any, ...], Key], tuple[tuple[tuple[Any, Any], ...], tuple[Any, ...]]] = {}
        self.entries: dict[tuple[tuple[Any, ...], Key], tuple[Any, ...]] = {}


_PLANS: WeakKeyDictionary[type, _Plans] = WeakKeyDictionary()


def _plans(chart: Any) -> _Plans:
    cls = type(chart)
    plans = _PLANS.get(cls)
    if plans is None:
        plans = _PLANS[cls] = _Plans(chart)
    return plans


class IndexedEngine(SyncEngine):
    def __init__(self, sm: Any) -> None:
        super().__init__(sm)
        self._plans = _plans(sm)
        self._raw: Any = None  # the configuration value the key below was made from
        self._key: Key = ()

    def _config_key(self) -> Key:
        # The engine replaces the model's value on every change (copy on write), so the
        # same object means the same configuration: the key is rebuilt once per change.
        raw = self.sm.current_state_value
        if raw is not self._raw:
            self._raw = raw
            self._key = tuple(raw) if isinstance(raw, OrderedSet) else (raw,)
        return self._key

    def _instance(self, value: Any) -> Any:
        return self.sm._config._instance_states[value]

    # Selection -------------------------------------------------------------------------
    def select_transitions(self, trigger_data: Any) -> Any:
        return self._select(trigger_data, str(trigger_data.event))

    def select_eventless_transitions(self, trigger_data: Any) -> Any:
        return self._select(trigger_data, None)

    def _candidates(self, event: str | None) -> tuple[tuple[Any, ...], ...]:
        """Per active atomic state, in configuration order: the transitions of it and its
        ancestors that take ``event``, in the order the engine tries them."""
        key = (self._config_key(), event)
        found = self._plans.candidates.get(key)
        if found is None:
            found = tuple(
                tuple(
                    t
                    for s in chain([state], state.ancestors())
                    for t in s.transitions
                    if not t.initial and (t.is_eventless if event is None else t.match(event))
                )
                for state in self.sm.configuration
                if state.is_atomic
            )
            if event is None or event in self._plans.events:  # not every name ever sent
                self._plans.candidates[key] = found
        return found

    def _select(self, trigger_data: Any, event: str | None) -> Any:
        enabled: list[Any] = []
        for transitions in self._candidates(event):
            for transition in transitions:
                if self._conditions_match(transition, trigger_data):
                    enabled.append(transition)
                    break
        if len(enabled) <= 1:
            return OrderedSet(enabled)  # nothing to conflict with
        key = (tuple(enabled), self._config_key())
        kept = self._plans.conflicts.get(key)
        if kept is None:
            kept = self._plans.conflicts[key] = tuple(self._filter_conflicting_transitions(OrderedSet(enabled)))
        return OrderedSet(kept)

    def _filter_conflicting_transitions(self, transitions: Any) -> Any:
        if len(transitions) <= 1:
            return transitions
        exits = {t: self._compute_exit_set([t]) for t in transitions}  # each once, not per pair
        kept: OrderedSet[Any] = OrderedSet()
        for t1 in transitions:
            losers: list[Any] = []
            preempted = False
            for t2 in kept:
                if exits[t1] & exits[t2]:
                    if t1.source.is_descendant(t2.source):
                        losers.append(t2)  # the more specific source wins
                    else:
                        preempted = True  # the earlier one wins
                        break
            if not preempted:
                for t in losers:
                    kept.discard(t)
                kept.add(t1)
        return kept

    # Exit and entry ----------------------------------------------------------------------
    def _planned(self, transitions: tuple[Any, ...]) -> bool:
        """May these be planned? Asked on a miss only: a plan found was made for them."""
        return self._plans.enabled and self._plans.declared.issuperset(transitions)

    def _prepare_exit_states(self, enabled_transitions: Any) -> Any:
        transitions = tuple(enabled_transitions)
        key = (transitions, self._config_key())
        plan = self._plans.exits.get(key)
        if plan is None:
            if not self._planned(transitions):
                return super()._prepare_exit_states(enabled_transitions)
            ordered, exited = super()._prepare_exit_states(enabled_transitions)
            # Kept as state values: the states themselves are this instance's proxies.
            plan = self._plans.exits[key] = (
                tuple((info.transition, info.state.value) for info in ordered),
                tuple(state.value for state in exited),
            )
        instance = self._instance
        return (
            [StateTransition(transition=t, state=instance(v)) for t, v in plan[0]],
            OrderedSet(instance(v) for v in plan[1]),
        )

    def _prepare_entry_states(self, enabled_transitions: Any, states_to_exit: Any, previous_configuration: Any) -> Any:
        transitions = tuple(enabled_transitions)
        key = (transitions, tuple(s.value for s in previous_configuration))
        plan = self._plans.entries.get(key)
        if plan is None:
            if not self._planned(transitions):
                return super()._prepare_entry_states(enabled_transitions, states_to_exit, previous_configuration)
            ordered, default_entry, _no_history, configuration = super()._prepare_entry_states(
                enabled_transitions, states_to_exit, previous_configuration
            )
            # The entered states are the declaration's own (the engine enters transition
            # targets), shared by every instance; the new configuration is kept as values.
            plan = self._plans.entries[key] = (
                tuple(ordered), tuple(default_entry), tuple(s.value for s in configuration)
            )
        ordered, default_entry, values = plan
        instance = self._instance
        return list(ordered), OrderedSet(default_entry), {}, OrderedSet(instance(v) for v in values)
