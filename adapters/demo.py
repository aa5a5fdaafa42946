"""``turnstile demo``: a simulated caller talks to an agent over a real provider protocol.

The agent is the real runtime with the real OpenAI Realtime (or Gemini Live) adapter; the
model is the loopback server (or any endpoint given with ``--url``) following a scenario;
the caller speaks synthesized audio into LocalRoom's real microphone track. A live
timeline is printed, then a summary; the trace, a stereo WAV (caller left, agent right, as
each side heard it) and the chart with the trace laid over it are written, also when the
call is cut short by Ctrl-C or by a fatal error.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

from turnstile.machine import RealtimeAgent, Trace

from ._demo_files import write_diagrams, write_wav
from ._demo_report import Narrator, Timeline
from .local import LocalLink, LocalRoom
from .scenario import CallerTurn, ModelReply, Scenario, load_scenario
from .voice import RATE

if TYPE_CHECKING:
    from .inspector._demo import DemoInspector

__all__ = ["DemoFailed", "run_demo"]

_LOOPBACK_KEY = "loopback-key"  # the loopback servers accept any key
_KEY_ENV = {"openai": ("OPENAI_API_KEY",), "gemini": ("GOOGLE_API_KEY", "GEMINI_API_KEY")}
_WAIT_S = 30.0


class DemoFailed(RuntimeError):
    """The call could not be made, or ended early; the message says why, in one line."""


class _CallEnded(Exception):
    """The chart closed during the call (a fatal provider error), or a wait ran out."""


def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"21 degrees and sunny in {city}"


class _Room(LocalRoom):
    """A LocalRoom that notes when the agent linked: its speaker records from then on."""

    linked_at: float | None = None

    async def link(self, participant: str | None, *, output_sample_rate: int) -> LocalLink:
        self.linked_at = time.monotonic()
        return await super().link(participant, output_sample_rate=output_sample_rate)

    def recording(self) -> bytes:
        return bytes(self.link_.speaker.recording or b"") if self.link_ is not None else b""


class _Call:
    """Follows the agent's state and its spoken items; the chart closing ends any wait."""

    def __init__(self, agent: RealtimeAgent) -> None:
        self.agent = agent
        self.spoken = 0
        self._changed = asyncio.Event()
        agent.on("state_changed", lambda *_: self._changed.set())
        for name in ("agent_speech_committed", "agent_speech_interrupted"):
            agent.on(name, self._spoke)

    def _spoke(self, _text: str) -> None:
        self.spoken += 1
        self._changed.set()

    async def _until(self, done: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(_WAIT_S):
                while not done():
                    if self.agent.state == "closed":
                        raise _CallEnded("the agent closed")
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise _CallEnded(f"waited {_WAIT_S:.0f}s for {what}; the agent is {self.agent.state}") from None

    async def state(self, state: str) -> None:
        await self._until(lambda: self.agent.state == state, f"the agent to be {state}")

    async def speaking_unless_done(self) -> None:
        """Until the agent speaks; or, cut off with nothing more on its way, until it listens
        (a cough meant for a reply the server already cut is coughed anyway)."""

        def ready() -> bool:
            if self.agent.state == "speaking":
                return True
            idle = {"no_response", "no_tools"} <= set(self.agent.configuration)
            return self.agent.state == "listening" and idle

        await self._until(ready, "the agent to speak")

    async def spoken_then_listening(self) -> None:
        """Wait for the agent's next spoken item to end, then for it to listen."""
        await self._until(lambda: self.spoken > 0, "the agent to speak")
        self.spoken -= 1
        await self.state("listening")


class _Caller:
    """Speaks the scenario's caller turns into the room, and keeps them for the recording."""

    def __init__(self, room: LocalRoom, timeline: Timeline) -> None:
        self.room, self.timeline = room, timeline
        self.said: list[tuple[float, bytes]] = []

    async def say(self, turn: CallerTurn, *, silence_after_ms: int = 1000) -> None:
        pcm = turn.audio()
        self.timeline.line(_said(turn))
        self.said.append((self.timeline.now(), pcm))
        mic_rate = self.room.caller.sample_rate
        samples = np.frombuffer(pcm, np.int16)
        if mic_rate != RATE:  # a 48 kHz microphone, as browsers publish: the agent resamples
            samples = np.repeat(samples, mic_rate // RATE)
        # Trailing silence lets the server's VAD hear the end of the turn (a push-to-talk
        # button is let go a moment after the last word, once that word has gone out).
        silence = np.zeros(mic_rate * silence_after_ms // 1000, np.int16)
        await self.room.caller.say(np.concatenate([samples, silence]).tobytes())


def _said(turn: CallerTurn) -> str:
    if turn.kind == "cough":
        return "caller coughs (a sound with no words)"
    if turn.kind == "backchannel":
        return f'caller says: "{turn.transcript}" (a backchannel)'
    how = " (push-to-talk)" if turn.push_to_talk else ""
    return f'caller says: "{turn.transcript}"{how}'


async def _converse(agent: RealtimeAgent, room: LocalRoom, caller: _Caller, scenario: Scenario) -> None:
    call = _Call(agent)
    await agent.start(room)
    await call.state("listening")
    steps = scenario.steps
    if steps and isinstance(steps[0], ModelReply):
        agent.generate_reply()  # the agent speaks first
    for step in steps:
        if not isinstance(step, CallerTurn):
            continue
        if step.barge_in_after_ms is not None:
            # Over the agent: counted from when it is speaking (again, after a hold it resumed).
            await (call.state("speaking") if step.answered else call.speaking_unless_done())
            await asyncio.sleep(step.barge_in_after_ms / 1000)  # the caller's own timing
        elif step.answered:
            await call.spoken_then_listening()
        if step.push_to_talk:
            agent.start_user_turn()  # the button pressed: the turn is the application's
            await caller.say(step, silence_after_ms=300)
            agent.commit_user_turn()  # released: commit it, and ask for the answer
        else:
            await caller.say(step)
    await call.spoken_then_listening()


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _key(provider_name: str, url: str) -> str:
    names = _KEY_ENV[provider_name]
    key = next((os.environ[n] for n in names if os.environ.get(n)), None)
    if key is not None:
        return key
    if _is_loopback(url):  # a loopback server (turnstile serve) needs no real key
        return _LOOPBACK_KEY
    raise DemoFailed(f"--url {url} needs an API key in {' or '.join(names)} (only this machine's own addresses do not)")


async def _provider(
    stack: contextlib.AsyncExitStack, name: str, url: str | None, scenario: Scenario, timeline: Timeline
) -> Any:
    if name == "gemini":
        from .gemini import GeminiLive
        from .gemini._loopback import GeminiLiveServer

        detects = not scenario.push_to_talk  # push-to-talk: activityStart / activityEnd, no detection
        if url is None:
            server = await stack.enter_async_context(GeminiLiveServer(scenario))
            timeline.line(f"loopback Gemini Live server on {server.url}")
            return GeminiLive(api_key=_LOOPBACK_KEY, url=server.url, automatic_activity_detection=detects)
        return GeminiLive(api_key=_key(name, url), url=url, automatic_activity_detection=detects)
    from .openai import OpenAIRealtime, ServerVad
    from .openai._server import OpenAIRealtimeServer

    # The agent decides turns: the server neither cuts its answer at the caller's first sound
    # nor answers a cough, so the agent holds, then plays on or gives way. The VAD's 200 ms of
    # silence keeps a cough (speech, then that silence) under min_interruption_s.
    # Push-to-talk: the application says where turns begin and end, so no VAD.
    vad = None if scenario.push_to_talk else ServerVad(silence_duration_ms=200)
    turns: dict[str, Any] = {"agent_decides_turns": True, "turn_detection": vad}
    if url is None:
        openai = await stack.enter_async_context(OpenAIRealtimeServer(scenario))
        timeline.line(f"loopback OpenAI Realtime server on {openai.url}")
        return OpenAIRealtime(api_key=_LOOPBACK_KEY, url=openai.url, **turns)
    return OpenAIRealtime(api_key=_key(name, url), url=url, **turns)


@contextlib.contextmanager
def _on_interrupt(callback: Callable[[], None]) -> Iterator[None]:
    """Ctrl-C and SIGTERM call ``callback`` (the call then stops and what it recorded is kept)."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
            loop.add_signal_handler(sig, callback)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


@contextlib.contextmanager
def _logs_on(handler: logging.Handler) -> Iterator[None]:
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


async def _until_done_or(call: asyncio.Task[None], stop: asyncio.Event) -> bool:
    """Wait for the call to end or ``stop``; True when it was stopped (and is cancelled)."""
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({call, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if call.done():
        return False
    call.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await call
    return True


async def run_demo(
    *,
    trace_path: Path,
    diagram_path: Path,
    wav_path: Path,
    scenario: Scenario | None = None,
    url: str | None = None,
    provider_name: str = "openai",
    inspect: str | None = None,
) -> int:
    """Run the call; 0 when it ran to the end, 130 when interrupted (files written either way).

    ``inspect``: publish the call to the inspector at that URL; "" serves one here (the call
    waits for its page to open, and it stays up after the call until Ctrl-C).
    Raises :class:`DemoFailed` when the model cannot be reached, or the call ended early.
    """
    if inspect is None:
        return await _run_demo(trace_path, diagram_path, wav_path, scenario, url, provider_name, None)
    from .inspector._demo import DemoInspector

    async with DemoInspector(inspect) as inspector:
        code = await _run_demo(trace_path, diagram_path, wav_path, scenario, url, provider_name, inspector)
        if code == 0:
            stop = asyncio.Event()
            with _on_interrupt(stop.set):
                await inspector.linger(stop)
        return code


async def _run_demo(
    trace_path: Path, diagram_path: Path, wav_path: Path, scenario: Scenario | None,
    url: str | None, provider_name: str, inspector: DemoInspector | None,
) -> int:  # fmt: skip
    if provider_name not in _KEY_ENV:
        raise DemoFailed(f"unknown provider {provider_name!r}")
    scenario = scenario if scenario is not None else load_scenario(None)
    trace = Trace(max_records=10_000)
    timeline = Timeline(trace)  # one clock: the trace's
    narrator = Narrator(timeline)
    stop = asyncio.Event()
    ended_early: str | None = None
    with _on_interrupt(stop.set), _logs_on(narrator.log_handler()):
        async with contextlib.AsyncExitStack() as stack:
            provider = await _provider(stack, provider_name, url, scenario, timeline)
            if inspector is not None and not await inspector.wait_for_page(stop):
                return 130  # stopped before the page was opened: no call, nothing to write
            room = _Room(record=True)
            stack.push_async_callback(room.aclose)
            agent = RealtimeAgent(provider, tools=[get_weather], listeners=[timeline], trace=trace)
            if inspector is not None:
                inspector.attach(agent)  # closed after the agent (the page sees it end)
            stack.push_async_callback(agent.aclose)  # first: the agent lets go of the room
            narrator.attach(agent)
            caller = _Caller(room, timeline)
            call = asyncio.ensure_future(_converse(agent, room, caller, scenario))
            interrupted = await _until_done_or(call, stop)
            if interrupted:
                timeline.line("interrupted: writing what was recorded")
            elif isinstance(call.exception(), _CallEnded):
                ended_early = narrator.fatal or str(call.exception())
            else:
                call.result()  # anything else is a bug or a bad input: raise it
    if ended_early is not None and not any(r.event == "session_ready" for r in trace.records):
        raise DemoFailed(f"could not start a session with {url or 'the loopback server'}: {ended_early}")
    files = _write_files(trace_path, diagram_path, wav_path, trace, caller, room)
    print(narrator.summary(files, interrupted=interrupted, loopback=url is None or _is_loopback(url)))
    if ended_early is not None:
        raise DemoFailed(f"the call ended early: {ended_early}")
    return 130 if interrupted else 0


def _write_files(
    trace_path: Path, diagram_path: Path, wav_path: Path, trace: Trace, caller: _Caller, room: _Room
) -> list[str]:
    trace_path.parent.mkdir(parents=True, exist_ok=True)
    trace.write_jsonl(trace_path)
    agent_from = (room.linked_at or trace.started) - trace.started
    write_wav(wav_path, caller.said, room.recording(), agent_from)
    drawings = write_diagrams(diagram_path, trace)
    return [
        f"trace:   {trace_path}",
        f"diagram: {', '.join(map(str, drawings)) or '(none)'}",
        f"audio:   {wav_path} (caller left, agent right)",
    ]
