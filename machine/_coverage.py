"""Chart coverage: which declared transitions the traced charts took, and which they never did.

While a :class:`CoverageCollector` is started, every trace listener reports each record
with its chart class and the declared transition it took (the engine hands the listener
the transition itself, so nothing is guessed from state names). The report enumerates
every declared transition of every region from the chart class and marks those never
taken. ``pytest --turnstile-coverage`` runs one for the whole test session.

Guard outcomes: a guarded transition that was taken had its guard true. Its guard was
false when the engine, selecting for the same event from the same leaf, tried it and took
a transition declared after it: the report counts those. A false guard of an event that no
transition took at all leaves no record, so "false never seen" is an upper bound.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._trace import Collector, Trace, TraceRecord, chart_shape, set_collector, walk_states

__all__ = ["ChartCoverage", "CoverageCollector", "CoverageReport", "DeclaredTransition", "RegionCoverage"]

# (chart class, declared transition, event, region, leaf left, leaf entered)
_Key = tuple[type[Any], Any, str | None, str, str, str]


def _event_id(event: str | None) -> str | None:
    # ``error.execution`` and ``error_execution`` are one event (SCXML's dotted form).
    return event.replace(".", "_") if event else None


def _name(func: Any) -> str:
    return func if isinstance(func, str) else getattr(func, "__name__", type(func).__name__)


@dataclass(frozen=True)
class DeclaredTransition:
    """One declared transition for one of its events: a line of the chart's declaration."""

    region: str
    source: str
    """Where it is declared: a leaf, a compound, or the parallel state."""
    event: str | None
    """None for an eventless transition."""
    target: str | None
    """None for a targetless one."""
    guards: tuple[str, ...]
    taken: int = 0
    guard_false: int = 0
    """How often its guard was seen false (only counted for a guarded transition)."""

    @property
    def label(self) -> str:
        guard = f" [{' and '.join(self.guards)}]" if self.guards else ""
        return f"{self.source} --{self.event or '(eventless)'}{guard}--> {self.target or '(no target)'}"


@dataclass(frozen=True)
class RegionCoverage:
    name: str
    transitions: tuple[DeclaredTransition, ...]

    @property
    def taken(self) -> int:
        return sum(1 for t in self.transitions if t.taken)

    @property
    def never_taken(self) -> list[DeclaredTransition]:
        return [t for t in self.transitions if not t.taken]

    @property
    def percent(self) -> float:
        return _percent(self.taken, len(self.transitions))


@dataclass(frozen=True)
class ChartCoverage:
    chart: type[Any]
    regions: tuple[RegionCoverage, ...]
    records: int
    """How many records the charts of this class made during the run."""

    @property
    def name(self) -> str:
        return f"{self.chart.__module__}.{self.chart.__qualname__}"

    @property
    def transitions(self) -> list[DeclaredTransition]:
        return [t for r in self.regions for t in r.transitions]

    @property
    def taken(self) -> int:
        return sum(r.taken for r in self.regions)

    @property
    def percent(self) -> float:
        return _percent(self.taken, len(self.transitions))

    @property
    def guard_false_never_seen(self) -> list[DeclaredTransition]:
        return [t for t in self.transitions if t.guards and not t.guard_false]


@dataclass(frozen=True)
class CoverageReport:
    charts: tuple[ChartCoverage, ...]

    @property
    def declared(self) -> int:
        return sum(len(c.transitions) for c in self.charts)

    @property
    def taken(self) -> int:
        return sum(c.taken for c in self.charts)

    @property
    def percent(self) -> float:
        """Declared transitions taken, over every chart that ran (0 when none ran: a run that
        exercised no chart covered none, as coverage.py fails a run with no data)."""
        return _percent(self.taken, self.declared) if self.charts else 0.0

    def lines(self) -> list[str]:
        if not self.charts:
            return ["no traced chart ran"]
        out: list[str] = []
        for chart in self.charts:
            out.append(
                f"{chart.name}: {chart.taken} of {len(chart.transitions)} declared transitions taken "
                f"({chart.percent:.1f}%), {chart.records} records"
            )
            for region in chart.regions:
                out.append(f"  region {region.name}: {region.taken}/{len(region.transitions)} ({region.percent:.1f}%)")
                out.extend(f"    never taken: {t.label}" for t in region.never_taken)
            guarded = [t for t in chart.transitions if t.guards]
            unseen = chart.guard_false_never_seen
            if guarded:
                out.append(f"  guards seen false: {len(guarded) - len(unseen)} of {len(guarded)}")
                out.extend(f"    never seen false: {t.label}" for t in unseen)
        out.append(f"TOTAL: {self.taken} of {self.declared} declared transitions taken ({self.percent:.1f}%)")
        return out


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 100.0


