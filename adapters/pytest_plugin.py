"""Pytest fixtures for testing agents offline: ``pytest`` finds them through an entry point.

    async def test_greets(turnstile_harness):
        h = turnstile_harness
        h.session.start_audio_response(pcm_tone(300), transcript="Hi!")
        await h.agent.wait_for_state("speaking")
        h.agent.trace.assert_visits("listening", "thinking", "speaking")
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from turnstile.machine import Capabilities, RealtimeAgent

from .local import LocalRoom
from .scripted import ScriptedRealtime, ScriptedSession

__all__ = ["Harness", "scripted_provider", "local_room", "turnstile_harness"]


@dataclass
class Harness:
    agent: RealtimeAgent
    provider: ScriptedRealtime
    room: LocalRoom

    @property
    def session(self) -> ScriptedSession:
        return self.provider.last_session


@pytest.fixture
def scripted_provider() -> ScriptedRealtime:
    """A scripted provider with OpenAI-like capabilities (truncation, 24 kHz both ways)."""
    return ScriptedRealtime(Capabilities())


@pytest_asyncio.fixture
async def local_room() -> AsyncIterator[LocalRoom]:
    room = LocalRoom()
    yield room
    await room.aclose()


@pytest_asyncio.fixture
async def turnstile_harness(
    scripted_provider: ScriptedRealtime, local_room: LocalRoom
) -> AsyncIterator[Harness]:
    """An agent started on the scripted provider and a local room, already listening."""
    agent = RealtimeAgent(scripted_provider)
    await agent.start(local_room)
    await agent.wait_for_state("listening")
    yield Harness(agent, scripted_provider, local_room)
    await agent.aclose()
