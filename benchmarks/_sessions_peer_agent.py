"""Child process: N livekit-agents AgentSessions (Agent + openai RealtimeModel) in PacedRooms.

Runs from the venv that has livekit-agents (``.venv-peer``), with the repository root as
working directory:

    .venv-peer/bin/python -m benchmarks._sessions_peer_agent --url ws://127.0.0.1:PORT/v1/realtime \
        --n 10 --timeline caller.pcm

What it runs, per call: what a livekit-agents user writes for a speech-to-speech agent,
``AgentSession().start(Agent(instructions=..., llm=openai.realtime.RealtimeModel(...)))``,
i.e. the whole AgentSession / AgentActivity machinery (speech handles and their
scheduling, forward_generation, interruption, truncation of the heard position, chat-context
bookkeeping, state events, metrics), with the session's I/O wired to the PacedRoom the way
RoomIO wires it to a LiveKit room:

* ``session.input.audio``: an ``io.AudioInput`` yielding the room's microphone frames, 50 ms
  at 24 kHz, as RoomIO's AudioStream frames them by default;
* ``session.output.audio`` / ``session.output.transcription``: a ``TranscriptSynchronizer``
  (RoomIO's default, ``sync_transcription=True``, speed 1.0) over
  - ``PacedAudioOutput``, an ``io.AudioOutput`` over the PacedOutput with the contract of
    RoomIO's ``_ParticipantAudioOutput``: ``capture_frame`` hands the frame's PCM to the
    output zero-copy and waits while its queue is full (as ``AudioSource.capture_frame``);
    playback_started on a segment's first frame; ``flush`` ends the segment and reports
    playback_finished once the output drains; ``clear_buffer`` reports the heard position
    (pushed minus still queued, read before clearing), interrupted, from the flush's task
    as RoomIO does, so the speech's text is flushed first. It cannot pause (RoomIO's can):
    AgentSession logs one warning per session that resume_false_interruption is ignored,
    which changes nothing here, the realtime path interrupts on the provider's event;
  - ``PacedTextOutput``, an ``io.TextOutput`` that publishes each transcript delta to the
    link, as RoomIO's transcription output publishes it to the room;
* as RoomIO does besides: the agent state is set as the ``lk.agent.state`` attribute on
  each change, and user transcripts are forwarded to a (non-delta) transcription output.

The harness only observes (``_Model`` subclasses the plugin's model only to attach
listeners to each session it makes): ``user_state_changed`` to "speaking" (AgentActivity emits it
synchronously on the provider's ``input_speech_started``, just before it interrupts) marks
the barge-in's start, and the realtime session's ``openai_client_event_queued`` times the
``conversation.item.truncate``, as the Turnstile half times its own.

Options: the RealtimeModel is built as in ``_sessions_peer`` (same base URL, key and server
VAD). AgentSession keeps its defaults but one: ``aec_warmup_duration=None`` (documented; the
default is None for outbound SIP calls). Its default 3 s warm-up feeds the model silence for
the first 3 s of agent speech, so a caller whose first heard turn is the barge-in would not
barge in at all; the callers here are synthetic, there is no echo to cancel, and the load
would no longer be the other halves'. ``start(agent, record=False)``: no job, so no recording
(the default without a job is already off) and no LiveKit Cloud tracer: spans go to
OpenTelemetry's no-op provider. Nothing is monkeypatched; ``AgentSession.start`` runs
without a room or a job context as it does in tests.

What it leaves out: the LiveKit room itself and its native audio pipeline (WebRTC, Opus,
the AudioSource / AudioStream threads, the room's text
streams and attribute updates), RoomIO's own Python output path (an AudioByteStream that
re-chunks the agent's audio into 50 ms frames, a channel and a forwarding task: here
``capture_frame`` writes straight to the output), and the job process (worker, IPC, one
process per call: here N calls share one process and one event loop, as the other halves).
So what it measures is still a little under what a deployed agent costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession, utils
from livekit.agents.types import ATTRIBUTE_AGENT_STATE
from livekit.agents.voice import io
from livekit.agents.voice.events import (
    AgentStateChangedEvent,
    UserInputTranscribedEvent,
    UserStateChangedEvent,
)
from livekit.agents.voice.transcription import TranscriptSynchronizer
from livekit.plugins import openai

from ._pacedroom import PacedLink, PacedOutput, PacedRoom
from ._sessions_load import main
from ._sessions_peer import model_options

QUEUE_MS = 200
"""livekit-agents' room audio output: ``rtc.AudioSource(..., queue_size_ms=200)``."""
RATE = 24000
ROOM_IO_FRAME_MS = 50