def _guards(transition: Any) -> tuple[str, ...]:
    # ``unless=`` guards hold when false: shown negated, as the diagrams show them.
    return tuple(_name(c.func) if c.expected_value is not False else f"not {_name(c.func)}" for c in transition.cond)


def _declared(chart: type[Any]) -> list[tuple[Any, DeclaredTransition]]:
    """Every declared transition of the chart class, per event, in document order."""
    region_of = chart_shape(chart).region_of
    out: list[tuple[Any, DeclaredTransition]] = []
    for state in walk_states(chart.states):
        for transition in state.transitions:
            if transition.initial:  # a compound's entry into its initial child
                continue
            guards = _guards(transition)
            target = str(transition.targets[0].id) if transition.targets else None
            events = dict.fromkeys(_event_id(str(e)) for e in transition.events) or {None: None}
            for event in events:
                declared = DeclaredTransition(region_of[str(state.id)], str(state.id), event, target, guards)
                out.append((transition, declared))
    return out


def _tried_before(chart: type[Any], leaf: str, event: str | None, taken: Any) -> list[Any]:
    """The transitions the engine tried, and found guarded false, before the one it took.

    It walks from the leaf up through its ancestors, each state's transitions in order,
    and takes the first whose event matches and whose guards hold.
    """
    state = chart.states_map.get(leaf)
    tried: list[Any] = []
    while state is not None:
        for transition in state.transitions:
            if transition is taken:
                return tried
            names = {_event_id(str(e)) for e in transition.events}
            if not transition.initial and (event in names if event else not names) and _guards(transition):
                tried.append(transition)
        state = state.parent
    return []  # not reached from this leaf: nothing can be said


class CoverageCollector:
    """Counts the transitions every traced chart takes while started (not thread-safe).

    ``only`` names the chart classes to report (``AgentChart`` or ``module.Qualified.Name``;
    every class that ran when empty), so toy charts of a test suite do not weigh in its share.
    """

    def __init__(self, only: Iterable[str] = ()) -> None:
        self._only = frozenset(only)
        self._counts: Counter[_Key] = Counter()
        self._previous: Collector | None = None

    def __call__(self, chart: type[Any], transition: Any, record: TraceRecord) -> None:
        self._counts[(chart, transition, record.event, record.region, record.source, record.target)] += 1

    def start(self) -> None:
        self._previous = set_collector(self)

    def stop(self) -> None:
        set_collector(self._previous)
        self._previous = None

    @property
    def charts(self) -> list[type[Any]]:
        """The chart classes that took a transition, busiest first."""
        records: Counter[type[Any]] = Counter()
        for key, n in self._counts.items():
            records[key[0]] += n
        return [chart for chart, _ in records.most_common() if self._chosen(chart)]

    def _chosen(self, chart: type[Any]) -> bool:
        return not self._only or not self._only.isdisjoint({chart.__name__, f"{chart.__module__}.{chart.__qualname__}"})

    def report(self) -> CoverageReport:
        return CoverageReport(tuple(self._chart(chart) for chart in self.charts))

    def _chart(self, chart: type[Any]) -> ChartCoverage:
        taken: Counter[tuple[int, str | None]] = Counter()
        guard_false: Counter[tuple[int, str | None]] = Counter()
        records = 0
        for (of, transition, event, _region, leaf, _target), n in self._counts.items():
            if of is not chart:
                continue
            records += n
            taken[(id(transition), _event_id(event))] += n
            for tried in _tried_before(chart, leaf, _event_id(event), transition):
                guard_false[(id(tried), _event_id(event))] += n
        regions: dict[str, list[DeclaredTransition]] = {name: [] for name in chart_shape(chart).regions}
        for transition, declared in _declared(chart):
            key = (id(transition), declared.event)
            counted = DeclaredTransition(
                declared.region, declared.source, declared.event, declared.target, declared.guards,
                taken=taken[key], guard_false=guard_false[key] if declared.guards else 0,
            )  # fmt: skip
            regions.setdefault(declared.region, []).append(counted)
        return ChartCoverage(chart, tuple(RegionCoverage(n, tuple(ts)) for n, ts in regions.items() if ts), records)

    def trace(self, chart: type[Any]) -> Trace:
        """Every record the chart's machines made, as one trace to lay over its diagram."""
        records: list[TraceRecord] = []
        for (of, _transition, event, region, source, target), n in self._counts.items():
            if of is chart:
                # Frozen records: one object stands for each of the n times it was taken.
                record = TraceRecord(t=0.0, event=event, source=source, target=target, region=region)
                records.extend([record] * n)
        return Trace(records, main_region=chart_shape(chart).main)
