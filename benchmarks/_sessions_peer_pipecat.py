"""Child process: N Pipecat pipelines (OpenAIRealtimeLLMService) in PacedRooms.

Runs from the venv that has pipecat-ai (``.venv-pipecat``), with the repository root as
working directory:

    .venv-pipecat/bin/python -m benchmarks._sessions_peer_pipecat --url ws://127.0.0.1:PORT/v1/realtime \
        --n 10 --timeline caller.pcm

What it runs, per call: Pipecat's realtime speech-to-speech pipeline as its example
(``examples/realtime/realtime-openai.py``) wires it, ``transport.input() -> user context
aggregator -> OpenAIRealtimeLLMService -> transport.output() -> assistant context
aggregator``, in a ``PipelineWorker`` with ``PipelineParams(enable_metrics=True,
enable_usage_metrics=True)`` and every other default (RTVI, turn tracking, idle timeout,
16 kHz pipeline input), run by a ``WorkerRunner`` of its own, as Pipecat's runner runs
one bot per connection. The service is pointed at the loopback server with its own
``base_url`` argument (it appends ``?model=...``) and speaks the GA dialect; it gets the
same server VAD as the other halves (``TurnDetection``: threshold 0.5, 300 ms padding,
500 ms silence). No greeting (the example queues ``LLMRunFrame``): callers speak first, as
in every half.

Interruptions are Pipecat's own: the service truncates the playing item on the server's
``input_audio_buffer.speech_started`` (at the wall-clock time since its first audio delta,
capped at the audio received: the service knows nothing of the room's playout) and proposes
a user turn; the user aggregator's turn strategies start it and broadcast an
``InterruptionFrame``, on which the output transport drops its queued audio and clears
the room's output.

The transport is the PacedRoom, behind the same contract as Pipecat's ``LiveKitTransport``:

* input (``LiveKitInputTransport``): the caller's frames as ``rtc.AudioStream(track)`` gives
  them (10 ms; here at 24 kHz), resampled by a per-participant stream resampler to the
  pipeline's input rate, pushed as ``UserAudioRawFrame``;
* output (``LiveKitOutputTransport``): each chunk the base output transport writes (40 ms,
  ``audio_out_10ms_chunks=4``) becomes an ``rtc.AudioFrame`` and is captured by the room's
  output, which waits while its queue is full as ``AudioSource.capture_frame`` does; the
  queue is the transport's default ``audio_out_queue_size_ms=1000``; an
  ``InterruptionFrame`` clears it, as the transport calls ``AudioSource.clear_queue()``.

The harness only observes, through a subclass of the service that changes nothing:
the server's speech-started event (the barge-in's start), ``session.updated`` (ready), and
the truncate once the websocket has sent it (with its ``audio_end_ms``). Pipecat logs through
loguru at DEBUG by default; it is set to WARNING here, as the other halves log.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from livekit import rtc
from loguru import logger
from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import Frame, InterruptionFrame, OutputAudioRawFrame, StartFrame, UserAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.openai.realtime import events
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams
from pipecat.workers.runner import WorkerRunner

from ._pacedroom import PacedLink, PacedOutput, PacedRoom
from ._sessions_load import main

QUEUE_MS = 1000
"""Pipecat's LiveKit output: ``rtc.AudioSource(..., queue_size_ms=audio_out_queue_size_ms)``, 1000 ms."""
RATE = 24000
INSTRUCTIONS = "You are a helpful voice assistant."


class PacedInput(BaseInputTransport):
    """The caller's microphone, as ``LiveKitInputTransport`` pushes a participant's track."""

    def __init__(self, link: PacedLink, params: TransportParams) -> None:
        super().__init__(params)
        self._link = link
        self._resampler = create_stream_resampler()
        self._reader: asyncio.Task[None] | None = None

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)
        if self._reader is None:
            self._reader = self.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self._link.audio_frames(RATE):  # rtc.AudioStream(track): native 10 ms frames
            audio = await self._resampler.resample(frame.data.tobytes(), frame.sample_rate, self.sample_rate)
            if audio:
                await self.push_audio_frame(UserAudioRawFrame(
                    user_id=self._link.participant, audio=audio, sample_rate=self.sample_rate, num_channels=1
                ))  # fmt: skip

    async def cleanup(self) -> None:
        await super().cleanup()
        if self._reader is not None:
            await self.cancel_task(self._reader)


