"""Child process: the Turnstile half, every agent publishing its session to a live inspector.

    python -m benchmarks._sessions_turnstile_inspector --inspector-url ws://127.0.0.1:P/... \
        <the Turnstile half's arguments>

The same sessions as ``_sessions_turnstile``; the inspector runs in a process of its own
(as ``turnstile inspect`` does), started by the parent (``_sessions_inspector``), so the
CPU measured here is what publishing costs the agents' process. As in any process, the
sessions share one connection to the inspector (``adapters/inspector/_mux.py``).
"""

from __future__ import annotations

import argparse
import functools
import sys

from turnstile.adapters.inspector import InspectorPublisher, attach_inspector
from turnstile.machine import RealtimeAgent

from ._pacedroom import PacedRoom
from ._sessions_load import main
from ._sessions_turnstile import QUEUE_MS
from ._sessions_turnstile import start as start_turnstile


class Inspected:
    """One session and its publisher: closing the agent sends its bye, then the rest is flushed."""

    def __init__(self, agent: RealtimeAgent, publisher: InspectorPublisher) -> None:
        self.agent = agent
        self.publisher = publisher

    async def aclose(self) -> None:
        await self.agent.aclose()
        await self.publisher.aclose()


async def start(room: PacedRoom, url: str, *, inspector: str) -> Inspected:
    agent = await start_turnstile(room, url)
    # Attached after the bench's speech-started mark (``RealtimeAgent(inspector=URL)``
    # would hook the agent's events before it): the inspector's own work on that event
    # then falls inside the barge-in latency measured, not before its start. A late
    # attach still sends what happened before it (the publisher drains the trace).
    return Inspected(agent, attach_inspector(agent, inspector))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--inspector-url", required=True, help="the inspector's publish URL")
    ours, rest = p.parse_known_args()
    main("turnstile+inspector", functools.partial(start, inspector=ours.inspector_url), QUEUE_MS, rest)
    sys.exit(0)
