"""``python -m benchmarks [--json FILE]``: dispatch cost per event and idle-agent memory.

Defaults are sized to finish in well under a minute on a 2-core machine (the chart costs
~0.2 ms per event there); raise ``--rounds``/``--cycles`` for tighter figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from pathlib import Path

from ._cases import BASELINE, build_drivers, build_localroom_drivers
from ._dispatch import CaseResult, calibrate_overhead_ns, run_rounds
from ._idle import IdleResult, measure_idle_cpu
from ._memory import MemoryResult, measure_memory
from ._report import environment, format_report, write_json


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--rounds", type=int, default=10, help="rounds per case (10)")
    p.add_argument("--cycles", type=int, default=200, help="6-event cycles per round (200)")
    p.add_argument("--warmup", type=int, default=100, help="untimed warm-up cycles (100)")
    p.add_argument("--agents", type=int, default=50, help="QuietRoom agents for memory (50)")
    p.add_argument("--local-agents", type=int, default=5, help="LocalRoom agents for memory (5)")
    p.add_argument("--no-memory", action="store_true", help="skip idle CPU and memory")
    p.add_argument("--barge-ins", type=int, default=10, help="barge-ins through the OpenAI adapter (10; 0 skips)")
    p.add_argument("--holds", type=int, default=10, help="false interruptions and held barge-ins, each (10; 0 skips)")
    # 20: an N that livekit-agents (AgentSession) still runs in real time on this machine.
    p.add_argument(
        "--sessions", default="1,20,100",
        help="N concurrent sessions: Turnstile, the floor and every peer (1,20,100; 0 skips)",
    )  # fmt: skip
    p.add_argument("--no-density", action="store_true", help="skip the worker deployment density")
    args = p.parse_args(argv)
    if min(args.rounds, args.cycles, args.agents, args.local_agents) < 1 or args.warmup < 0:
        p.error("--rounds, --cycles and the agent counts must be >= 1, --warmup >= 0")
    return args


def _progress(msg: str) -> None:
    # Progress goes to stderr so that stdout is only the report.
    print(f"  ... {msg}", file=sys.stderr, flush=True)


Results = tuple[list[CaseResult], list[IdleResult], MemoryResult | None]


async def _run(args: argparse.Namespace) -> Results:
    timing = {"rounds": args.rounds, "cycles": args.cycles, "warmup_cycles": args.warmup}
    async with contextlib.AsyncExitStack() as stack:
        drivers = await build_drivers(stack)
        _progress(f"{len(drivers)} dispatch cases built and checked; timing")
        results = await run_rounds(drivers, progress=_progress, **timing)
    # Phase 2 once phase 1's agent is closed, and closed before anything else runs.
    async with contextlib.AsyncExitStack() as stack:
        drivers = await build_localroom_drivers(stack)
        _progress("LocalRoom phase")
        results += await run_rounds(drivers, **timing)
    if args.no_memory:
        return results, [], None
    _progress("measuring idle CPU")
    idle = await measure_idle_cpu(local_agents=args.local_agents)
    # Memory last, so tracemalloc's slowdown never touches a timing.
    _progress(f"measuring memory ({args.agents} + {args.local_agents} agents)")
    memory = await measure_memory(args.agents, args.local_agents)
    return results, idle, memory


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    # The neutral ChartActions logs nothing on this path, but a failing case must not
    # flood the report: only warnings and worse reach stderr.
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    overhead_ns = calibrate_overhead_ns()
    results, idle, memory = asyncio.run(_run(args))
    elapsed = time.perf_counter() - started
    env = environment()
    config = {
        "rounds": args.rounds,
        "cycles": args.cycles,
        "warmup_cycles": args.warmup,
        "events_per_cycle": 6,
        "agents": None if args.no_memory else args.agents,
        "local_agents": None if args.no_memory else args.local_agents,
    }
    print(format_report(env, config, overhead_ns, results, idle, memory, BASELINE))
    if args.barge_ins:
        from ._bargein import format_bargein, run_bargein

        for provider in ("openai", "gemini"):
            _progress(f"{args.barge_ins} barge-ins: {provider} adapter, loopback server in its own process")
            print(format_bargein(run_bargein(args.barge_ins, provider=provider)))
    extra: dict[str, object] = {}
    if args.holds > 0:
        from ._holds import format_holds, run_holds

        _progress(f"{args.holds} false interruptions and {args.holds} held barge-ins: scripted provider, LocalRoom")
        extra["holds"] = holds = run_holds(args.holds)
        print(format_holds(holds), flush=True)
    if ns := [int(n) for n in args.sessions.split(",") if int(n) > 0]:
        from ._sessions import format_sessions, run_sessions

        extra["sessions"] = sessions = run_sessions(ns, progress=_progress)
        print(format_sessions(sessions), flush=True)
        if not args.no_density:
            from ._density import format_density, run_density

            extra["density"] = density = run_density(sessions, progress=_progress)
            print(format_density(density))
    print(f"\n(total run time {time.perf_counter() - started:.1f} s)")
    if args.json is not None:
        write_json(args.json, env, config, overhead_ns, results, idle, memory, BASELINE, elapsed, extra)
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
