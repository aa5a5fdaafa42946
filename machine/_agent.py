"""RealtimeAgent: the public face of a chart, a runtime, a provider session and a room."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Literal

from statemachine import StateChart

from ._audio_in import AudioForwarder
from ._chart import AgentChart, events_taken, turn_states
from ._chat import ChatContext
from ._emitter import EventEmitter
from ._listeners import check_listener, refuse_async_callbacks
from ._manual_turns import ManualTurns
from ._options import AgentOptions
from ._playout import Player
from ._ports import RealtimeProvider, RealtimeSession, RoomLink, RoomPort, TranscriptSegment
from ._publish import StatePublisher
from ._runtime import Runtime
from ._tools import Tool, Toolbox
from ._trace import Trace, TraceRecord
from ._warm import warm_models

__all__ = ["RealtimeAgent"]

logger = logging.getLogger("turnstile.agent")

_MANUAL_FRAME_MS = 20
"""Microphone frames under push-to-talk: at most this much of a turn waits past its commit."""

OnDuplicate = Literal["cancel_existing", "cancel_new", "keep_both"]


class RealtimeAgent(ManualTurns):
    """A realtime voice agent whose behaviour is ``chart``.

    >>> agent = RealtimeAgent(provider, tools=[get_weather])
    >>> await agent.start(room)            # doctest: +SKIP
    """

    def __init__(
        self,
        provider: RealtimeProvider,
        *,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        options: AgentOptions | None = None,
        chat_ctx: ChatContext | None = None,
        chart: type[StateChart[Any]] = AgentChart,
        listeners: Iterable[object] = (),
        trace: Trace | None = None,
        recorder: Any = None,
        inspector: str | None = None,
        inspector_transcripts: bool = True,
    ) -> None:
        warm_models()  # once per process: validators the first call's events need
        self.provider = provider
        self.options = options or AgentOptions()
        self.toolbox = Toolbox(tools)
        self.events = EventEmitter()
        # Bounded by default: a long call must not grow memory with every transition.
        self.trace = trace if trace is not None else Trace(max_records=10_000)
        self._runtime = Runtime(
            capabilities=provider.capabilities,
            options=self.options,
            toolbox=self.toolbox,
            chat_ctx=chat_ctx.copy() if chat_ctx is not None else ChatContext(),
            emitter=self.events,
            send=self._send,
        )
        user_listeners = list(listeners)
        for listener in user_listeners:
            refuse_async_callbacks(listener)
            check_listener(listener, chart)  # warns about hooks named after nothing in it
        self.chart = chart(
            model=self._runtime,
            listeners=[self.trace.listener(), *user_listeners],
        )
        # The agent follows its leaf state (publishes it, emits state_changed) from the
        # trace's records, which its listener makes on every transition anyway: a second
        # listener would cost each transition another trip through the engine's callbacks.
        self.trace.followers.append(self._transitioned)
        self._turn = turn_states(chart)
        self._order = {str(sid): i for i, sid in enumerate(chart.states_map)}
        self._state = self._leaf()
        self._runtime.call_away_prompt = self._prompt_away_user
        # Events no active state takes are dropped here, before the engine's macrostep
        # (most of an event's cost): an audio_started already speaking with nothing else
        # to do. Only where the chart drops them silently. Per configuration, memoized.
        self._by_state: dict[str, frozenset[str]] | None = None
        self._taking: dict[frozenset[str], frozenset[str]] = {}
        if self.chart.allow_event_without_transition:
            self._by_state, self._taking = events_taken(chart)
        self._takes: frozenset[str] | None = None  # the current configuration's; None: stale
        self._talking: bool | None = None  # the user region's, read per microphone chunk; None: stale
        self._dispatching = False
        self._session: RealtimeSession | None = None
        self._link: RoomLink | None = None
        self._forwarder: AudioForwarder | None = None
        self._publisher: StatePublisher | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._waiter: asyncio.Event | None = None
        self._started = False
        self._released = False
        # Observers, attached last (they read the chart and the trace): a recorder (anything
        # with attach(agent) -> an object with aclose(), e.g. turnstile.adapters.recording
        # .Recorder; TURNSTILE_RECORD=DIR gives one), and the live inspector (a URL, or
        # TURNSTILE_INSPECT). The core imports the adapters only when one is asked for.
        self._observers: list[Any] = []
        if recorder is None and os.environ.get("TURNSTILE_RECORD"):
            from turnstile.adapters.recording import recorder_from_env

            recorder = recorder_from_env()
        if recorder is not None:
            self._observers.append(recorder.attach(self))
        inspect_url = inspector if inspector is not None else os.environ.get("TURNSTILE_INSPECT")
        if inspect_url:
            from turnstile.adapters.inspector import attach_inspector

            self._observers.append(attach_inspector(self, inspect_url, transcripts=inspector_transcripts))

    # Public API -----------------------------------------------------------------------
    @property
    def state(self) -> str:
        """The chart's current leaf state: initializing, listening, ... or closed."""
        return self._state

    @property
    def configuration(self) -> tuple[str, ...]:
        """Every region's current state (turn, user, response, tools), or ``("closed",)``."""
        return tuple(sorted(
            (str(s.id) for s in self.chart.configuration if s.is_atomic), key=self._order.__getitem__
        ))

    @property
    def published_state(self) -> str | None:
        return self._publisher.published if self._publisher is not None else None

    @property
    def session(self) -> RealtimeSession | None:
        return self._session

    @property
    def link(self) -> RoomLink | None:
        return self._link

    @property
    def forwarder(self) -> AudioForwarder | None:
        return self._forwarder

    @property
    def chat_ctx(self) -> ChatContext:
        """A copy of the conversation as heard; edit it and pass it to ``set_chat_ctx``."""
        return self._runtime.chat_ctx.copy()

    def set_chat_ctx(self, ctx: ChatContext) -> None:
        self._runtime.chat_ctx = ctx.copy()
        if self._session is not None:
            self._session.update_chat_ctx(self._runtime.chat_ctx)

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        return self.events.on(event, handler)

    async def start(self, room: RoomPort, participant: str | None = None) -> None:
        if self._started:
            raise RuntimeError("this agent was already started; create a new RealtimeAgent")
        if self._released:
            raise RuntimeError("this agent was closed before it started; create a new RealtimeAgent")
        self._started = True
        caps = self.provider.capabilities
        self._link = link = await room.link(participant, output_sample_rate=caps.output_sample_rate)
        self._publisher = StatePublisher(link.set_attributes)
        self._publish()
        rt = self._runtime
        rt.player = Player(
            link.output, rt.on_playout_started, rt.on_playout_finished, rt.on_playout_progress
        )
        rt.transcription = getattr(link, "agent_transcription", None)
        rt.publish_user_transcript = self._publish_user_transcript
        self._session = session = self.provider.session(
            chat_ctx=rt.chat_ctx, tools=self.toolbox.schemas, on_event=rt.on_provider_event
        )
        rt.session = session
        self._forwarder = fwd = AudioForwarder(
            session.push_audio,
            sample_rate=caps.input_sample_rate,
            chunk_ms=self.options.input_chunk_ms,
            buffer_ms=self.options.input_buffer_ms,
        )
        rt.set_forwarding = fwd.set_ready
        self._spawn(self._forward_microphone(link, fwd), "microphone")
        self._spawn(self._connect(session), "connect")

    def generate_reply(
        self, on_duplicate: OnDuplicate = "cancel_existing", *, instructions: str | None = None
    ) -> None:
        """Ask the model to answer now (after a manual turn, or to speak first).

        ``instructions`` guide this reply only ("ask whether the caller is still there");
        the session's own instructions are unchanged."""
        rt, session = self._runtime, self._session
        if session is None or rt.closed:
            return
        if self._state == "initializing":
            rt.owed_instructions = instructions
            self._send("reply_deferred")  # owed (tools: reply_owed), asked for once ready
            return
        if rt.responses:
            if on_duplicate == "cancel_new":
                return
            if on_duplicate == "cancel_existing":
                rt.cancel_response()
        if not self.provider.capabilities.server_turn_detection:
            self._commit_what_was_said(session)
        rt.owed_instructions = instructions
        rt.request_response()

    def _prompt_away_user(self, prompt: str | Callable[[Any], None]) -> None:
        """``on_user_away``: instructions for a reply, or the application's callback."""
        if isinstance(prompt, str):
            self.generate_reply(instructions=prompt)
        else:
            prompt(self)

    def interrupt(self) -> None:
        """Stop the agent's speech (or its pending answer) as a barge-in would."""
        self._send("interrupt")

    async def aclose(self) -> None:
        # The chart may have closed by itself (a fatal provider error): the resources
        # (provider socket, room link, tasks) are still released here, once.
        if self._released:
            return
        self._released = True
        self._send("close")
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.toolbox.aclose()  # never waits for a hung sync tool's thread
        if self._runtime.player is not None:
            await self._runtime.player.aclose()
        if self._publisher is not None:
            await self._publisher.aclose()
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.aclose()
        if self._link is not None:
            with contextlib.suppress(Exception):
                await self._link.aclose()
        for observer in self._observers:  # last: they write what the chart ended with
            try:
                await observer.aclose()
            except Exception as exc:  # an observer never fails the agent's close
                logger.warning("could not close %s: %s", type(observer).__name__, exc)

    async def wait_for_state(self, state: str, timeout: float = 5.0) -> None:
        """Wait until the chart is in ``state`` (a test helper and a user's convenience)."""
        async with asyncio.timeout(timeout):
            while self._state != state:
                await self._state_event().wait()

    # Internals ------------------------------------------------------------------------
    def _send(self, event: str, **data: Any) -> None:
        if self._state == "closed":
            return
        # Mid-macrostep (an action sending), the leaf is not settled yet: no filtering.
        outer = self._dispatching
        if not outer and self._by_state is not None and event not in self._events_taken():
            return
        self._dispatching = True
        # The collector waits until the chart has acted: a barge-in clears playout inside
        # this call, and a collection the dispatch's allocations would trigger midway (a
        # few ms under a hundred sessions) would delay it. Deferred, not skipped: it runs at
        # the next allocation after. Left alone where the application turned it off.
        collect = not outer and gc.isenabled()
        if collect:
            gc.disable()
        try:
            self.chart.send(event, **data)
        finally:
            self._dispatching = outer
            if collect:
                gc.enable()

    def _events_taken(self) -> frozenset[str]:
        takes = self._takes
        if takes is None:
            assert self._by_state is not None
            atoms = frozenset(str(s.id) for s in self.chart.configuration if s.is_atomic)
            takes = self._taking.get(atoms)
            if takes is None:
                takes = self._taking[atoms] = frozenset().union(*(self._by_state[a] for a in atoms))
            self._takes = takes
        return takes

    def _leaf(self) -> str:
        for state in self.chart.configuration:
            if state.id in self._turn:
                return str(state.id)
        return "closed"

    def _user_talking(self) -> bool:
        talking = self._talking
        if talking is None:  # the configuration is rebuilt on every read: once per change
            talking = self._talking = any(s.id == "talking" for s in self.chart.configuration)
        return talking

    def _transitioned(self, record: TraceRecord) -> None:
        self._leaf_changed(record.event)

    def _leaf_changed(self, event: Any) -> None:
        self._takes = self._talking = None  # the configuration moved
        new = self._leaf()
        old, self._state = self._state, new
        if new != old:
            self._publish()
            self.events.emit("state_changed", old, new, str(event) if event else None)
            waiter, self._waiter = self._waiter, None
            if waiter is not None:
                waiter.set()

    def _state_event(self) -> asyncio.Event:
        if self._waiter is None:
            self._waiter = asyncio.Event()
        return self._waiter

    def _publish(self) -> None:
        value = self.options.state_map.get(self._state)
        if value is not None and self._publisher is not None:
            self._publisher.publish(value)

    def _publish_user_transcript(self, item_id: str | None, text: str) -> None:
        link = self._link
        if link is None or not text:
            return
        segment = TranscriptSegment(
            participant=link.participant, segment_id=item_id or f"user-{uuid.uuid4().hex[:12]}",
            text=text, final=True,
        )
        self._spawn(_publish_transcription(link, segment), "user-transcription")

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, session: RealtimeSession) -> None:
        try:
            await session.connect()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self._runtime.closed:
                # The session told the agent first (session_lost for good): that one
                # fatal error, with the server's reason, is the report; this is its echo.
                logger.debug("the provider session ended while connecting: %s", exc)
                return
            logger.error("could not connect the provider session: %s", exc)
            self._runtime.error("connect_failed", str(exc), recoverable=False)
            self._send("close")

    async def _forward_microphone(self, link: RoomLink, fwd: AudioForwarder) -> None:
        rt = self._runtime
        # Whole chunks from the room are cheapest. Where the application ends the turns
        # (push-to-talk) a release must carry the last words, so frames come short and
        # the forwarder's partial chunk goes out at the commit (AudioForwarder.flush).
        manual = not self.provider.capabilities.server_turn_detection
        async for frame in link.audio_frames(fwd.sample_rate, _MANUAL_FRAME_MS if manual else fwd.chunk_ms):
            if fwd.feed(frame) and self._state == "speaking" and self._user_talking():
                # The user is still talking over the agent: ask the guards again with the
                # speech's length, so a guard like "ignore barge-ins under 300 ms" works.
                speech_ms = int((time.monotonic() - rt.user_speech_began) * 1000)
                self._send("user_speech_started", speech_ms=speech_ms)


async def _publish_transcription(link: RoomLink, segment: TranscriptSegment) -> None:
    # The call is made inside the task: a task cancelled before it ran leaves no coroutine
    # behind that was never awaited.
    try:
        await link.publish_transcription(segment)
    except Exception as exc:  # a transcription that could not be published is not fatal
        logger.warning("could not publish a transcription: %s", exc)
