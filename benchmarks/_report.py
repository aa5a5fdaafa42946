"""The printed tables and the JSON document, from the measured figures."""

from __future__ import annotations

import json
import platform
import statistics
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from ._dispatch import CaseResult
from ._idle import IdleResult
from ._memory import MemoryResult

__all__ = ["capacity", "environment", "format_report", "option_verdicts", "write_json"]

EVENTS_PER_SECOND = 10
"""Control events one session sends its chart per second, at a realistic rate."""
CPU_TARGET_PCT = 5.0
"""The chart may take at most this share of one core per session."""
CAPACITY_KEYS = ("a", "b2", "b3")
"""Cases the capacity figures are given for: the chart alone, and the full runtime."""
CLEAR_RATIO = 0.03
"""An option is called clearly cheaper/dearer only if its paired median ratio differs from
1 by at least 3% *and* every round's ratio lies on the same side of 1."""


def environment() -> dict[str, Any]:
    import os

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python-statemachine": version("python-statemachine"),
        "transitions": version("transitions"),
        "turnstile-agents": version("turnstile-agents"),
    }


def capacity(results: Sequence[CaseResult]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        if r.key not in CAPACITY_KEYS:
            continue
        cpu_pct = r.median_us * EVENTS_PER_SECOND / 1e6 * 100
        rows.append(
            {
                "key": r.key,
                "events_per_second_per_core": round(1e6 / r.median_us),
                "cpu_pct_at_rate": round(cpu_pct, 4),
                "rate_events_per_second": EVENTS_PER_SECOND,
                "target_pct": CPU_TARGET_PCT,
                "within_target": cpu_pct <= CPU_TARGET_PCT,
            }
        )
    return rows


def option_verdicts(results: Sequence[CaseResult], baseline: str) -> list[dict[str, Any]]:
    """Each option case against the baseline, paired round by round.

    Both ran interleaved cycle by cycle, so each round's ratio of medians cancels the
    machine's drift; the verdict asks that every round agree on the direction.
    """
    base = next(r for r in results if r.key == baseline)
    out = []
    for r in results:
        if r.group != "e":
            continue
        ratios = [c / b for c, b in zip(r.round_medians_us, base.round_medians_us, strict=True)]
        ratio = statistics.median(ratios)
        agree = max(ratios) < 1 or min(ratios) > 1
        if agree and abs(ratio - 1) >= CLEAR_RATIO:
            verdict = "clearly cheaper" if ratio < 1 else "clearly dearer"
        else:
            verdict = "no clear difference"
        out.append(
            {
                "key": r.key,
                "median_us": round(r.median_us, 3),
                "baseline_median_us": round(base.median_us, 3),
                "paired_ratio": round(ratio, 3),
                "paired_ratio_min": round(min(ratios), 3),
                "paired_ratio_max": round(max(ratios), 3),
                "verdict": verdict,
            }
        )
    return out


def _kib(n: float) -> str:
    return f"{n / 1024:,.1f} KiB"


def _dispatch_lines(
    config: dict[str, Any], overhead_ns: float, results: Sequence[CaseResult], baseline: str
) -> list[str]:
    lines = [
        "1. Dispatch cost per event (microseconds, wall clock, one event per timing)",
        f"   N = {config['rounds']} rounds x {config['cycles']} cycles x 6 events per case, after "
        f"{config['warmup_cycles']} warm-up cycles; cases interleaved cycle by cycle.",
        f"   Timer + call overhead {overhead_ns / 1000:.3f} us per event (included, not subtracted).",
        "   spread = (max - min) of the per-round medians / median. a_lk and b3 are timed in a",
        "   second phase (a LocalRoom's audio must not disturb the others); x a is against a.",
        "",
    ]
    add = lines.append
    base = next(r for r in results if r.key == baseline)
    width = max(len(r.label) for r in results)
    kw = max(len(r.key) for r in results)
    add(f"   {'key':<{kw}} {'case':<{width}} {'N':>6} {'median':>8} {'p99':>8} {'mean':>8} {'spread':>7} {'x a':>6}")
    for r in results:
        add(
            f"   {r.key:<{kw}} {r.label:<{width}} {r.n:>6} {r.median_us:>8.2f} {r.p99_us:>8.2f} "
            f"{r.mean_us:>8.2f} {r.spread_pct:>6.1f}% {r.median_us / base.median_us:>6.2f}"
        )
    add("")
    add("   Median per event name (us; user_speech_started takes two transitions):")
    for r in results:
        if r.key in CAPACITY_KEYS:
            parts = ", ".join(f"{k} {v:.1f}" for k, v in r.per_event_median_us.items())
            add(f"     {r.key:<3} {parts}")
    add("")
    add(
        f"   Capacity (median cost; {EVENTS_PER_SECOND} control events/s per session; "
        f"target <= {CPU_TARGET_PCT:g}% of a core):"
    )
    for row in capacity(results):
        ok = "within target" if row["within_target"] else "OVER TARGET"
        add(
            f"     {row['key']:<3} {row['events_per_second_per_core']:>8,} events/s/core   "
            f"CPU {row['cpu_pct_at_rate']:.3f}% of one core per session   ({ok})"
        )
    add("")
    add(f"   Options and calling style against '{baseline}': ratio = median over rounds of")
    add("   (case median / a median) in the same round, with its min-max over rounds:")
    for v in option_verdicts(results, baseline):
        add(
            f"     {v['key']:<{kw}} {v['median_us']:>8.2f} vs {v['baseline_median_us']:.2f} us   "
            f"ratio {v['paired_ratio']:.3f} ({v['paired_ratio_min']:.2f}-{v['paired_ratio_max']:.2f})"
            f"   {v['verdict']}"
        )
    return lines


def _idle_lines(idle: Sequence[IdleResult]) -> list[str]:
    lines = [
        "2. CPU of idle agents in listening (% of one core per agent; chunks/s = 10 means the",
        "   microphone path kept up with real time)",
        "",
        f"   {'room':<22} {'agents':>6} {'process':>8} {'loop thread':>12} {'chunks/s':>9}",
    ]
    for i in idle:
        d = i.as_dict()
        lines.append(
            f"   {i.label:<22} {i.agents:>6} {d['process_cpu_pct_per_agent']:>7.2f}% "
            f"{d['main_thread_cpu_pct_per_agent']:>11.2f}% {d['chunks_per_second_per_agent']:>9.1f}"
        )
    return lines


def _memory_lines(memory: MemoryResult) -> list[str]:
    mw = max(len(m.label) for m in memory.rows)
    lines = [
        "3. Memory of idle agents (Python heap: tracemalloc snapshot diff, after gc; RSS delta",
        "   beside it also counts livekit's native buffers and allocator slack, so it is noisy)",
        "",
        f"   {'case':<{mw}} {'count':>5} {'heap/item':>12} {'RSS/item':>12}   heap by owner, per item",
    ]
    for m in memory.rows:
        rss = _kib(m.rss_bytes / m.count) if m.rss_bytes is not None else "n/a"
        owners = ", ".join(f"{k} {_kib(v / m.count)}" for k, v in list(m.by_owner.items())[:4])
        lines.append(f"   {m.label:<{mw}} {m.count:>5} {_kib(m.per_item):>12} {rss:>12}   {owners}")
    lines.append("   Python heap still allocated after closing each batch (whole batch):")
    for label, n in memory.retained_after_close_bytes.items():
        lines.append(f"     {label:<{mw}} {_kib(n):>12}")
    return lines


def format_report(
    env: dict[str, Any],
    config: dict[str, Any],
    overhead_ns: float,
    results: Sequence[CaseResult],
    idle: Sequence[IdleResult],
    memory: MemoryResult | None,
    baseline: str,
) -> str:
    lines = [
        f"turnstile benchmarks - Python {env['python']}, python-statemachine "
        f"{env['python-statemachine']}, transitions {env['transitions']}, {env['cpus']} CPUs",
        "",
        *_dispatch_lines(config, overhead_ns, results, baseline),
    ]
    if idle:
        lines += ["", *_idle_lines(idle)]
    if memory is not None:
        lines += ["", *_memory_lines(memory)]
    return "\n".join(lines)


def write_json(
    path: Path,
    env: dict[str, Any],
    config: dict[str, Any],
    overhead_ns: float,
    results: Sequence[CaseResult],
    idle: Sequence[IdleResult],
    memory: MemoryResult | None,
    baseline: str,
    elapsed_s: float,
    extra: dict[str, Any] | None = None,
) -> None:
    doc = {
        "environment": env,
        "config": config,
        "timer_overhead_ns": round(overhead_ns, 1),
        "baseline": baseline,
        "dispatch": [r.as_dict() for r in results],
        "capacity": capacity(results),
        "options": option_verdicts(results, baseline),
        "idle_cpu": [i.as_dict() for i in idle],
        "memory": memory.as_dict() if memory is not None else None,
        "elapsed_s": round(elapsed_s, 2),
        **(extra or {}),  # the sessions bench and deployment density, as measured
    }
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
