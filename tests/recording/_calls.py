"""Recorded loopback calls: the demo conversation (a greeting, a question answered through
a tool, a barge-in that truncates the long answer, a text reply recovered as audio) through
the real adapters, with a Recorder attached."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.recording import Recorder, attach_recorder
from turnstile.adapters.scenario import CallerTurn, load_scenario
from turnstile.machine import RealtimeAgent

from .._util import wait_until

RATE = 24000
OPENAI_KEY = "sk-recorded-call-SECRET-4242"
GEMINI_KEY = "g-recorded-call-SECRET-4242"


def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"sunny in {city}"


async def _say(room: LocalRoom, turn: CallerTurn) -> None:
    pcm = np.frombuffer(turn.audio(), np.int16)
    await room.caller.say(np.concatenate([pcm, np.zeros(RATE, np.int16)]).tobytes())  # silence: end of turn


async def _converse(agent: RealtimeAgent, room: LocalRoom, replies: int) -> None:
    scenario = load_scenario()
    question, barge_in = scenario.steps[1], scenario.steps[4]
    assert isinstance(question, CallerTurn) and isinstance(barge_in, CallerTurn)
    spoken: list[str] = []
    for name in ("agent_speech_committed", "agent_speech_interrupted"):
        agent.on(name, spoken.append)
    await agent.start(room)
    await agent.wait_for_state("listening", timeout=10)
    agent.generate_reply()
    await wait_until(lambda: len(spoken) == 1, timeout=15)  # the greeting
    await agent.wait_for_state("listening")
    await _say(room, question)
    await agent.wait_for_state("speaking", timeout=15)  # the answer, after the tool
    await wait_until(lambda: room.speaker.heard_samples > RATE * 5, timeout=15)
    await _say(room, barge_in)
    await wait_until(lambda: len(spoken) >= replies, timeout=20)
    await agent.wait_for_state("listening", timeout=15)


async def record_call(path: Path, provider_name: str, dialect: str = "ga", **recorder: Any) -> Recorder:
    """Run the demo call against the provider's loopback server, recorded into ``path``."""
    provider: Any
    async with loopback_server(provider_name) as server:
        if provider_name == "gemini":
            from turnstile.adapters.gemini import GeminiLive

            provider = GeminiLive(api_key=GEMINI_KEY, url=server.url, backoff_base_s=0.05)
        else:
            from turnstile.adapters.openai import OpenAIRealtime

            provider = OpenAIRealtime(api_key=OPENAI_KEY, url=server.url, dialect=dialect, backoff_base_s=0.05)
        room = LocalRoom(caller_sample_rate=RATE)
        agent = RealtimeAgent(provider, tools=[get_weather])
        # Both ways of attaching: the function, and the method an agent's recorder= would call.
        rec = attach_recorder(agent, Recorder(path, **recorder)) if provider_name == "openai" else Recorder(
            path, **recorder
        ).attach(agent)
        try:
            await _converse(agent, room, replies=2 if provider_name == "gemini" else 3)
        finally:
            await agent.aclose()
            await room.aclose()
            await rec.aclose()
    return rec


def loopback_server(provider_name: str) -> Any:
    if provider_name == "gemini":
        from turnstile.adapters.gemini._loopback import GeminiLiveServer

        return GeminiLiveServer(load_scenario())
    from turnstile.adapters.openai._server import OpenAIRealtimeServer

    return OpenAIRealtimeServer(load_scenario())


def recorded(path: Path, provider_name: str, dialect: str = "ga", **recorder: Any) -> Path:
    """``record_call`` from synchronous code (a module fixture, made once for its tests)."""
    asyncio.run(record_call(path, provider_name, dialect, **recorder))
    return path
