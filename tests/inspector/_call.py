"""The scripted call the inspector's tests watch: the real agent and OpenAI adapter over a
socket to the loopback Realtime server, a caller speaking into LocalRoom's microphone.

A greeting, a question answered through a tool, and a barge-in one second into the
answer. ``step`` is awaited at each checkpoint, so a test can look at the page (or
anything else) while the agent is there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import numpy as np

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scenario import CallerTurn, Scenario
from turnstile.machine import RealtimeAgent

from .._util import wait_until

RATE = 24000

SCENARIO = Scenario.model_validate({"steps": [
    {"role": "model", "transcript": "Hi, how can I help?"},
    {"role": "caller", "transcript": "Weather in Paris?"},
    {"role": "model", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
    {"role": "model", "transcript": "It is sunny in Paris, a lovely day for a long walk by the river."},
    {"role": "caller", "transcript": "And tomorrow?", "barge_in_after_ms": 1000},
    {"role": "model", "transcript": "Cloudy."},
]})  # fmt: skip


def get_weather(city: str) -> str:
    return f"sunny in {city}"


async def say(room: LocalRoom, turn: object) -> None:
    assert isinstance(turn, CallerTurn)
    pcm = np.frombuffer(turn.audio(), np.int16)
    await room.caller.say(np.concatenate([pcm, np.zeros(RATE, np.int16)]).tobytes())  # silence: the turn ends


Step = Callable[[str], Awaitable[None]]


async def _nothing(_: str) -> None:
    return None


async def barge_in_call(agent: RealtimeAgent, room: LocalRoom, spoken: list[str], step: Step = _nothing) -> None:
    """Run the call; ``spoken`` fills with what the agent said (as heard), in order."""
    for name in ("agent_speech_committed", "agent_speech_interrupted"):
        agent.on(name, spoken.append)
    await agent.start(room)
    await agent.wait_for_state("listening", timeout=10)
    await step("listening")
    agent.generate_reply()  # the greeting
    await agent.wait_for_state("speaking", timeout=10)
    await step("greeting")
    await wait_until(lambda: len(spoken) == 1, timeout=15)
    await agent.wait_for_state("listening")
    await step("greeted")
    before = room.speaker.heard_samples  # the greeting's
    await say(room, SCENARIO.steps[1])
    await agent.wait_for_state("speaking", timeout=15)  # after the tool
    await wait_until(lambda: room.speaker.heard_samples - before > RATE, timeout=15)
    await say(room, SCENARIO.steps[4])  # over the answer
    await wait_until(lambda: len(spoken) == 3, timeout=20)  # the answer to the barge-in
    await agent.wait_for_state("listening", timeout=15)
    await step("done")
