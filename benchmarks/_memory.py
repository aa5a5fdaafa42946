"""Memory of idle agents: Python-heap bytes (tracemalloc snapshot diffs), plus RSS.

tracemalloc sees only allocations made through Python's allocators; livekit's native
audio sources and streams (Rust, via FFI) are invisible to it, so the RSS delta is
reported beside it as a rough upper view of everything (allocator reuse makes it noisy).
"""

from __future__ import annotations

import asyncio
import gc
import os
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime
from turnstile.machine import AgentChart, ChartActions, RealtimeAgent

from ._quietroom import QuietRoom

__all__ = ["MemoryResult", "measure_memory"]

# Where an allocation's file lives says who owns it; checked in order, first match wins.
_OWNERS: tuple[tuple[str, str], ...] = (
    ("/statemachine/", "python-statemachine"),
    ("/livekit/", "livekit"),
    ("/pydantic", "pydantic"),
    ("/asyncio/", "asyncio"),
    ("/machine/", "turnstile.machine"),
    ("/adapters/", "turnstile.adapters"),
    ("/benchmarks/", "benchmarks (QuietRoom)"),
)


@dataclass
class Measurement:
    label: str
    count: int
    heap_bytes: int
    rss_bytes: int | None
    by_owner: dict[str, int] = field(default_factory=dict)

    @property
    def per_item(self) -> float:
        return self.heap_bytes / self.count

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "count": self.count,
            "heap_bytes_total": self.heap_bytes,
            "heap_bytes_per_item": round(self.per_item),
            "rss_bytes_total": self.rss_bytes,
            "heap_bytes_by_owner": self.by_owner,
        }


@dataclass
class MemoryResult:
    rows: list[Measurement]
    retained_after_close_bytes: dict[str, int]
    """Per batch: Python heap still allocated after its agents and rooms were closed."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": [r.as_dict() for r in self.rows],
            "retained_after_close_bytes": self.retained_after_close_bytes,
        }


def _rss() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None  # not Linux: RSS is only a side figure


def _snapshot() -> tracemalloc.Snapshot:
    gc.collect()
    # The previous snapshot's own objects are allocated from tracemalloc.py: exclude them.
    return tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )


def _diff(label: str, count: int, before: tracemalloc.Snapshot, rss0: int | None) -> Measurement:
    after = _snapshot()
    rss1 = _rss()
    owners: dict[str, int] = {}
    total = 0
    for stat in after.compare_to(before, "filename"):
        total += stat.size_diff
        name = stat.traceback[0].filename.replace(os.sep, "/")
        owner = next((o for marker, o in _OWNERS if marker in name), None)
        if owner is None:  # the standard library by module (threading: the engine's locks)
            stdlib = "/lib/python3" in name and "/site-packages/" not in name
            owner = f"stdlib {os.path.basename(name)}" if stdlib else "other"
        owners[owner] = owners.get(owner, 0) + stat.size_diff
    ordered = dict(sorted(owners.items(), key=lambda kv: -kv[1]))
    rss = rss1 - rss0 if rss0 is not None and rss1 is not None else None
    return Measurement(label, count, total, rss, ordered)


Room: TypeAlias = QuietRoom | LocalRoom
Pair: TypeAlias = tuple[RealtimeAgent, Room, ScriptedRealtime]


async def _start_agent(room: Room) -> Pair:
    provider = ScriptedRealtime(ready_on_connect=True)
    agent = RealtimeAgent(provider)
    await agent.start(room)
    await agent.wait_for_state("listening")
    return agent, room, provider


async def _settle(pairs: list[Pair]) -> None:
    # Let the start-up tasks finish their first steps (state publication, the speaker's
    # listener and the microphone task reaching their first await) before the snapshot.
    await asyncio.sleep(0.05)
    # ScriptedSession keeps every chunk the agent forwards (10 a second of silence on a
    # LocalRoom): a recording of the test double, not agent memory, so it is dropped.
    for _, _, provider in pairs:
        provider.last_session.audio_chunks.clear()


async def _close(pairs: list[Pair]) -> None:
    for agent, room, _ in pairs:
        await agent.aclose()
        await room.aclose()


async def _batch(
    label: str, make_room: Callable[[], Room], count: int, retained: dict[str, int]
) -> Measurement:
    """Start ``count`` agents, measure them, close them, and record what stayed behind."""
    s0, r0 = _snapshot(), _rss()
    pairs = [await _start_agent(make_room()) for _ in range(count)]
    await _settle(pairs)
    row = _diff(label, count, s0, r0)
    await _close(pairs)
    del pairs
    await asyncio.sleep(0.05)
    retained[label] = _diff(label, count, s0, None).heap_bytes
    return row


async def measure_memory(agents: int = 50, local_agents: int = 5) -> MemoryResult:
    tracemalloc.start()
    try:
        rows: list[Measurement] = []
        retained: dict[str, int] = {}
        # 1. The first agent of the process pays one-time costs (livekit's FFI runtime,
        #    python-statemachine's per-class caches, pydantic validators): shown apart.
        rows.append(await _batch("first agent in process, LocalRoom (one-time costs)", LocalRoom, 1, retained))
        # 2. One more, warm: what a single idle agent costs, room included.
        rows.append(await _batch("one idle agent, warm, LocalRoom", LocalRoom, 1, retained))
        # 3. The chart alone: how much of an agent is the python-statemachine instance.
        s0, r0 = _snapshot(), _rss()
        charts = [AgentChart(model=ChartActions()) for _ in range(agents)]
        rows.append(_diff("bare AgentChart(model=ChartActions())", agents, s0, r0))
        del charts
        # 4. Many agents: the marginal cost per agent. On a QuietRoom, because LocalRoom's
        #    audio pump costs ~10% of a core per agent and, past ~10 agents on 2 cores,
        #    falls behind and queues frames without bound (see _quietroom).
        rows.append(await _batch(f"{agents} idle agents, QuietRoom, per agent", QuietRoom, agents, retained))
        # 5. A few on LocalRoom, as many as a small machine keeps up with.
        rows.append(
            await _batch(f"{local_agents} idle agents, LocalRoom, per agent", LocalRoom, local_agents, retained)
        )
        return MemoryResult(rows, retained)
    finally:
        tracemalloc.stop()
