"""Child process: N OpenAI Agents SDK realtime sessions (RealtimeAgent + RealtimeRunner) in PacedRooms.

Runs from the venv that has openai-agents (``.venv-oai-agents``), with the repository root
as working directory:

    .venv-oai-agents/bin/python -m benchmarks._sessions_peer_oai_agents \
        --url ws://127.0.0.1:PORT/v1/realtime --n 10 --timeline caller.pcm

What it runs, per call: what the SDK's realtime example (``examples/realtime/cli/demo.py``)
writes, with the room in place of the sound card: a ``RealtimeAgent``, a ``RealtimeRunner``
over its ``OpenAIRealtimeWebSocketModel`` (GA dialect), ``async with await runner.run(
model_config=...)``, the application's loop over the session's events, and its audio:

* ``model_config``: ``url`` (the SDK's own option; the loopback's ``.../v1/realtime?model=
  gpt-realtime``), ``api_key``, ``playback_tracker`` (a ``RealtimePlaybackTracker``), and
  ``initial_model_settings`` with the same server VAD as the other halves;
* microphone: the room's frames, 40 ms as the example reads them ("aligns with realtime
  defaults"), each to ``session.send_audio``;
* events: ``audio`` goes to a player queue (the loop never waits on playout, as the
  example's does not); ``audio_interrupted`` empties the queue and clears the room's
  output; every other event is read and dropped;
* the player task writes each queued chunk to the room's output, which waits while its
  queue is full as ``AudioSource.capture_frame`` does; the tracker is fed from the room:
  every 10 ms the room plays, ``tracker.on_play_ms`` is told whose audio it was (the
  example calls ``on_play_bytes`` per 40 ms block its sound card plays), so the SDK's
  truncate on ``input_audio_buffer.speech_started`` is as exact as the room allows.

The SDK's tracing setting is left as it comes (``auto``: a server-side setting sent in the
``session.update``; nothing is exported from this process). The harness only observes,
with a listener on the model (``add_listener``, the SDK's own hook) for the server's
``session.updated`` and ``input_audio_buffer.speech_started``, and a subclass of the model
that marks the truncate once its websocket has sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from agents.realtime import RealtimeAgent, RealtimePlaybackTracker, RealtimeRunner
from agents.realtime.model import RealtimeModelConfig, RealtimeModelListener
from agents.realtime.model_events import RealtimeModelEvent
from agents.realtime.openai_realtime import OpenAIRealtimeWebSocketModel

from ._pacedroom import PacedLink, PacedOutput, PacedRoom
from ._sessions_load import main

QUEUE_MS = 200
"""The room's output queue, as the other LiveKit halves give their AudioSource."""
RATE = 24000
MIC_FRAME_MS = 40  # the example's CHUNK_LENGTH_S
INSTRUCTIONS = "You are a helpful voice assistant."
TURN_DETECTION: dict[str, Any] = {
    "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500,
    "create_response": True, "interrupt_response": True,
}  # fmt: skip


class _Model(OpenAIRealtimeWebSocketModel):
    """The SDK's websocket model, marking the truncate once sent (nothing changed)."""

    def __init__(self, output: PacedOutput) -> None:
        super().__init__()
        self._paced = output

    async def _send_raw_message(self, event: Any) -> None:
        await super()._send_raw_message(event)  # returns once the websocket has sent it
        if getattr(event, "type", None) == "conversation.item.truncate":
            self._paced.mark_truncate_sent(event.audio_end_ms)


class _Observer(RealtimeModelListener):
    """The harness's listener: ready, and the barge-in's start (raw server events come first)."""

    def __init__(self, output: PacedOutput) -> None:
        self.ready = asyncio.Event()
        self._output = output

    async def on_event(self, event: RealtimeModelEvent) -> None:
        if event.type == "raw_server_event":
            kind = event.data.get("type")
            if kind == "input_audio_buffer.speech_started":
                self._output.mark_speech_started()
            elif kind == "session.updated":
                self.ready.set()


class AgentsSession:
    def __init__(self, link: PacedLink) -> None:
        self._link = link
        self._output = link.output
        self.tracker = RealtimePlaybackTracker()
        self._queue: deque[tuple[bytes, str, int]] = deque()  # received, not yet written
        self._more = asyncio.Event()
        # Written to the output and not yet played: [item_id, content_index, samples left].
        self._playing: deque[list[Any]] = deque()
        self._output.on_played = self._played
        self._session: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, url: str) -> None:
        model = _Model(self._output)
        observer = _Observer(self._output)
        model.add_listener(observer)
        agent = RealtimeAgent(name="Assistant", instructions=INSTRUCTIONS)
        runner = RealtimeRunner(agent, model=model)
        config: RealtimeModelConfig = {
            "url": f"{url}?model=gpt-realtime",
            "api_key": "loopback",
            "playback_tracker": self.tracker,
            "initial_model_settings": {"model_name": "gpt-realtime", "turn_detection": TURN_DETECTION},  # type: ignore[typeddict-item]
        }
        self._session = await (await runner.run(model_config=config)).__aenter__()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(c) for c in (self._events(), self._mic(), self._play())]
        await asyncio.wait_for(observer.ready.wait(), 30)

    async def _mic(self) -> None:
        async for frame in self._link.audio_frames(RATE, MIC_FRAME_MS):
            await self._session.send_audio(frame.data.tobytes())

    async def _events(self) -> None:
        async for event in self._session:
            if event.type == "audio":
                self._queue.append((event.audio.data, event.item_id, event.content_index))
                self._more.set()
            elif event.type == "audio_interrupted":
                self._queue.clear()
                self._playing.clear()
                self._output.clear()

    async def _play(self) -> None:
        queue, output = self._queue, self._output
        while True:
            await self._more.wait()
            while queue:
                pcm, item_id, content_index = queue.popleft()
                self._playing.append([item_id, content_index, len(pcm) // 2])
                await output.write(pcm)
            self._more.clear()

    def _played(self, samples: int) -> None:
        # The room played ``samples``: whose they were, oldest first, told to the tracker.
        playing = self._playing
        while samples and playing:
            head = playing[0]
            n = min(samples, head[2])
            self.tracker.on_play_ms(head[0], head[1], n * 1000 / RATE)
            samples -= n
            head[2] -= n
            if not head[2]:
                playing.popleft()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()


async def start(room: PacedRoom, url: str) -> AgentsSession:
    session = AgentsSession(await room.link(None, output_sample_rate=RATE))
    await session.start(url)
    return session


if __name__ == "__main__":
    main("openai-agents", start, QUEUE_MS)
