"""``python -m benchmarks._chaos --runs 500 --seed 1``: the chaos run.

Many seeded, randomized conversations (OpenAI GA, OpenAI beta and Gemini, in turn), each a
RealtimeAgent with a tool talking to a loopback server through a fault-injecting proxy, run
a few at a time in one process. Each is classified (see ``_chaos_checks``): survived,
closed, or stuck (by state); exceptions that escaped its tasks; tool results lost; chat
context items lost or duplicated. RSS is read from /proc/self/status as the campaign goes.
Exits 1 if any conversation was stuck, lost anything or let an exception escape.

Escapes are caught where asyncio reports them, the loop's exception handler ("Task
exception was never retrieved" among them), after a ``gc.collect()``; a task factory tags
every task with the conversation that created it, so each escape is blamed on its run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any

from ._chaos_faults import Dialect
from ._chaos_report import Campaign, format_report, write_json
from ._chaos_room import ChaosClock
from ._chaos_run import RUN, RunResult, Settings, run_conversation

__all__ = ["main", "run_campaign"]

DIALECTS: dict[str, tuple[Dialect, ...]] = {
    "all": ("ga", "beta", "gemini"), "openai": ("ga", "beta"), "ga": ("ga",), "beta": ("beta",),
    "gemini": ("gemini",),
}  # fmt: skip


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _Tagged(asyncio.Task):  # type: ignore[type-arg]
    """A task that knows which conversation created it."""

    chaos_run = -1


class _Escapes:
    """The loop's exception handler and task factory for the campaign's duration."""

    def __init__(self) -> None:
        self.by_run: defaultdict[int, list[str]] = defaultdict(list)
        self.warnings: Counter[str] = Counter()

    def factory(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kw: Any) -> _Tagged:
        task = _Tagged(coro, loop=loop, **kw)
        context = kw.get("context")
        task.chaos_run = context.get(RUN, -1) if context is not None else RUN.get()
        return task

    def handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        message = str(context.get("message", ""))
        if exc is None:
            self.warnings[message.split(":")[0][:60]] += 1
            return
        owner = context.get("task") or context.get("future")
        self.by_run[getattr(owner, "chaos_run", -1)].append(f"{message}: {exc!r}"[:300])

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        old_handler, old_factory = loop.get_exception_handler(), loop.get_task_factory()
        loop.set_exception_handler(self.handler)
        loop.set_task_factory(self.factory)  # type: ignore[arg-type]
        try:
            yield
        finally:
            gc.collect()  # unretrieved task exceptions are reported when the task is collected
            loop.set_exception_handler(old_handler)
            loop.set_task_factory(old_factory)


async def run_campaign(
    indices: Sequence[int],
    *,
    seed: int,
    dialects: Sequence[Dialect],
    concurrency: int = 8,
    settings: Settings | None = None,
    progress: Callable[[RunResult], None] | None = None,
) -> Campaign:
    """Run the conversations ``indices`` (the n-th speaks ``dialects[n % len]``)."""
    s = settings or Settings()
    escapes = _Escapes()
    results: list[RunResult] = []
    samples: list[float] = []  # RSS after each conversation, garbage collected
    start_rss = rss_mb()
    started = time.monotonic()
    clock = ChaosClock(s.speed)
    clock.start()
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with gate:
            result = await run_conversation(index, seed, dialects[index % len(dialects)], clock, s)
        results.append(result)
        gc.collect()
        samples.append(rss_mb())
        if progress is not None:
            progress(result)

    try:
        with escapes.installed():
            await asyncio.gather(*(one(i) for i in indices))
    finally:
        await clock.aclose()
    gc.collect()
    # A tenth of the runs at each end, medians: a 20 MB frame in flight at one sample is not growth.
    tenth = max(1, len(samples) // 10)
    rss = {"start": start_rss, "first": statistics.median(samples[:tenth]),
           "last": statistics.median(samples[-tenth:]), "end": rss_mb()}  # fmt: skip
    results.sort(key=lambda r: r.index)
    for r in results:
        r.escaped = escapes.by_run.pop(r.index, [])
    unattributed = [e for run in escapes.by_run.values() for e in run]
    return Campaign(seed, results, time.monotonic() - started, rss, unattributed, escapes.warnings)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks._chaos", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=500, help="conversations (500)")
    p.add_argument("--seed", type=int, default=1, help="campaign seed (1)")
    p.add_argument("--provider", choices=sorted(DIALECTS), default="all", help="dialects to run, in turn (all)")
    p.add_argument("--concurrency", type=int, default=8, help="conversations at a time (8)")
    p.add_argument("--only", type=str, default="", help="replay these conversation indices (comma-separated)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write every run as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="log warnings from the agent and adapters")
    args = p.parse_args(argv)
    if args.runs < 1 or args.concurrency < 1:
        p.error("--runs and --concurrency must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL, format="%(name)s: %(message)s")
    indices = [int(i) for i in args.only.split(",") if i.strip()] or list(range(args.runs))
    done = [0]

    def progress(r: RunResult) -> None:
        done[0] += 1
        if r.failed or done[0] % 25 == 0 or args.only:
            from ._chaos_report import describe

            print(f"  [{done[0]}/{len(indices)}] {describe(r, verbose=args.verbose)}", file=sys.stderr, flush=True)

    campaign = asyncio.run(
        run_campaign(
            indices, seed=args.seed, dialects=DIALECTS[args.provider], concurrency=args.concurrency,
            progress=progress,
        )
    )
    campaign.command = "python -m benchmarks._chaos " + " ".join(argv if argv is not None else sys.argv[1:])
    print(format_report(campaign))
    if args.json:
        write_json(campaign, args.json)
    return 1 if campaign.failed else 0


if __name__ == "__main__":
    sys.exit(main())
