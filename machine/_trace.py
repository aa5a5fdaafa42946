"""Traces: every transition the chart took, to assert on, save as JSONL, and draw.

A record names leaf states (``speaking``, not the compound ``active``), so a trace reads
like the diagram. Eventless transitions have ``event = None``.

With parallel regions each record belongs to one region (``record.region``): its source
and target are that region's leaf before and after, and ``record.configuration`` is every
region's leaf afterwards. The views and assertions look at the chart's main region (the
first region of its outermost parallel state, ``turn`` for the agent chart) unless told
``region=``. A chart without parallel states is one region, named ``turn``.
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["MAIN_REGION", "Trace", "TraceAssertionError", "TraceRecord"]

MAIN_REGION = "turn"
"""The region of records that name none (older traces), and of single-region charts."""

# Keyword arguments python-statemachine injects into callbacks; they are not event data.
_INJECTED = frozenset(
    {
        "event_data",
        "machine",
        "model",
        "transition",
        "state",
        "source",
        "target",
        "previous_configuration",
        "new_configuration",
        "event",
        "error",
    }
)

Collector = Callable[[type[Any], Any, "TraceRecord"], None]
# Set by chart coverage (``_coverage``) while it records: the listener reports each record
# with the chart class and the declared transition it took. One ``is None`` test otherwise.
_collector: Collector | None = None


def set_collector(collector: Collector | None) -> Collector | None:
    """Install (or remove, with None) the coverage collector; returns the one it replaces."""
    global _collector
    previous, _collector = _collector, collector
    return previous


class TraceRecord(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    t: float
    event: str | None
    source: str
    target: str
    data: dict[str, Any] = {}
    region: str = MAIN_REGION
    configuration: tuple[str, ...] = ()
    """Every active leaf after the transition, in document order (``("closed",)`` at the end)."""


class TraceAssertionError(AssertionError):
    pass


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in _INJECTED:
            continue
        if isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        elif isinstance(value, BaseModel):
            out[key] = value.model_dump(mode="json")
        elif isinstance(value, (list, tuple)):
            out[key] = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    return out


# The chart's regions, read once per chart class ---------------------------------------


def walk_states(states: Iterable[Any]) -> Iterator[Any]:
    for state in states:  # document order: a state before its children
        yield state
        yield from walk_states(state.states)


def _initial_leaf(state: Any) -> str:
    while state.states:  # a parallel state's first region stands for it, as the main one does
        state = state.states[0] if state.parallel else next((s for s in state.states if s.initial), state.states[0])
    return str(state.id)


class _Shape:
    """Where each state of one chart class lies, so a record costs dict look-ups, not walks."""

    def __init__(self, chart: type[Any]) -> None:
        states = list(walk_states(chart.states))
        self.regions = tuple(str(s.id) for s in states if s.parent is not None and s.parent.parallel)
        self.main = self.regions[0] if self.regions else MAIN_REGION
        # A state's region is the innermost one holding it; a state outside every region
        # (the parallel state itself, ``closed``) belongs to the main one.
        self.region_of: dict[str, str] = {}
        self._holders: dict[str, tuple[str, ...]] = {}  # leaf -> regions holding it, innermost first
        for state in states:
            holders = tuple(str(a.id) for a in (state, *state.ancestors()) if str(a.id) in self.regions)
            self.region_of[str(state.id)] = holders[0] if holders else self.main
            if state.is_atomic:
                self._holders[str(state.id)] = holders or (self.main,)
        self.initial_leaf = {str(s.id): _initial_leaf(s) for s in states}
        self._order = {leaf: i for i, leaf in enumerate(self._holders)}
        # Reachable configurations are few (a product of the regions' sizes): each is
        # sorted and split into regions once per chart class.
        self._settled: dict[frozenset[str], tuple[tuple[str, ...], dict[str, str]]] = {}

    def settle(self, configuration: Iterable[Any]) -> tuple[tuple[str, ...], dict[str, str]]:
        """The active leaves in document order, and each region's leaf."""
        key = frozenset(str(s.id) for s in configuration)
        found = self._settled.get(key)
        if found is None:
            leaves = sorted((s for s in key if s in self._order), key=self._order.__getitem__)
            by_region: dict[str, str] = {}
            for leaf in leaves:
                for region in self._holders[leaf]:
                    by_region.setdefault(region, leaf)
            found = self._settled[key] = (tuple(leaves), by_region)
        return found


_SHAPES: weakref.WeakKeyDictionary[type[Any], _Shape] = weakref.WeakKeyDictionary()


def chart_shape(chart: type[Any]) -> _Shape:
    """The regions of a chart class (cached per class: classes made in tests can be freed)."""
    shape = _SHAPES.get(chart)
    if shape is None:
        shape = _SHAPES[chart] = _Shape(chart)
    return shape