class PacedAudioInput(io.AudioInput):
    """The caller's microphone, as RoomIO's participant audio input yields it."""

    def __init__(self, link: PacedLink) -> None:
        super().__init__(label="PacedRoom")
        # RoomIO's AudioStream frames natively, 50 ms by default (AudioInputOptions.frame_size_ms).
        self._frames = link.audio_frames(RATE, ROOM_IO_FRAME_MS)

    async def __anext__(self) -> rtc.AudioFrame:
        return await self._frames.__anext__()


class PacedAudioOutput(io.AudioOutput):
    """The agent's track: RoomIO's ``_ParticipantAudioOutput`` contract over a PacedOutput."""

    def __init__(self, output: PacedOutput) -> None:
        super().__init__(
            label="PacedRoom",
            next_in_chain=None,
            sample_rate=output.sample_rate,
            # RoomIO's output can pause; a PacedOutput cannot, and the realtime path interrupts
            # on the provider's speech event rather than pausing, so nothing here needs it.
            capabilities=io.AudioOutputCapabilities(pause=False),
        )
        self._output = output
        self._rate = output.sample_rate
        self._segment = False  # a segment has been captured and not yet reported finished
        self._pushed = 0  # samples of it accepted by the output
        self._started_at = 0.0
        self._cut_at: int | None = None  # cleared before its flush: the heard position
        self._flush_task: asyncio.Task[None] | None = None

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._flush_task is not None and not self._flush_task.done():
            # one speech plays at a time: the previous segment's playout is awaited (RoomIO too)
            await self._flush_task
        if self._cut_at is not None:
            return  # cleared, not yet flushed: the rest of the segment is dropped
        if not self._segment:
            self._segment = True
            self._started_at = time.time()
            self.on_playback_started(created_at=self._started_at)
        # Counted before the write, as RoomIO counts what it hands the source: a frame waiting
        # for room is counted queued by the output (as by AudioSource.queued_duration), so
        # pushed minus queued stays the heard position while it waits.
        self._pushed += frame.samples_per_channel
        # Zero-copy, as AudioSource.capture_frame hands the frame to native code; waits while
        # the queue is full (a frame whose wait is ended by a clear is dropped by the output).
        await self._output.write(frame.data.cast("B"))

    def flush(self) -> None:
        super().flush()
        if self._segment:
            self._flush_task = asyncio.get_running_loop().create_task(self._wait_for_playout())

    async def _wait_for_playout(self) -> None:
        # Until the output drains, or a clear empties it (RoomIO: playout or interruption).
        # Reported from this task, not from clear_buffer: as in RoomIO, the speech's text
        # forwarding is flushed (it is cancelled alongside the audio's) before playback ends.
        await self._output.wait_for_playout()
        self._flush_task = None
        if self._cut_at is not None:
            self._finish(self._cut_at, interrupted=True)
        else:
            self._finish(self._pushed, interrupted=False)

    def clear_buffer(self) -> None:
        if not self._segment or self._cut_at is not None:
            return
        self._cut_at = max(0, self._pushed - self._output.queued_samples)  # heard: read before the clear
        self._output.clear()  # wakes the flush task, if the segment has been flushed

    def _finish(self, samples: int, *, interrupted: bool) -> None:
        self._segment, self._pushed, self._cut_at = False, 0, None
        position = samples / self._rate
        if position > 0:
            self.on_playback_progressed(started_at=self._started_at, offset=0.0, duration=position)
        self.on_playback_finished(playback_position=position, interrupted=interrupted)


