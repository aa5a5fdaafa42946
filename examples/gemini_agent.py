"""The same agent on Gemini Live: the conversation of ``openai_agent.py`` (a greeting, a
spoken weather question, the ``get_weather`` tool, the answer) with another provider.

    GOOGLE_API_KEY=... python examples/gemini_agent.py --wav question.wav   # the Gemini API

Offline, against the loopback server (``turnstile serve`` prints its URL):

    turnstile serve --provider gemini --port 8766 &
    GEMINI_LIVE_URL=ws://127.0.0.1:8766/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent \\
        python examples/gemini_agent.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from openai_agent import (
    INSTRUCTIONS,
    QUESTION,
    converse,
    get_weather,
    on_this_machine,
    speech,
)

from turnstile.adapters.gemini import GeminiLive
from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scenario import read_wav_pcm16
from turnstile.adapters.voice import RATE
from turnstile.machine import RealtimeAgent


def gemini_provider(url: str | None = None) -> GeminiLive:
    """The Gemini API by default (its key from ``GOOGLE_API_KEY`` or ``GEMINI_API_KEY``)."""
    key = os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY")
    if not key and on_this_machine(url):
        key = "loopback"  # a loopback server takes any key
    # Gemini hears 16 kHz and speaks 24 kHz: the agent resamples the room's audio for it.
    return GeminiLive(url=url, api_key=key, voice="Puck", instructions=INSTRUCTIONS)


async def main(url: str | None = None, wav: str | None = None) -> list[str]:
    agent = RealtimeAgent(gemini_provider(url), tools=[get_weather])
    room = LocalRoom(caller_sample_rate=RATE)
    try:
        return await converse(agent, room, read_wav_pcm16(Path(wav)) if wav else speech(QUESTION))
    finally:
        await room.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("GEMINI_LIVE_URL"),
                        help="a Live API endpoint (default: $GEMINI_LIVE_URL, else Google's)")
    parser.add_argument("--wav", help="a 16-bit WAV file of the caller's question (default: synthesized)")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.wav))
