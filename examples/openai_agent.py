"""An OpenAI Realtime agent with a tool: it greets, is asked about the weather, calls
``get_weather`` and answers, then hangs up.

    OPENAI_API_KEY=sk-... python examples/openai_agent.py          # the real API

Offline, against the loopback server (it takes any key, and this example needs none there):

    turnstile serve --provider openai --port 8765 &
    python examples/openai_agent.py --url ws://127.0.0.1:8765/v1/realtime

The room is a ``LocalRoom`` (in this process): the agent's voice plays into it and the
caller's question is spoken into its microphone track. The question is synthesized,
speech-like audio: the loopback server hears it as the scripted question, a real model
hears no words, so pass ``--wav question.wav`` (a recording) when you run it for real. In
production the room is LiveKit's (``turnstile run``, or ``LiveKitRoom(rtc_room)``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from urllib.parse import urlsplit

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.scenario import CALLER_PITCH, read_wav_pcm16
from turnstile.adapters.voice import RATE, voice
from turnstile.machine import AgentError, RealtimeAgent, ToolOutput

QUESTION = "What's the weather in Paris?"
INSTRUCTIONS = "You tell callers the weather. Use get_weather. Be brief."
WAIT_S = 30.0  # for each reply: a real model answers in a few seconds


async def get_weather(city: str) -> str:
    """Today's weather in a city."""  # the docstring is the tool's description
    return f"21 degrees and sunny in {city}"  # type hints become a validated JSON schema


async def main(url: str | None = None, wav: str | None = None) -> list[str]:
    agent = RealtimeAgent(openai_provider(url), tools=[get_weather])
    room = LocalRoom(caller_sample_rate=RATE)  # in production: LiveKitRoom(rtc_room)
    try:
        return await converse(agent, room, read_wav_pcm16(Path(wav)) if wav else speech(QUESTION))
    finally:
        await room.aclose()


def on_this_machine(url: str | None) -> bool:
    """A loopback server (``turnstile serve``) takes any key."""
    return url is not None and urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


def openai_provider(url: str | None = None, **options: object) -> OpenAIRealtime:
    """The real API by default (its key from ``OPENAI_API_KEY``), or the server at ``url``."""
    key = os.environ.get("OPENAI_API_KEY") or ("loopback" if on_this_machine(url) else None)
    options = {"voice": "marin", "instructions": INSTRUCTIONS, **options}
    return OpenAIRealtime(url=url, api_key=key, **options)


def speech(text: str, seconds: float | None = None) -> bytes:
    """The caller saying ``text``, synthesized (speech-like, not words), then 0.6 s of
    silence so that the VAD hears the turn end; ``seconds`` cuts the speech short."""
    pcm = voice(text, pitch=CALLER_PITCH)
    if seconds is not None:
        pcm = pcm[: int(RATE * seconds) * 2]
    return pcm + bytes(int(RATE * 0.6) * 2)


async def converse(agent: RealtimeAgent, room: LocalRoom, question: bytes) -> list[str]:
    """Start ``agent`` in ``room``; it greets, the caller asks ``question`` (PCM16 at 24 kHz);
    return what the agent said."""
    said: asyncio.Queue[str] = asyncio.Queue()
    agent.on("agent_speech_committed", said.put_nowait)  # a reply was heard to its end
    agent.on("user_speech_committed", lambda text: print("caller:", text))  # transcribed
    agent.on("function_calls_finished", print_tool_outputs)
    agent.on("error", print_error)

    async def next_reply() -> str:
        async with asyncio.timeout(WAIT_S):
            text = await said.get()
        print("agent: ", text)
        return text

    await agent.start(room)
    try:
        agent.generate_reply()  # the agent speaks first
        replies = [await next_reply()]
        await agent.wait_for_state("listening", timeout=WAIT_S)
        await room.caller.say(question)  # the model hears the turn end, calls the tool, answers
        replies.append(await next_reply())
        return replies
    finally:
        await agent.aclose()  # closes the provider session too


def print_tool_outputs(outputs: list[ToolOutput]) -> None:
    for out in outputs:
        print(f"tool:   {out.name} -> {out.output}")


def print_error(err: AgentError) -> None:
    print(f"error:  {err.code}: {err.message}" + ("" if err.recoverable else " (fatal)"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("OPENAI_REALTIME_URL"),
                        help="a Realtime endpoint (default: $OPENAI_REALTIME_URL, else OpenAI's)")
    parser.add_argument("--wav", help="a 16-bit WAV file of the caller's question (default: synthesized)")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.wav))
