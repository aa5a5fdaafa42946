"""``turnstile demo``: a simulated caller talks to an agent over a real provider protocol.

The agent is the real runtime with the real OpenAI Realtime adapter; the model is the
loopback server (or any endpoint given with ``--url``) following a scenario; the caller
speaks synthesized audio into LocalRoom's real microphone track. A live timeline is
printed; the trace, a stereo WAV (caller left, agent right, as each side heard it) and the
chart with the trace laid over it are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from turnstile.machine import RealtimeAgent

from .local import LocalRoom
from .scenario import CallerTurn, ModelReply, Scenario, load_scenario
from .voice import RATE

__all__ = ["run_demo"]


class _Timeline:
    """Prints transitions and events as they happen, with the time since the call began."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def line(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.2f}s] {text}", flush=True)

    def after_transition(self, event: Any, source: Any, target: Any) -> None:
        if event in ("user_speech_started", "user_speech_stopped") and source.id == target.id:
            return  # the caller's own events are printed below, once
        to = target.id if target.id != source.id else "(stays)"
        self.line(f"{source.id:>12} --{event or '(auto)'}--> {to}")


def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"21 degrees and sunny in {city}"


class _Caller:
    """Speaks the scenario's caller turns into the room, and keeps them for the recording."""

    def __init__(self, room: LocalRoom, timeline: _Timeline) -> None:
        self.room, self.timeline = room, timeline
        self.said: list[tuple[float, bytes]] = []

    async def say(self, turn: CallerTurn) -> None:
        pcm = turn.audio()
        self.timeline.line(f'caller says: "{turn.transcript}"')
        self.said.append((time.monotonic(), pcm))
        mic_rate = self.room.caller.sample_rate
        samples = np.frombuffer(pcm, np.int16)
        if mic_rate != RATE:  # a 48 kHz microphone, as browsers publish: the agent resamples
            samples = np.repeat(samples, mic_rate // RATE)
        # Trailing silence lets the server's VAD hear the end of the turn.
        await self.room.caller.say(np.concatenate([samples, np.zeros(mic_rate, np.int16)]).tobytes())


async def _drive(agent: RealtimeAgent, caller: _Caller, scenario: Scenario, spoken: asyncio.Queue[str]) -> None:
    steps = scenario.steps
    if steps and isinstance(steps[0], ModelReply):
        agent.generate_reply()  # the agent speaks first
    for step in steps:
        if not isinstance(step, CallerTurn):
            continue
        if step.barge_in_after_ms is not None:
            await agent.wait_for_state("speaking", timeout=30)
            await asyncio.sleep(step.barge_in_after_ms / 1000)  # the caller's own timing
        else:
            await _wait_listening_after_speech(agent, spoken)
        await caller.say(step)
    await _wait_listening_after_speech(agent, spoken)


async def _wait_listening_after_speech(agent: RealtimeAgent, spoken: asyncio.Queue[str]) -> None:
    """Wait for the agent's next spoken item to end, then for it to listen."""
    await asyncio.wait_for(spoken.get(), 30)
    await agent.wait_for_state("listening", timeout=30)


async def run_demo(
    *,
    trace_path: Path,
    diagram_path: Path,
    wav_path: Path,
    scenario_path: Path | None = None,
    url: str | None = None,
    provider_name: str = "openai",
) -> int:
    if provider_name not in ("openai", "gemini"):
        raise SystemExit(f"turnstile demo: unknown provider {provider_name!r}")
    scenario = load_scenario(scenario_path)
    timeline = _Timeline()
    async with contextlib.AsyncExitStack() as stack:
        provider: Any
        if provider_name == "gemini":
            from .gemini import GeminiLive
            from .gemini._loopback import GeminiLiveServer

            if url is None:
                server: Any = await stack.enter_async_context(GeminiLiveServer(scenario))
                url, key = server.url, "loopback-key"
                timeline.line(f"loopback Gemini Live server on {url}")
            else:
                key = os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY") or ""
            provider = GeminiLive(api_key=key, url=url)
        else:
            from .openai import OpenAIRealtime
            from .openai._server import OpenAIRealtimeServer

            if url is None:
                server = await stack.enter_async_context(OpenAIRealtimeServer(scenario))
                url, key = server.url, "loopback-key"
                timeline.line(f"loopback OpenAI Realtime server on {url}")
            else:
                key = os.environ.get("OPENAI_API_KEY", "")
            provider = OpenAIRealtime(api_key=key, url=url)
        room = LocalRoom(record=True)
        agent = RealtimeAgent(provider, tools=[get_weather], listeners=[timeline])
        spoken: asyncio.Queue[str] = asyncio.Queue()
        _narrate(agent, timeline, spoken)
        caller = _Caller(room, timeline)
        await agent.start(room)
        await agent.wait_for_state("listening", timeout=15)
        linked_at = time.monotonic()
        try:
            await _drive(agent, caller, scenario, spoken)
        finally:
            await agent.aclose()
            recording = bytes(room.speaker.recording or b"") if room.link_ else b""
            await room.aclose()

    for path in (trace_path, diagram_path, wav_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    agent.trace.write_jsonl(trace_path)
    _write_wav(wav_path, caller.said, recording, linked_at)
    from turnstile.diagrams import render

    render(diagram_path, trace=agent.trace)
    print(f"\ntrace:   {trace_path}\ndiagram: {diagram_path}\naudio:   {wav_path} (caller left, agent right)")
    return 0


def _narrate(agent: RealtimeAgent, tl: _Timeline, spoken: asyncio.Queue[str]) -> None:
    for name in ("agent_speech_committed", "agent_speech_interrupted"):
        agent.on(name, lambda text, n=name: (tl.line(f'{n}: "{text}"'), spoken.put_nowait(text)))
    agent.on("user_started_speaking", lambda: tl.line("caller started speaking (server VAD)"))
    agent.on("user_speech_committed", lambda text: tl.line(f'user_speech_committed: "{text}"'))
    agent.on("function_calls_collected", lambda calls: tl.line(f"tool calls: {[(c.name, c.arguments) for c in calls]}"))
    agent.on("function_calls_finished", lambda outs: tl.line(f"tool outputs: {[o.output for o in outs]}"))
    agent.on("error", lambda e: tl.line(f"error ({'recoverable' if e.recoverable else 'fatal'}) {e.code}: {e.message}"))
    agent.on("metrics_collected", lambda m: tl.line(
        f"metrics: {m.status}, first audio {m.ttfa_s * 1000:.0f} ms" if m.ttfa_s is not None else f"metrics: {m.status}"))


def _write_wav(path: Path, caller: list[tuple[float, bytes]], agent: bytes, t0: float) -> None:
    right = np.frombuffer(agent, np.int16)
    end = max([len(right)] + [int((t - t0) * RATE) + len(p) // 2 for t, p in caller])
    left = np.zeros(end, np.int16)
    for t, pcm in caller:
        start = max(0, int((t - t0) * RATE))
        samples = np.frombuffer(pcm, np.int16)
        left[start : start + len(samples)] = samples[: end - start]
    right = np.pad(right, (0, end - len(right)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.column_stack([left, right]).tobytes())