class _TraceListener:
    def __init__(self, trace: Trace) -> None:
        self._trace = trace
        self._shape: _Shape | None = None
        # A microstep may fire one transition per region; every after_transition of it sees
        # the configuration it ends in. What each region held before is what the previous
        # microstep left (kept by reference: an id could be reused once the step is freed).
        self._step: object = None
        self._seen: object = None
        self._configuration: tuple[str, ...] = ()
        self._before: dict[str, str] = {}
        self._after: dict[str, str] = {}

    def after_transition(
        self, event: Any, source: Any, machine: Any, event_data: Any, transition: Any, **kwargs: Any
    ) -> None:
        shape = self._shape
        if shape is None:
            shape = self._shape = chart_shape(type(machine))
            self._trace._attach(shape)
        step = event_data.trigger_data
        if step is not self._step:
            self._step = step
            self._before = self._after
            configuration = machine.configuration  # the same object until it changes
            if configuration is not self._seen:
                self._seen = configuration
                self._configuration, self._after = shape.settle(configuration)
        region = shape.region_of[source.id]
        # A transition declared on a compound (or the parallel state) names it as source;
        # the leaf it left is the one the region held before this microstep.
        left = source.id if source.is_atomic else self._before.get(region) or shape.initial_leaf[source.id]
        after = self._after
        record = TraceRecord(
            t=time.monotonic() - self._trace.started,
            event=str(event) if event else None,
            source=left,
            target=after.get(region) or after.get(shape.main) or "closed",
            data=_jsonable(kwargs),
            region=region,
            configuration=self._configuration,
        )
        self._trace.records.append(record)
        for follow in self._trace.followers:
            follow(record)
        collector = _collector
        if collector is not None:
            collector(type(machine), transition, record)


