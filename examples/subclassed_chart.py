"""A chart of your own, by subclassing: the agent's greeting (say, a legal notice) plays to
its end whoever talks over it; every later reply can be interrupted as usual.

    OPENAI_API_KEY=sk-... python examples/subclassed_chart.py
    python examples/subclassed_chart.py --url ws://127.0.0.1:8765/v1/realtime   # turnstile serve

A subclass's guard is ANDed with the guards of the same name on the runtime (here
``AgentOptions.allow_interruptions``) and on listeners: it can add a condition, not lift
one. The caller's voice is synthesized; pass ``--wav`` to talk over the agent with a
recording.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from chart_hooks import TALK, VAD
from openai_agent import WAIT_S, openai_provider, speech

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scenario import read_wav_pcm16
from turnstile.adapters.voice import RATE
from turnstile.machine import AgentChart, RealtimeAgent


class GreetingPlaysWhole(AgentChart):  # type: ignore[misc]
    """AgentChart, with the first reply protected from barge-ins."""

    greeted = False

    def interruption_allowed(self) -> bool:  # the chart's guard, by name
        return self.greeted

    def on_exit_speaking(self) -> None:  # a callback on the chart itself, by name
        self.greeted = True


async def main(url: str | None = None, wav: str | None = None) -> list[str]:
    """Talk over the greeting, then over the answer; return what the caller heard."""
    agent = RealtimeAgent(openai_provider(url, turn_detection=VAD), chart=GreetingPlaysWhole)
    heard: asyncio.Queue[str] = asyncio.Queue()
    agent.on("agent_speech_committed", heard.put_nowait)  # played to its end
    agent.on("agent_speech_interrupted", heard.put_nowait)  # cut: the words heard + "..."
    talk = read_wav_pcm16(Path(wav)) if wav else speech(TALK, seconds=1.5)
    room = LocalRoom(caller_sample_rate=RATE)
    await agent.start(room)
    try:
        said = []
        for what in ("the greeting", "the answer"):
            await agent.wait_for_state("listening", timeout=WAIT_S)
            agent.generate_reply()  # the greeting, then the answer to what the caller said
            await agent.wait_for_state("speaking", timeout=WAIT_S)
            await asyncio.sleep(1.0)  # the caller's own timing: a second into the reply
            print(f"caller: (talks over {what})")
            await room.caller.say(talk)
            async with asyncio.timeout(WAIT_S):
                said.append(await heard.get())
            print("agent: ", said[-1])
        return said
    finally:
        await agent.aclose()
        await room.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("OPENAI_REALTIME_URL"),
                        help="a Realtime endpoint (default: $OPENAI_REALTIME_URL, else OpenAI's)")
    parser.add_argument("--wav", help="a 16-bit WAV file of the caller talking over the agent")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.wav))
