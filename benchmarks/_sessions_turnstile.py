"""Child process: N Turnstile sessions (RealtimeAgent + OpenAIRealtime) in PacedRooms.

    python -m benchmarks._sessions_turnstile --url ws://127.0.0.1:PORT/v1/realtime --n 10 \
        --timeline caller.pcm

Each session is what a user of this project writes: a RealtimeAgent over the OpenAI
adapter, server VAD answering every turn and interrupting on speech. The agent does its
own barge-in handling (clear playout, cancel, truncate at the heard position). The room
publishes the agent's words as they are heard, as a LiveKit room does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from turnstile.adapters.livekit import AgentTranscriptionForwarder
from turnstile.adapters.openai import OpenAIRealtime, ServerVad
from turnstile.machine import RealtimeAgent

from ._pacedroom import PacedRoom
from ._sessions_load import main

QUEUE_MS = 200
"""The output queue LiveKitRoom gives the agent's AudioSource by default (``output_queue_ms``),
as in production, and the same as livekit-agents uses: a shorter queue runs dry on a stall."""


def transcribed(room: PacedRoom) -> PacedRoom:
    """The room's links publish the agent's words as they are heard, as LiveKitLink's do
    (its AgentTranscriptionForwarder, driven by the agent's playout): the work livekit-agents'
    TranscriptSynchronizer does in the other half."""
    link_room = room.link

    async def link(participant: str | None, *, output_sample_rate: int) -> Any:
        link = await link_room(participant, output_sample_rate=output_sample_rate)
        link.agent_transcription = AgentTranscriptionForwarder(  # type: ignore[attr-defined]
            link.publish_transcription, participant="agent"
        )
        return link

    room.link = link  # type: ignore[method-assign]
    return room


async def start(room: PacedRoom, url: str) -> RealtimeAgent:
    provider = OpenAIRealtime(api_key="loopback", url=url, turn_detection=ServerVad(silence_duration_ms=500))
    agent = RealtimeAgent(provider)
    await agent.start(transcribed(room))
    assert room.link_ is not None
    # user_started_speaking fires as the provider's event is handled, before the chart acts.
    output = room.link_.output
    agent.on("user_started_speaking", output.mark_speech_started)
    await agent.wait_for_state("listening", timeout=30)
    on_the_wire_message(
        provider.sessions[-1],
        b'{"type":"conversation.item.truncate"',
        lambda message: output.mark_truncate_sent(json.loads(message)["audio_end_ms"]),
    )
    return agent


def on_the_wire(session: Any, prefix: bytes, mark: Callable[[], None]) -> None:
    """Call ``mark`` once a frame starting with ``prefix`` has been written to the socket
    (the connection's websocket writer returned: the frame is with the kernel)."""
    on_the_wire_message(session, prefix, lambda _: mark())


def on_the_wire_message(session: Any, prefix: bytes, mark: Callable[[bytes], None]) -> None:
    """``on_the_wire``, handing ``mark`` the frame written (to read what was sent)."""
    writer = session._ws._writer  # the live connection's aiohttp WebSocketWriter
    send_frame = writer.send_frame

    async def timed(message: bytes, opcode: int, compress: int | None = None) -> None:
        await send_frame(message, opcode, compress)
        if message.startswith(prefix):
            mark(message)

    writer.send_frame = timed


if __name__ == "__main__":
    main("turnstile", start, QUEUE_MS)
