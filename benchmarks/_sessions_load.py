"""The child-process side of the sessions benchmark, shared by both frameworks.

A child runs N sessions of one framework against the loopback server and prints one JSON
object. This module owns everything the two halves must do identically: the PacedRoom
clock, each caller's timeline and its offset, the warm-up, the measurement window, and
what is measured in it. A framework only supplies ``start(room, url) -> session`` (the
session is anything with ``aclose()``). Nothing here imports turnstile, so the
livekit-agents half can run it from its own venv.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from ._pacedroom import PacedClock, PacedRoom

__all__ = ["Closable", "Starter", "main"]

RATE = 24000
_ROOT = Path(__file__).resolve().parent.parent
"""The repository: where the sentinel's module is found."""


class Closable(Protocol):
    async def aclose(self) -> None: ...


Starter = Callable[[PacedRoom, str], Awaitable[Closable]]
"""Start one session in ``room`` against the server at ``url``; return once it is ready."""


class _GcPauses:
    """Collector pauses in the window: a stop-the-world pause delays every frame due in it."""

    def __init__(self) -> None:
        self.recording = False
        self.pauses_ms: list[tuple[int, float]] = []  # (generation, ms)
        self._t = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        elif self.recording:
            self.pauses_ms.append((info["generation"], (time.perf_counter() - self._t) * 1000))

    def summary(self) -> dict[str, Any]:
        ms = [p for _, p in self.pauses_ms]
        full = [p for g, p in self.pauses_ms if g == 2]
        return {
            "count": len(ms),
            "total_ms": round(sum(ms), 1),
            "max_ms": round(max(ms, default=0.0), 1),
            "full_collections": len(full),
            "full_max_ms": round(max(full, default=0.0), 1),
            # A full collection walks every tracked object: its pause grows with this.
            "tracked_objects": len(gc.get_objects()),
        }


class _Counter(logging.Handler):
    """Counts log records by level: a framework that logs on every barge-in pays for it."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.levelname] = self.counts.get(record.levelname, 0) + 1


def _server_cpu_s(pid: int | None) -> float | None:
    # The server is another process: its CPU is read from /proc (Linux), not rusage.
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spread(values: list[float]) -> dict[str, float | int | None]:
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 3) if values else None,
        "p99": round(_percentile(values, 99), 3) if values else None,
    }


def _error_spread(values: list[float]) -> dict[str, float | int | None]:
    """A signed error: its median, and the p99 and worst of its size (either sign is wrong)."""
    sizes = [abs(v) for v in values]
    return {**_spread(values), "p99": round(_percentile(sizes, 99), 3) if values else None,
            "max": round(max(sizes), 3) if values else None}  # fmt: skip


def rss_mb() -> float | None:
    """This process's resident memory (Linux /proc), in MB."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 1e6, 1)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


