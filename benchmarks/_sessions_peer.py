"""Child process: N livekit-agents sessions (livekit-plugins-openai RealtimeModel) in PacedRooms.

Runs from the venv that has livekit-agents (``.venv-peer``: livekit-agents pins livekit to
an older release than this project's), with the repository root as working directory:

    .venv-peer/bin/python -m benchmarks._sessions_peer --url ws://127.0.0.1:PORT/v1/realtime \
        --n 10 --timeline caller.pcm

There is no LiveKit server here, so no AgentSession: the plugin's RealtimeSession is
driven directly, doing what AgentActivity does with it on this path (see
livekit/agents/voice/agent_activity.py, the realtime generation and
``_on_input_speech_started``):

* the room's microphone frames go to ``session.push_audio`` one by one;
* each ``generation_created``: every message's audio frames are written to the output (a
  write waits while the output queue is full, as ``AudioSource.capture_frame`` does) and
  its text stream is drained (AgentActivity feeds it to the transcription output);
* ``input_speech_started`` while a message is playing: the output is cleared,
  ``session.interrupt()`` (it sends ``response.cancel`` only while a generation is
  active), then ``session.truncate(audio_end_ms=<heard position>)``.

What AgentSession would add on top (speech handles and their scheduling, the transcription
synchronizer, chat-context bookkeeping, metrics, tracing spans, a job process per call)
is not run here, so the peer's figures are a lower bound of its real cost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable
from typing import Any

from livekit.agents import llm
from livekit.plugins import openai
from openai.types.realtime.realtime_audio_input_turn_detection import ServerVad

from ._pacedroom import PacedLink, PacedRoom
from ._sessions_load import main

QUEUE_MS = 200
"""livekit-agents' room audio output: ``rtc.AudioSource(..., queue_size_ms=200)``."""
RATE = 24000
ROOM_IO_FRAME_MS = 50
"""RoomIO reads the caller's microphone in frames this long (``AudioInputOptions.frame_size_ms``)."""


def model_options(url: str) -> dict[str, Any]:
    """The RealtimeModel's options in both livekit-agents halves, for the loopback at ``url``."""
    return {
        # The loopback's http base URL is turned into ws://.../v1/realtime?model=... by the
        # plugin (process_base_url).
        "base_url": url.replace("ws://", "http://", 1).removesuffix("/realtime"),
        "api_key": "loopback",
        # The same turn detection as the Turnstile half (the plugin defaults to semantic_vad).
        "turn_detection": ServerVad(
            type="server_vad",
            threshold=0.5,
            prefix_padding_ms=300,
            silence_duration_ms=500,
            create_response=True,
            interrupt_response=True,
        ),
    }


class PeerSession:
    def __init__(self, url: str) -> None:
        # One model per call, as an agent entrypoint builds it.
        self.model = openai.realtime.RealtimeModel(**model_options(url))
        self.session: Any = None  # openai.realtime.RealtimeSession, created in start()
        self.link: PacedLink | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # The message playing: its id and the samples of it written to the output.
        self._playing: str | None = None
        self._written = 0
        self._cut: set[str] = set()

    async def start(self, room: PacedRoom) -> None:
        self.link = await room.link(None, output_sample_rate=RATE)
        self.session = self.model.session()
        ready = asyncio.Event()

        def on_server_event(ev: dict[str, Any]) -> None:
            if ev.get("type") == "session.updated":
                ready.set()

        def on_client_event(ev: dict[str, Any]) -> None:
            if ev.get("type") == "conversation.item.truncate" and self.link is not None:
                self.link.output.mark_truncate_sent(ev.get("audio_end_ms"))

        self.session.on("openai_server_event_received", on_server_event)
        self.session.on("openai_client_event_queued", on_client_event)
        self.session.on("generation_created", self._on_generation)
        self.session.on("input_speech_started", self._on_speech_started)
        self._spawn(self._forward_mic(self.link))
        await asyncio.wait_for(ready.wait(), 30)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward_mic(self, link: PacedLink) -> None:
        async for frame in link.audio_frames(RATE, ROOM_IO_FRAME_MS):
            self.session.push_audio(frame)

    def _on_generation(self, ev: llm.GenerationCreatedEvent) -> None:
        self._spawn(self._play(ev))

    async def _play(self, ev: llm.GenerationCreatedEvent) -> None:
        assert self.link is not None
        output = self.link.output
        async for msg in ev.message_stream:
            self._spawn(_drain(msg.text_stream))
            self._playing, self._written = msg.message_id, 0
            async for frame in msg.audio_stream:
                if msg.message_id in self._cut:
                    continue  # interrupted: the rest is drained, never played
                # Counted before the write, as RoomIO's output counts what it pushed: a
                # frame waiting for room is already counted queued by the output.
                self._written += frame.samples_per_channel
                # Zero-copy, as AudioSource.capture_frame hands the frame to native code.
                await output.write(frame.data.cast("B"))
            if msg.message_id not in self._cut:
                await output.wait_for_playout()
            if self._playing == msg.message_id:
                self._playing = None

    def _on_speech_started(self, _: llm.InputSpeechStartedEvent) -> None:
        if self.link is not None:
            self.link.output.mark_speech_started()
        if self._playing is None or self.link is None:
            return
        output, message_id = self.link.output, self._playing
        heard = max(0, self._written - output.queued_samples)
        self._cut.add(message_id)
        self._playing = None
        output.clear()
        self.session.interrupt()
        self.session.truncate(message_id=message_id, modalities=["audio"], audio_end_ms=heard * 1000 // RATE)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.session.aclose()
        await self.model.aclose()


async def _drain(stream: AsyncIterable[Any]) -> None:
    async for _ in stream:
        pass


async def start(room: PacedRoom, url: str) -> PeerSession:
    session = PeerSession(url)
    await session.start(room)
    return session


if __name__ == "__main__":
    main("livekit-agents", start, QUEUE_MS)
