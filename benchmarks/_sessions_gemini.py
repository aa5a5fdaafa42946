"""Child process: N Turnstile sessions on the Gemini Live adapter, in PacedRooms.

Gemini has no peer in this table (livekit-agents' Gemini plugin needs Google's SDK and a
LiveKit job); it is measured so the two adapters can be compared on the same load. The
caller's 24 kHz audio is resampled to Gemini's 16 kHz by the agent, as in production.
"""

from __future__ import annotations

from turnstile.adapters.gemini import GeminiLive
from turnstile.machine import RealtimeAgent

from ._pacedroom import PacedRoom
from ._sessions_load import main
from ._sessions_turnstile import QUEUE_MS, transcribed


async def start(room: PacedRoom, url: str) -> RealtimeAgent:
    provider = GeminiLive(api_key="loopback", url=url, silence_duration_ms=500)
    agent = RealtimeAgent(provider)
    await agent.start(transcribed(room))
    await agent.wait_for_state("listening", timeout=30)
    return agent


if __name__ == "__main__":
    main("turnstile-gemini", start, QUEUE_MS)