class PacedOutputTransport(BaseOutputTransport):
    """The agent's track, as ``LiveKitOutputTransport`` publishes to its ``AudioSource``."""

    def __init__(self, output: PacedOutput, params: TransportParams) -> None:
        super().__init__(params)
        self._output = output

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            self._output.clear()  # LiveKitOutputTransport: self._client._audio_source.clear_queue()

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        samples = len(frame.audio) // 2
        audio = rtc.AudioFrame(data=frame.audio, sample_rate=self.sample_rate, num_channels=1,
                               samples_per_channel=samples)  # fmt: skip
        await self._output.write(audio.data.cast("B"))  # AudioSource.capture_frame
        return True


class PacedTransport(BaseTransport):
    def __init__(self, link: PacedLink) -> None:
        super().__init__()
        params = TransportParams(audio_in_enabled=True, audio_out_enabled=True)
        self._input = PacedInput(link, params)
        self._output = PacedOutputTransport(link.output, params)

    def input(self) -> PacedInput:
        return self._input

    def output(self) -> PacedOutputTransport:
        return self._output


class _Service(OpenAIRealtimeLLMService):
    """The service, plus harness observation (nothing changed): ready, speech started, truncate sent."""

    def __init__(self, output: PacedOutput, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ready = asyncio.Event()
        self._paced = output

    async def _handle_evt_session_updated(self, evt: Any) -> None:
        await super()._handle_evt_session_updated(evt)
        self.ready.set()

    async def _handle_evt_speech_started(self, evt: Any) -> None:
        self._paced.mark_speech_started()
        await super()._handle_evt_speech_started(evt)

    async def send_client_event(self, event: events.ClientEvent) -> None:
        await super().send_client_event(event)  # returns once the websocket has sent it
        if isinstance(event, events.ConversationItemTruncateEvent):
            self._paced.mark_truncate_sent(event.audio_end_ms)


class PipecatSession:
    def __init__(self) -> None:
        self._runner: WorkerRunner | None = None
        self._run: asyncio.Task[None] | None = None

    async def start(self, room: PacedRoom, url: str) -> None:
        link = await room.link(None, output_sample_rate=RATE)
        transport = PacedTransport(link)
        vad = events.TurnDetection(type="server_vad", threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500)
        llm = _Service(
            link.output,
            api_key="loopback",
            base_url=url,
            settings=OpenAIRealtimeLLMService.Settings(
                system_instruction=INSTRUCTIONS,
                session_properties=events.SessionProperties(
                    audio=events.AudioConfiguration(input=events.AudioInput(turn_detection=vad))
                ),
            ),
        )
        context = LLMContext([{"role": "developer", "content": INSTRUCTIONS}])
        user_aggregator, assistant_aggregator = LLMContextAggregatorPair(context)
        pipeline = Pipeline([transport.input(), user_aggregator, llm, transport.output(), assistant_aggregator])
        worker = PipelineWorker(pipeline, params=PipelineParams(enable_metrics=True, enable_usage_metrics=True))
        self._runner = WorkerRunner(handle_sigint=False)
        await self._runner.add_workers(worker)
        self._run = asyncio.get_running_loop().create_task(self._runner.run())
        ready = asyncio.get_running_loop().create_task(llm.ready.wait())
        await asyncio.wait([ready, self._run], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            raise RuntimeError("the Pipecat pipeline never got session.updated from the server")

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cancel()
        if self._run is not None:
            await asyncio.wait([self._run], timeout=10)


async def start(room: PacedRoom, url: str) -> PipecatSession:
    session = PipecatSession()
    await session.start(room, url)
    return session


if __name__ == "__main__":
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    main("pipecat", start, QUEUE_MS)
