"""Hooking the chart: a listener that logs every transition, and a guard of your own that
lets the agent talk through a cough but not through a caller who goes on talking.

    OPENAI_API_KEY=sk-... python examples/chart_hooks.py
    python examples/chart_hooks.py --url ws://127.0.0.1:8765/v1/realtime   # turnstile serve --provider openai

The caller's voice is synthesized, speech-like audio: the loopback server's VAD hears it
as speech, a real model's may not. Pass ``--wav`` to interrupt with a recording instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from openai_agent import WAIT_S, openai_provider, speech
from statemachine import State

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai import ServerVad
from turnstile.adapters.scenario import read_wav_pcm16
from turnstile.adapters.voice import RATE
from turnstile.machine import AgentOptions, RealtimeAgent, Trace


class Log:
    """A listener: python-statemachine calls its methods by name, arguments by name."""

    def after_transition(self, event: str, source: State, target: State) -> None:
        print(f"chart:  {source.id} --{event}--> {target.id}")

    def on_enter_interrupted(self) -> None:
        print("chart:  the caller cut the agent off")


class IgnoreShortBargeIns:
    """A guard named like the chart's ``interruption_allowed``: all of them must hold."""

    def __init__(self, min_speech_ms: int = 500) -> None:
        self.min_speech_ms = min_speech_ms

    def interruption_allowed(self, speech_ms: int = 0) -> bool:
        # Asked when the caller starts talking over the agent (speech_ms=0), then again for
        # every 100 ms of the caller's audio until the provider says the speech stopped.
        return speech_ms >= self.min_speech_ms


# speech_ms counts from the provider's speech_started to its speech_stopped, the VAD's
# trailing silence included: keep silence_duration_ms under the guard's threshold.
# interrupt_response=False: the server does not cut a reply itself, the chart decides.
# create_response=False: the agent asks for each reply (generate_reply), so a cough is
# not answered, and the script knows which reply is which.
VAD = ServerVad(silence_duration_ms=200, interrupt_response=False, create_response=False)
TALK = "I really need to ask you something else"


async def main(url: str | None = None, wav: str | None = None) -> Trace:
    # This example decides barge-ins with its own guard, so the built-in hold (which the
    # same VAD settings would turn on: see README, "Turn-taking") is off.
    agent = RealtimeAgent(openai_provider(url, turn_detection=VAD),
                          options=AgentOptions(resume_false_interruption=False),
                          listeners=[Log(), IgnoreShortBargeIns()])
    stopped = asyncio.Event()
    agent.on("user_stopped_speaking", stopped.set)
    room = LocalRoom(caller_sample_rate=RATE)
    await agent.start(room)
    try:
        await agent.wait_for_state("listening", timeout=WAIT_S)
        agent.generate_reply()  # the agent greets
        await agent.wait_for_state("speaking", timeout=WAIT_S)
        print("caller: *cough*")
        await room.caller.say(speech("hm", seconds=0.2))
        async with asyncio.timeout(WAIT_S):
            await stopped.wait()
        print(f"agent:  still {agent.state}")
        print("caller: (talks over the agent)")
        await room.caller.say(read_wav_pcm16(Path(wav)) if wav else speech(TALK, seconds=1.5))
        return agent.trace
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
