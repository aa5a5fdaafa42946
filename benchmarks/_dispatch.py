"""The timing harness: per-event wall time, in interleaved rounds, with robust statistics.

Why this shape:

* Each event is timed on its own with ``perf_counter_ns`` (the cost of the two clock
  reads and one call is calibrated and reported, not subtracted: it is ~1% of the cheapest
  case), so p99 is a per-event tail, not a batch average.
* Cases run in rounds, round-robin, with the order rotated each round: slow drift of the
  machine (frequency scaling, a noisy neighbour) then spreads over all cases instead of
  penalising whichever ran last, and the spread of the per-round medians says how far a
  figure can be trusted.
* The garbage collector stays on (a real agent has it on; its pauses belong in p99), but
  each block starts from a collected heap so one case's garbage is not paid by the next.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CaseResult", "Driver", "calibrate_overhead_ns", "run_rounds"]

Step = Callable[[], Any]


@dataclass
class Driver:
    """One measured case: the steps of one cycle (zero-argument calls), and hooks."""

    key: str
    label: str
    steps: Sequence[Step]
    event_names: Sequence[str]
    # Called between rounds, outside the timed region: lets a started agent's loop run
    # its pending tasks, and clears records (traces, sent calls) that would grow forever.
    settle: Callable[[], Awaitable[None]] | None = None
    group: str = ""


@dataclass
class CaseResult:
    key: str
    label: str
    group: str
    n: int
    median_us: float
    p99_us: float
    mean_us: float
    round_medians_us: list[float]
    per_event_median_us: dict[str, float] = field(default_factory=dict)

    @property
    def spread_pct(self) -> float:
        """(max - min) of the per-round medians, as a percentage of the overall median."""
        lo, hi = min(self.round_medians_us), max(self.round_medians_us)
        return (hi - lo) / self.median_us * 100 if self.median_us else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "group": self.group,
            "n_events": self.n,
            "median_us": round(self.median_us, 3),
            "p99_us": round(self.p99_us, 3),
            "mean_us": round(self.mean_us, 3),
            "round_medians_us": [round(x, 3) for x in self.round_medians_us],
            "round_spread_pct": round(self.spread_pct, 2),
            "per_event_median_us": {k: round(v, 3) for k, v in self.per_event_median_us.items()},
        }


def _time_cycles(steps: Sequence[Step], cycles: int, out: list[int]) -> None:
    # Locals, not attribute lookups, inside the loop: the harness's own cost stays small
    # and identical for every case.
    clock = time.perf_counter_ns
    append = out.append
    for _ in range(cycles):
        for step in steps:
            t0 = clock()
            step()
            append(clock() - t0)


def calibrate_overhead_ns(samples: int = 20_000) -> float:
    """Median cost of timing a call that does nothing (two clock reads + one call)."""

    def noop() -> None:
        return None

    out: list[int] = []
    _time_cycles([noop], samples, out)
    return float(statistics.median(out))


def _percentile(sorted_ns: Sequence[int], q: float) -> float:
    # Nearest rank: with >= 10k samples the interpolation method does not matter.
    return float(sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))])


def _summarise(d: Driver, rounds: list[list[int]]) -> CaseResult:
    allns = sorted(ns for r in rounds for ns in r)
    width = len(d.steps)
    by_event: dict[str, list[int]] = {}
    for r in rounds:
        for i, ns in enumerate(r):
            by_event.setdefault(d.event_names[i % width], []).append(ns)
    return CaseResult(
        key=d.key,
        label=d.label,
        group=d.group,
        n=len(allns),
        median_us=statistics.median(allns) / 1000,
        p99_us=_percentile(allns, 0.99) / 1000,
        mean_us=statistics.fmean(allns) / 1000,
        round_medians_us=[statistics.median(r) / 1000 for r in rounds],
        per_event_median_us={k: statistics.median(v) / 1000 for k, v in by_event.items()},
    )


async def run_rounds(
    drivers: Sequence[Driver],
    *,
    rounds: int,
    cycles: int,
    warmup_cycles: int,
    progress: Callable[[str], None] = lambda msg: None,
) -> list[CaseResult]:
    """Warm every driver up, then time ``rounds`` x ``cycles`` cycles of each, interleaved.

    Interleaving is per cycle: cycle k of every case runs before cycle k+1 of any, so a
    noisy second on a shared machine lands on all cases alike and per-round ratios
    between cases stay meaningful even when absolute figures drift (they do, by 30-50%
    between rounds on a small VM). Async only so that drivers needing a running event
    loop (a started agent's actions create tasks) can be timed; the timed region itself
    never awaits.
    """
    for d in drivers:
        # Warm-up: first calls fill python-statemachine's caches (signature adapters,
        # callback resolution) and the interpreter's specialised bytecode.
        _time_cycles(d.steps, warmup_cycles, [])
        if d.settle is not None:
            await d.settle()
    samples: dict[str, list[list[int]]] = {d.key: [] for d in drivers}
    for r in range(rounds):
        k = r % len(drivers)
        order = list(drivers[k:]) + list(drivers[:k])
        outs: list[list[int]] = [[] for _ in order]
        gc.collect()
        for _ in range(cycles):
            for d, out in zip(order, outs, strict=True):
                _time_cycles(d.steps, 1, out)
        for d, out in zip(order, outs, strict=True):
            samples[d.key].append(out)
            if d.settle is not None:
                await d.settle()
        progress(f"round {r + 1}/{rounds} done")
    return [_summarise(d, samples[d.key]) for d in drivers]