class PacedTextOutput(io.TextOutput):
    """A transcription output: each delta is published to the room, as RoomIO's does."""

    def __init__(self, link: PacedLink) -> None:
        super().__init__(label="PacedRoom", next_in_chain=None)
        self._link = link
        self.segments = 0

    async def capture_text(self, text: str) -> None:
        await self._link.publish_transcription(text)

    def flush(self) -> None:
        self.segments += 1


class PeerAgentSession:
    def __init__(self, url: str) -> None:
        # One model per call, as an agent entrypoint builds it (same options as _sessions_peer).
        self.model = _Model(**model_options(url))
        self.session: AgentSession[Any] = AgentSession(aec_warmup_duration=None)
        self.sync: TranscriptSynchronizer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._state_task: asyncio.Task[None] | None = None
        self._user_transcripts = utils.aio.Chan[UserInputTranscribedEvent]()

    async def start(self, room: PacedRoom) -> None:
        link = await room.link(None, output_sample_rate=RATE)
        output = link.output
        self.model.output = output
        # RoomIO.start: the synchronizer wraps the room's audio and transcription outputs.
        self.sync = TranscriptSynchronizer(
            next_in_chain_audio=PacedAudioOutput(output), next_in_chain_text=PacedTextOutput(link), speed=1.0
        )
        self.session.input.audio = PacedAudioInput(link)
        self.session.output.audio = self.sync.audio_output
        self.session.output.transcription = self.sync.text_output

        def on_user_state(ev: UserStateChangedEvent) -> None:
            if ev.new_state == "speaking":
                output.mark_speech_started()

        def on_agent_state(ev: AgentStateChangedEvent) -> None:
            # RoomIO._on_agent_state_changed: the state goes to the room as an attribute.
            if self._state_task is not None:
                self._state_task.cancel()
            self._state_task = asyncio.get_running_loop().create_task(
                link.set_attributes({ATTRIBUTE_AGENT_STATE: ev.new_state})
            )

        self.session.on("user_state_changed", on_user_state)
        self.session.on("agent_state_changed", on_agent_state)
        self.session.on("user_input_transcribed", self._user_transcripts.send_nowait)
        self._spawn(self._forward_user_transcripts(link))
        agent = Agent(instructions="You are a helpful voice assistant.", llm=self.model)
        await self.session.start(agent, record=False)
        await asyncio.wait_for(self.model.ready.wait(), 30)

    async def _forward_user_transcripts(self, link: PacedLink) -> None:
        # RoomIO._forward_user_transcript, into a non-delta transcription output.
        async for ev in self._user_transcripts:
            await link.publish_transcription(ev.transcript)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.session.aclose()
        if self.sync is not None:
            await self.sync.aclose()
        self._user_transcripts.close()
        for task in [*self._tasks, *([self._state_task] if self._state_task else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.model.aclose()


class _Model(openai.realtime.RealtimeModel):
    """The plugin's model, plus harness listeners on each session it makes (nothing changed).

    ``ready``: the server acknowledged the session (``session.updated``); the truncate the
    session sends is timed on the PacedOutput, as the Turnstile half times its own.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ready = asyncio.Event()
        self.output: PacedOutput | None = None

    def session(self, *args: Any, **kwargs: Any) -> Any:
        session = super().session(*args, **kwargs)

        def on_server_event(ev: dict[str, Any]) -> None:
            if ev.get("type") == "session.updated":
                self.ready.set()

        def on_client_event(ev: dict[str, Any]) -> None:
            if ev.get("type") == "conversation.item.truncate" and self.output is not None:
                self.output.mark_truncate_sent(ev.get("audio_end_ms"))

        session.on("openai_server_event_received", on_server_event)
        session.on("openai_client_event_queued", on_client_event)
        return session


async def start(room: PacedRoom, url: str) -> PeerAgentSession:
    session = PeerAgentSession(url)
    await session.start(room)
    return session


if __name__ == "__main__":
    main("livekit-agents", start, QUEUE_MS)
