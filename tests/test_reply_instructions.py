"""A reply's own instructions (``generate_reply(instructions=...)``, and ``on_user_away`` given
as text) on the wire of each provider, end to end over the loopback servers: OpenAI's
``response.create`` carries ``response.instructions`` (GA and beta); Gemini Live, which has no
per-response instructions, gets them as a user-role text turn."""

from __future__ import annotations

import pytest

from turnstile.adapters.gemini._client import ClientContent
from turnstile.adapters.gemini._loopback import GeminiLiveServer
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import ModelReply, Scenario

from ._loopback_call import LoopbackCall, gemini_loopback, openai_loopback
from ._util import wait_until

ASK = "Ask whether the caller is still there."
REPLY = "Are you still there?"


def greeting() -> Scenario:
    return Scenario(steps=[ModelReply(transcript=REPLY), ModelReply(transcript="Hello.")])


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_openai_a_replys_instructions_go_in_its_response_create(dialect: str) -> None:
    async with OpenAIRealtimeServer(greeting()) as server, \
            LoopbackCall(openai_loopback(server, dialect), 24000) as call:  # fmt: skip
        call.agent.generate_reply(instructions=ASK)
        await wait_until(lambda: call.spoken == [REPLY], timeout=10)
        await call.agent.wait_for_state("listening", timeout=10)
        call.agent.generate_reply()  # the next reply has none: they were this reply's only
        await wait_until(lambda: call.spoken == [REPLY, "Hello."], timeout=10)
        creates = [e for e in server.received[-1] if e.type == "response.create"]
        assert [c.response.instructions if c.response else None for c in creates] == [ASK, None]
        assert call.errors == []


async def test_gemini_a_replys_instructions_go_as_a_user_text_turn() -> None:
    async with GeminiLiveServer(greeting()) as server, LoopbackCall(gemini_loopback(server), 16000) as call:
        call.agent.generate_reply(instructions=ASK)
        await wait_until(lambda: call.spoken == [REPLY], timeout=10)
        sent = [m for m in server.received[0] if isinstance(m, ClientContent)]
        assert sent[-1].turn_complete and sent[-1].turns is not None
        (turn,) = sent[-1].turns
        assert turn.role == "user" and [p.text for p in turn.parts or []] == [ASK]
        assert call.errors == []
