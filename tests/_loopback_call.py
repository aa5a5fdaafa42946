"""A call for the end-to-end tests: a real RealtimeAgent on a LocalRoom (real livekit.rtc
audio), talking through a provider pointed at one of the loopback servers."""

from __future__ import annotations

from typing import Any

from turnstile.adapters.gemini import GeminiLive
from turnstile.adapters.gemini._loopback import GeminiLiveServer
from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scripted import pcm_tone
from turnstile.machine import AgentError, RealtimeAgent, RealtimeProvider

from ._util import wait_until


def openai_loopback(server: OpenAIRealtimeServer, dialect: str = "ga", **kw: Any) -> OpenAIRealtime:
    """OpenAIRealtime against ``server``: the GA URL, or (beta) its Azure endpoint."""
    if dialect == "ga":
        return OpenAIRealtime(api_key="sk-loopback", url=server.url, backoff_base_s=0.05, **kw)
    endpoint = server.azure_url.rsplit("/openai", 1)[0].replace("ws", "http", 1)
    return OpenAIRealtime(api_key="sk-loopback", azure_endpoint=endpoint, azure_deployment="gpt-realtime",
                          backoff_base_s=0.05, **kw)  # fmt: skip


def gemini_loopback(server: GeminiLiveServer, **kw: Any) -> GeminiLive:
    return GeminiLive(api_key="g-loopback", url=server.url, backoff_base_s=0.05, **kw)


class LoopbackCall:
    """``async with LoopbackCall(provider, rate) as call``: started, and listening."""

    def __init__(self, provider: RealtimeProvider, rate: int, **agent_kw: Any) -> None:
        self.provider = provider
        self.rate = rate
        self.room = LocalRoom(caller_sample_rate=rate)
        self.agent = RealtimeAgent(provider, **agent_kw)
        self.errors: list[AgentError] = []
        self.spoken: list[str] = []
        self.agent.on("error", self.errors.append)
        for name in ("agent_speech_committed", "agent_speech_interrupted"):
            self.agent.on(name, self.spoken.append)

    async def __aenter__(self) -> Any:
        await self.agent.start(self.room)
        await self.agent.wait_for_state("listening", timeout=10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.agent.aclose()
        await self.room.aclose()

    async def say(self, ms: int) -> None:
        """The caller speaks ``ms`` (whole 100 ms chunks); returns once all of it went out."""
        fwd = self.agent.forwarder
        assert fwd is not None
        target = fwd.sent_chunks + ms // 100
        await self.room.caller.say(pcm_tone(ms, sample_rate=self.rate))
        await wait_until(lambda: fwd.sent_chunks >= target)