async def _run(args: argparse.Namespace, start: Starter) -> dict[str, Any]:
    timeline = Path(args.timeline).read_bytes()  # noqa: ASYNC240 (before the clock starts: nothing to delay)
    clock = PacedClock(RATE)
    clock.start()
    rooms: list[PacedRoom] = []
    sessions: list[Closable] = []
    # The process with the framework imported and nothing started: what a process per call
    # pays before its call (the framework's half module is imported before this runs).
    gc.collect()
    rss_idle = rss_mb()
    t_start = time.perf_counter()
    for i in range(args.n):
        # Callers are spread evenly over the timeline's cycle: N calls are not in lockstep.
        offset = len(timeline) // 2 * i // args.n
        room = PacedRoom(clock, timeline, offset_samples=offset, queue_ms=args.queue_ms)
        rooms.append(room)
        sessions.append(await start(room, args.url))
    startup_s = time.perf_counter() - t_start
    clock.mic_on = True
    await asyncio.sleep(args.warmup)
    # Garbage from start-up is collected now, not inside the window; collection in the
    # window (the frameworks' own garbage) stays and counts.
    gc.collect()
    # The sentinel starts its window 0.3 s after launch, as ours does: its interpreter's
    # start-up is over by then and does not compete with the window.
    sentinel = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks._sentinel", "0.3", str(args.seconds),
        stdout=asyncio.subprocess.PIPE, cwd=_ROOT,
    )  # fmt: skip
    await asyncio.sleep(0.3)
    ticks0, late0 = clock.ticks, clock.late_ticks
    gc_pauses = _GcPauses()
    gc_pauses.recording = True
    srv0, insp0 = _server_cpu_s(args.server_pid), _server_cpu_s(args.inspector_pid)
    clock.record(True)
    w0, c0, t0 = time.perf_counter(), time.process_time(), time.thread_time()
    await asyncio.sleep(args.seconds)
    wall = time.perf_counter() - w0
    cpu, main_cpu = time.process_time() - c0, time.thread_time() - t0
    srv1, insp1 = _server_cpu_s(args.server_pid), _server_cpu_s(args.inspector_pid)
    clock.record(False)
    gc_pauses.recording = False
    rss_end = rss_mb()
    out, _ = await sentinel.communicate()
    machine = json.loads(out) if sentinel.returncode == 0 and out.strip() else None
    outputs = [r.link_.output for r in rooms if r.link_ is not None]
    lateness = [x for o in outputs for x in o.lateness_ms]
    minutes = args.n * wall / 60
    result: dict[str, Any] = {
        "n": args.n,
        "window_s": round(wall, 3),
        "startup_s": round(startup_s, 3),
        "cpu_s": round(cpu, 4),
        "main_thread_cpu_s": round(main_cpu, 4),
        "cores_used": round(cpu / wall, 3),
        "cpu_s_per_session_minute": round(cpu / minutes, 4),
        "server_cpu_s_per_session_minute": None if srv0 is None or srv1 is None else round((srv1 - srv0) / minutes, 4),
        "frames_played": len(lateness),
        "lateness_ms": {
            "p50": round(statistics.median(lateness), 3) if lateness else None,
            "p99": round(_percentile(lateness, 99), 3) if lateness else None,
            "max": round(max(lateness), 3) if lateness else None,
        },
        "late_ticks": clock.late_ticks - late0,
        "machine_lateness_ms": machine,
        "ticks": clock.ticks - ticks0,
        # Per session-minute: equal load in both halves shows as equal figures here.
        "agent_audio_s_per_session_minute": round(sum(o.played_samples for o in outputs) / RATE / minutes, 2),
        "playout_starts_total": sum(o.bursts for o in outputs),
        "playout_clears_total": sum(o.window_clears for o in outputs),
        "playout_gaps_total": sum(o.gaps for o in outputs),
        # Transcript updates the links published over the whole run (agent's words as heard, user's).
        "transcriptions_total": sum(r.link_.transcriptions for r in rooms if r.link_ is not None),
        "barge_in_ms": _spread([x for o in outputs for x in o.barge_in_ms]),
        "barge_in_cpu_ms": _spread([x for o in outputs for x in o.barge_in_cpu_ms]),
        "truncate_ms": _spread([x for o in outputs for x in getattr(o, "truncate_ms", ())]),
        "truncations_total": sum(o.truncations for o in outputs),
        "truncation_error_ms": _error_spread([x for o in outputs for x in o.truncation_error_ms]),
        # Memory: the process before any session, and after the window with all N running.
        "rss_mb_idle": rss_idle,
        "rss_mb": rss_end,
        "rss_mb_per_session": None if rss_idle is None or rss_end is None else round((rss_end - rss_idle) / args.n, 3),
        "gc_pauses": gc_pauses.summary(),
        # The microphone frame length the framework asked the room for (frame_size_ms).
        "mic_frame_ms": max((r.link_.frame_ms for r in rooms if r.link_ is not None), default=None),
    }
    if insp0 is not None and insp1 is not None:  # the half with an inspector in a process of its own
        result["inspector_cpu_s_per_session_minute"] = round((insp1 - insp0) / minutes, 4)
    clock.mic_on = False
    # All at once, within a bound: an overloaded framework closing N sessions one by one
    # could outlast the parent's patience, and the figures are already taken.
    closing = [asyncio.wait_for(session.aclose(), 20) for session in sessions]
    for exc in await asyncio.gather(*closing, return_exceptions=True):
        if isinstance(exc, BaseException):  # a session that fails to close must not hide the figures
            print(f"closing a session: {exc!r}", file=sys.stderr)
    for room in rooms:
        await room.aclose()
    await clock.aclose()
    return result


async def baseline_start(room: PacedRoom, url: str, frame_ms: int = 10) -> Closable:
    """No session: the room alone, its microphone frames (``frame_ms`` long) taken and dropped."""
    link = await room.link(None, output_sample_rate=RATE)

    async def drop() -> None:
        async for _ in link.audio_frames(RATE, frame_ms):
            pass

    task = asyncio.get_running_loop().create_task(drop())

    class _Baseline:
        async def aclose(self) -> None:
            task.cancel()

    return _Baseline()


def parse(queue_ms: int, argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True, help="the loopback server's ws://host:port/v1/realtime")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--timeline", required=True, help="raw PCM16 mono 24 kHz: one caller cycle")
    p.add_argument("--server-pid", type=int)
    p.add_argument("--inspector-pid", type=int, help="an inspector process the sessions publish to")
    p.add_argument(
        "--queue-ms", type=int, default=queue_ms, help=f"output queue (default {queue_ms}: the framework's own)"
    )
    p.add_argument("--frame-ms", type=int, default=10, help="room only: the microphone frames read (10)")
    return p.parse_args(argv)


def main(framework: str, start: Starter, queue_ms: int, argv: list[str] | None = None) -> None:
    args = parse(queue_ms, argv)
    if start is baseline_start:
        # The room's cost depends on the frame length read: measured at each framework's.
        start = functools.partial(baseline_start, frame_ms=args.frame_ms)
    counter = _Counter()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().addHandler(counter)
    result = asyncio.run(_run(args, start))
    result["framework"] = framework
    result["log_records"] = counter.counts
    # The last stdout line is the result; anything a framework prints goes before it.
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main("room only", baseline_start, 100)
