"""python-statemachine's synchronous engine, with each state's candidate transitions per
event looked up once instead of matched on every event.

The engine selects, for every active atomic state, the first transition of that state or
an ancestor whose event matches and whose guards pass (SCXML's selection). It matches the
event against every transition of the chain each time (``Event.match`` splits names and
handles wildcards), which is most of a dispatch in a chart with parallel regions: four
regions' chains, ~90 transitions, on every event. The candidates for a (state, event) pair
never change after the class is built, so they are computed on first use and kept; guards
are still evaluated on every event, in the same order, so the selection is the same.

The conflict filter (two regions' transitions whose exit sets overlap: the one declared
first wins, a descendant's over its ancestor's) computed both exit sets again for every
pair; here each is computed once per event, and a single transition skips it.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from statemachine.engines.sync import SyncEngine
from statemachine.orderedset import OrderedSet

__all__ = ["IndexedEngine"]


class IndexedEngine(SyncEngine):
    def __init__(self, sm: Any) -> None:
        super().__init__(sm)
        self._candidates: dict[tuple[Any, str | None], tuple[Any, ...]] = {}

    def select_transitions(self, trigger_data: Any) -> Any:
        return self._select(trigger_data, str(trigger_data.event))

    def select_eventless_transitions(self, trigger_data: Any) -> Any:
        return self._select(trigger_data, None)

    def _candidates_for(self, state: Any, event: str | None) -> tuple[Any, ...]:
        key = (state, event)
        found = self._candidates.get(key)
        if found is None:
            found = self._candidates[key] = tuple(
                t
                for s in chain([state], state.ancestors())
                for t in s.transitions
                if not t.initial and (t.is_eventless if event is None else t.match(event))
            )
        return found

    def _select(self, trigger_data: Any, event: str | None) -> Any:
        enabled: OrderedSet[Any] = OrderedSet()
        for state in self.sm.configuration:
            if not state.is_atomic:
                continue
            for transition in self._candidates_for(state, event):
                if self._conditions_match(transition, trigger_data):
                    enabled.add(transition)
                    break
        return self._filter_conflicting_transitions(enabled)

    def _filter_conflicting_transitions(self, transitions: Any) -> Any:
        if len(transitions) <= 1:
            return transitions  # nothing to conflict with
        exits = {t: self._compute_exit_set([t]) for t in transitions}
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
