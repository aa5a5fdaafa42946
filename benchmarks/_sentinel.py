"""A bare 10 ms asyncio clock in its own process: the machine's lateness floor.

``python -m benchmarks._sentinel DELAY SECONDS`` waits DELAY seconds, then for SECONDS runs
the same absolute-schedule loop as PacedClock with nothing else to do, and prints its tick
lateness as JSON. Run beside a measured child, it tells lateness the machine imposed
(other processes, the hypervisor) from lateness the measured process caused: when the
sentinel is late too, the whole machine was. Standard library only, so any venv runs it.
"""

from __future__ import annotations

import asyncio
import json
import sys


async def _run(delay: float, seconds: float) -> dict[str, float | int]:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(delay)
    period = 0.01
    due = loop.time() + period
    end = due + seconds
    lateness: list[float] = []
    while due < end:
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        now = loop.time()
        while due <= now:  # every tick that came due, each with its own lateness
            lateness.append((now - due) * 1000)
            due += period
    lateness.sort()
    return {
        "ticks": len(lateness),
        "p50": round(lateness[len(lateness) // 2], 3),
        "p99": round(lateness[min(len(lateness) - 1, round(0.99 * (len(lateness) - 1)))], 3),
        "max": round(lateness[-1], 3),
        "late_ticks": sum(1 for x in lateness if x > 10),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_run(float(sys.argv[1]), float(sys.argv[2])))), flush=True)
