"""CPU of idle agents: what an agent in ``listening`` costs with nobody talking.

Put beside the chart's dispatch cost, this says where a session's CPU actually goes: the
chart handles ~10 events a second, while a room delivers 100 microphone frames a second
(each resampled and chunked by the agent) and, with LocalRoom, 100 speaker frames more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime
from turnstile.machine import RealtimeAgent

from ._quietroom import QuietRoom

__all__ = ["IdleResult", "measure_idle_cpu"]


@dataclass
class IdleResult:
    label: str
    agents: int
    seconds: float
    process_cpu_pct: float
    """CPU of the whole process (all threads, livekit's native ones included), % of a core."""
    main_thread_cpu_pct: float
    """CPU of the thread running the event loop (Python), % of a core."""
    chunks_per_second_per_agent: float
    """100 ms chunks each agent forwarded to its session: 10/s means it kept up."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "agents": self.agents,
            "seconds": self.seconds,
            "process_cpu_pct_per_agent": round(self.process_cpu_pct / self.agents, 2),
            "main_thread_cpu_pct_per_agent": round(self.main_thread_cpu_pct / self.agents, 2),
            "chunks_per_second_per_agent": round(self.chunks_per_second_per_agent, 2),
        }


async def _idle(
    label: str, make_room: Callable[[], QuietRoom | LocalRoom], agents: int, seconds: float
) -> IdleResult:
    pairs: list[tuple[RealtimeAgent, QuietRoom | LocalRoom, ScriptedRealtime]] = []
    for _ in range(agents):
        room, provider = make_room(), ScriptedRealtime(ready_on_connect=True)
        agent = RealtimeAgent(provider)
        await agent.start(room)
        await agent.wait_for_state("listening")
        pairs.append((agent, room, provider))
    await asyncio.sleep(0.2)  # past start-up: measure the steady idle state only

    def chunks() -> int:
        return sum(len(p.last_session.audio_chunks) for _, _, p in pairs)

    c0, t0, w0, k0 = time.process_time(), time.thread_time(), time.perf_counter(), chunks()
    await asyncio.sleep(seconds)
    wall = time.perf_counter() - w0
    result = IdleResult(
        label,
        agents,
        round(wall, 3),
        (time.process_time() - c0) / wall * 100,
        (time.thread_time() - t0) / wall * 100,
        (chunks() - k0) / wall / agents,
    )
    for agent, room, _ in pairs:
        await agent.aclose()
        await room.aclose()
    return result


async def measure_idle_cpu(seconds: float = 1.0, local_agents: int = 5) -> list[IdleResult]:
    return [
        await _idle("QuietRoom (no audio)", QuietRoom, 1, seconds),
        await _idle("LocalRoom", LocalRoom, 1, seconds),
        await _idle("LocalRoom", LocalRoom, local_agents, seconds),
    ]
