"""``turnstile demo``: a simulated caller talks to an agent, offline, with a live timeline.

The model side is scripted (the same ScriptedRealtime the tests use): it greets, answers a
question with a tool call, is interrupted by the caller, and answers once in text before
recovering to audio. Everything else is the real runtime and LocalRoom's real audio.
"""

from __future__ import annotations

import asyncio
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from turnstile.machine import (
    InputAudioCommitted,
    InputSpeechStarted,
    InputSpeechStopped,
    InputTranscriptionCompleted,
    RealtimeAgent,
)

from .local import LocalRoom
from .scripted import ScriptedRealtime, ScriptedSession

__all__ = ["run_demo", "voice"]

RATE = 24000


def voice(text: str, *, pitch: float, rate: int = RATE) -> bytes:
    """A speech-like signal for ``text``: one voiced syllable per vowel group, no downloads."""
    syllables = max(1, sum(1 for i, c in enumerate(text) if c in "aeiouy" and (i == 0 or text[i - 1] not in "aeiouy")))
    out = []
    rng = np.random.default_rng(len(text))
    for k in range(syllables):
        n = int(rate * rng.uniform(0.14, 0.22))
        t = np.arange(n) / rate
        f0 = pitch * (1 + 0.08 * np.sin(2 * np.pi * 3 * t + k))
        tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in (1, 2, 3))
        out.append(tone * np.hanning(n) * 6000)
        out.append(np.zeros(int(rate * 0.03)))
    return np.concatenate(out).astype(np.int16).tobytes()


class _Timeline:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def line(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.2f}s] {text}", flush=True)

    def after_transition(self, event: Any, source: Any, target: Any) -> None:
        arrow = f"--{event or '(auto)'}-->"
        self.line(f"{source.id:>12} {arrow} {target.id if target.id != source.id else '(stays)'}")


def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"21 degrees and sunny in {city}"


async def _caller_turn(
    room: LocalRoom, session: ScriptedSession, tl: _Timeline, text: str, caller_track: list[tuple[float, bytes]]
) -> None:
    pcm = voice(text, pitch=140)
    tl.line(f'caller says: "{text}"')
    session.emit(InputSpeechStarted())
    caller_track.append((time.monotonic(), pcm))
    await room.caller.say(np.repeat(np.frombuffer(pcm, np.int16), 2).tobytes())  # 48 kHz mic
    session.emit(InputSpeechStopped(), InputAudioCommitted(item_id=session.new_id("user")))
    session.emit(InputTranscriptionCompleted(transcript=text))


async def run_demo(*, trace_path: Path, diagram_path: Path, wav_path: Path) -> int:
    timeline = _Timeline()
    provider = ScriptedRealtime()
    room = LocalRoom(record=True)
    agent = RealtimeAgent(provider, tools=[get_weather], listeners=[timeline])
    for name in ("agent_speech_committed", "agent_speech_interrupted", "user_speech_committed"):
        agent.on(name, lambda text, n=name: timeline.line(f'{n}: "{text}"'))
    agent.on("function_calls_collected", lambda calls: timeline.line(f"tool calls: {[c.name for c in calls]}"))
    agent.on("function_calls_finished", lambda outs: timeline.line(f"tool outputs: {[o.output for o in outs]}"))
    agent.on("error", lambda e: timeline.line(f"error ({'recoverable' if e.recoverable else 'fatal'}): {e.message}"))
    caller_track: list[tuple[float, bytes]] = []

    await agent.start(room)
    await agent.wait_for_state("listening")
    linked_at = time.monotonic()
    s = provider.last_session

    async def speak(text: str) -> tuple[str, str]:
        return s.start_audio_response(voice(text, pitch=220), transcript=text)

    # 1. A greeting.
    agent.generate_reply()
    await speak("Hello! I am the Turnstile demo agent. How can I help you today?")
    await agent.wait_for_state("listening", timeout=15)
    # 2. A question, answered through a tool.
    await _caller_turn(room, s, timeline, "What is the weather in Paris?", caller_track)
    s.tool_call("get_weather", '{"city": "Paris"}')
    await s.wait_sent("create_response")
    await speak("It is twenty one degrees and sunny in Paris, a lovely day for a long walk by the river.")
    # 3. The caller barges in.
    await asyncio.sleep(1.2)
    await _caller_turn(room, s, timeline, "Thanks, and tomorrow?", caller_track)
    sent = s.last("truncate").args if "truncate" in s.names() else s.last("delete_item").args
    timeline.line(f"sent to the model: truncate {sent}")
    # 4. A text-only answer, recovered to audio.
    s.text_response("Tomorrow will be cloudy.")
    await speak("Tomorrow will be cloudy, with a little rain in the evening.")
    await agent.wait_for_state("listening", timeout=15)
    await agent.aclose()
    speaker = room.speaker
    await room.aclose()

    for path in (trace_path, diagram_path, wav_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    agent.trace.write_jsonl(trace_path)
    _write_wav(wav_path, caller_track, bytes(speaker.recording or b""), linked_at)
    from turnstile.diagrams import render

    render(diagram_path, trace=agent.trace)
    print(f"\ntrace:   {trace_path}\ndiagram: {diagram_path}\naudio:   {wav_path} (caller left, agent right)")
    return 0


def _write_wav(path: Path, caller: list[tuple[float, bytes]], agent: bytes, t0: float) -> None:
    right = np.frombuffer(agent, np.int16)
    end = max([len(right)] + [int((t - t0) * RATE) + len(p) // 2 for t, p in caller])
    left = np.zeros(end, np.int16)
    for t, pcm in caller:
        start = max(0, int((t - t0) * RATE))
        samples = np.frombuffer(pcm, np.int16)
        left[start : start + len(samples)] = samples
    right = np.pad(right, (0, end - len(right)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.column_stack([left, right]).tobytes())


