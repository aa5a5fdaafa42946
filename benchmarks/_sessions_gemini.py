"""Child process: N Turnstile sessions on the Gemini Live adapter, in PacedRooms.

Gemini has no peer in this table (livekit-agents' Gemini plugin needs Google's SDK and a
LiveKit job); it is measured so the two adapters can be compared on the same load. The
caller's 24 kHz audio is resampled to Gemini's 16 kHz by the agent, as in production.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    assert room.link_ is not None
    output = room.link_.output
    # A barge-in is timed from the caller's speech as the provider reports it: Gemini's
    # voiceActivity ACTIVITY_START (the agent's user_started_speaking, as on OpenAI) where
    # the model sends it, else the serverContent.interrupted that ends the turn.
    agent.on("user_started_speaking", output.mark_speech_started)
    mark_interrupted(provider.sessions[-1], output.mark_speech_started)
    return agent


def mark_interrupted(session: Any, mark: Callable[[], None]) -> None:
    """Call ``mark`` as the session's reader gets a frame with ``serverContent.interrupted``
    (Gemini's barge-in where the model sends no voiceActivity)."""
    on_frame = session.on_frame

    def timed(raw: Any) -> None:
        if b'"interrupted"' in (raw if isinstance(raw, bytes) else raw.encode()):
            mark()
        on_frame(raw)

    session.on_frame = timed


if __name__ == "__main__":
    main("turnstile-gemini", start, QUEUE_MS)