class Trace:
    """Records transitions while attached (``chart(listeners=[trace.listener()])``)."""

    def __init__(
        self,
        records: Iterable[TraceRecord] = (),
        *,
        max_records: int | None = None,
        main_region: str | None = None,
    ) -> None:
        # A deque with maxlen keeps the newest records once a long session passes the bound.
        self.records: deque[TraceRecord] = deque(records, maxlen=max_records)
        self.started = time.monotonic()
        self.followers: list[Callable[[TraceRecord], None]] = []
        """Called with each record as it is appended (an inspector's wake-up): cheaper
        than a chart listener of one's own, which the engine calls through its machinery."""
        self._main = main_region
        self._declared: tuple[str, ...] = ()

    def listener(self) -> object:
        return _TraceListener(self)

    def _attach(self, shape: _Shape) -> None:
        if self._main is None:
            self._main = shape.main
        self._declared = shape.regions or (shape.main,)

    # Regions ------------------------------------------------------------------------
    @property
    def regions(self) -> list[str]:
        """The regions the records name, in the order first seen."""
        return list(dict.fromkeys(r.region for r in self.records))

    @property
    def main_region(self) -> str:
        """The region the views look at by default: the chart's first, once attached to one.

        A trace read from a file takes ``turn`` when its records name it (or none), else
        the first region they name; pass ``main_region=`` to say otherwise.
        """
        if self._main is not None:
            return self._main
        seen = self.regions
        return MAIN_REGION if not seen or MAIN_REGION in seen else seen[0]

    def region(self, name: str) -> Trace:
        """The records of one region, as a trace whose views and assertions are about it."""
        view = Trace(self._records(name), main_region=name)
        view._declared = self._declared
        return view

    def _records(self, region: str | None) -> list[TraceRecord]:
        name = self.main_region if region is None else region
        records = [r for r in self.records if r.region == name]
        if not records and region is not None:
            known = dict.fromkeys((*self._declared, *self.regions, self.main_region))
            if name not in known:
                raise ValueError(f"no region {name!r} in this trace; known regions: {', '.join(known)}")
        return records

    # Views (the main region's; ``trace.region(name)`` for another) -----------------
    @property
    def path(self) -> list[str]:
        """The leaf states visited in order, without self-transitions."""
        return _path(self._records(None))

    @property
    def transitions(self) -> list[tuple[str | None, str, str]]:
        return [(r.event, r.source, r.target) for r in self._records(None)]

    @property
    def events(self) -> list[str | None]:
        return [r.event for r in self._records(None)]

    @property
    def final_state(self) -> str | None:
        records = self._records(None)
        return records[-1].target if records else None

    @property
    def configurations(self) -> list[tuple[str, ...]]:
        """Every region's leaf after each record (all regions' records, in order)."""
        return [r.configuration for r in self.records]

    # Assertions ---------------------------------------------------------------------
    def assert_path(self, *expected: str, region: str | None = None) -> None:
        """The states visited are exactly ``expected``."""
        path = _path(self._records(region))
        if path != list(expected):
            raise TraceAssertionError(self._diff("path", list(expected), path) + self._elsewhere(expected, region))

    def assert_visits(self, *expected: str, region: str | None = None) -> None:
        """``expected`` appears in the visited states in order (other states may come between)."""
        path = _path(self._records(region))
        matched: list[int] = []  # the step of the path each expected state matched
        for want in expected:
            start = matched[-1] + 1 if matched else 0
            try:
                matched.append(path.index(want, start))
            except ValueError:
                message = _visits_failure(list(expected), matched, path)
                raise TraceAssertionError(message + self._elsewhere(expected, region)) from None

    def assert_transitions(
        self, expected: Sequence[tuple[str | None, str, str]], *, region: str | None = None
    ) -> None:
        """The transitions taken are exactly ``expected`` (event, source, target)."""
        actual = [(r.event, r.source, r.target) for r in self._records(region)]
        if actual != [tuple(t) for t in expected]:
            raise TraceAssertionError(self._diff("transitions", list(expected), actual))

    def assert_never(self, source: str, target: str, *, region: str | None = None) -> None:
        """No record went from ``source`` to ``target``: in any region, unless one is named.

        State ids are unique across a chart, so looking everywhere cannot mistake one
        region's transition for another's, and never passes for want of looking.
        """
        records = list(self.records) if region is None else self._records(region)
        hits = [r for r in records if r.source == source and r.target == target]
        if hits:
            raise TraceAssertionError(
                f"transition {source} -> {target} happened {len(hits)} time(s)"
                f" (region {hits[0].region})\n"
                f"  actual path: {' -> '.join(_path(self._records(hits[0].region)))}"
            )

    def _elsewhere(self, expected: Sequence[str], region: str | None) -> str:
        """A failure's hint: expected states that only another region's records name."""
        name = self.main_region if region is None else region
        owners: dict[str, str] = {}
        for r in self.records:
            if r.region != name:
                owners.setdefault(r.source, r.region)
                owners.setdefault(r.target, r.region)
        here = {s for r in self.records if r.region == name for s in (r.source, r.target)}
        notes = [f"{s} is in region {owners[s]!r}" for s in dict.fromkeys(expected) if s in owners and s not in here]
        if not notes:
            return ""
        return f"\n  note: this is region {name!r}; {'; '.join(notes)} (pass region=...)"

    def _diff(self, what: str, expected: list[Any], actual: list[Any]) -> str:
        def fmt(seq: list[Any]) -> str:
            return " -> ".join(map(str, seq)) if seq and isinstance(seq[0], str) else repr(seq)

        i = next((k for k, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b), None)
        where = f" (first difference at step {i})" if i is not None else ""
        return f"{what} differs{where}\n  expected: {fmt(expected)}\n  actual:   {fmt(actual)}"

    # JSONL --------------------------------------------------------------------------
    def to_jsonl(self) -> str:
        return "".join(r.model_dump_json() + "\n" for r in self.records)

    def write_jsonl(self, path: str | Path) -> None:
        Path(path).write_text(self.to_jsonl(), encoding="utf-8")

    @classmethod
    def read_jsonl(cls, path: str | Path, *, main_region: str | None = None) -> Trace:
        """Records written by :meth:`write_jsonl`; lines from before regions read as ``turn``."""
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        records = (TraceRecord.model_validate_json(line) for line in lines if line.strip())
        return cls(records, main_region=main_region)

    def __len__(self) -> int:
        return len(self.records)


def _path(records: Sequence[TraceRecord]) -> list[str]:
    if not records:
        return []
    path = [records[0].source]
    for r in records:
        if r.target != path[-1]:
            path.append(r.target)
    return path


def _visits_failure(expected: list[str], matched: list[int], path: list[str]) -> str:
    """Where the expected subsequence stopped matching: the state never reached, and after what."""
    k = len(matched)
    want = expected[k]
    where = f"after step {matched[-1]} ({path[matched[-1]]})" if matched else "at all"
    earlier = [i for i, s in enumerate(path) if s == want]
    seen = f"; it was visited only before that, at step {earlier[0]}" if earlier else ""
    prefix = ", ".join(f"{expected[j]} (step {i})" for j, i in enumerate(matched)) or "nothing"
    return (
        f"visits (in order) stopped matching at expected state {k + 1} of {len(expected)}: "
        f"{want} was not visited {where}{seen}\n"
        f"  matched so far: {prefix}\n"
        f"  expected (in order, others may come between): {' -> '.join(expected)}\n"
        f"  actual path (steps from 0): {' -> '.join(path) or '(no transitions)'}"
    )
